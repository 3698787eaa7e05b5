"""Email: the welcome message sent after registration, as a background task.

Lesson: work the response does not need to wait for. `register` adds `send_welcome_email` to
FastAPI's `BackgroundTasks`; it runs after the 201 has gone out, in the threadpool (smtplib is
blocking). A failure here must never undo or fail the registration, so it is caught and logged.
The backend comes from settings: `console` logs the message (in development only; elsewhere it
logs just the user's id, since logs are kept and addresses are personal data), `smtp` sends it
through any SMTP server (host, port, login, STARTTLS). Logs name users by id, never by address.

When to move to a real queue: BackgroundTasks live in the web process, so a restart loses the work
and nothing retries. Once an email *must* arrive, or jobs need retries, schedules or their own
workers, use a queue backed by Redis, which this app already knows: arq (asyncio) or Dramatiq;
Celery if you need its ecosystem.
"""

import logging
import smtplib
import ssl
from email.message import EmailMessage

from blog.config import settings

logger = logging.getLogger(__name__)


def welcome_message(to: str, username: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = f"Welcome to blog, {username}!"
    message.set_content(
        f"Hello {username},\n\n"
        "Your account is ready. Sign in with your email or username and start writing.\n\n"
        "-- blog\n"
    )
    return message


def tls_context() -> ssl.SSLContext:
    """The certificates STARTTLS trusts: the system's (tests swap in their own)."""
    return ssl.create_default_context()


def send_with_smtp(message: EmailMessage) -> None:
    with smtplib.SMTP(
        settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout
    ) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=tls_context())
        if settings.smtp_username and settings.smtp_password:
            smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        smtp.send_message(message)


def send_welcome_email(user_id: int, to: str, username: str) -> None:
    """Send (or, with the console backend, log) the welcome email; never raise."""
    message = welcome_message(to, username)
    if settings.email_backend == "console":
        show_on_console(user_id, message)
        return
    try:
        send_with_smtp(message)
    except (OSError, smtplib.SMTPException) as error:  # refused, timed out, rejected, TLS...
        logger.error("welcome email to user %s not sent: %r", user_id, error)
        return
    logger.info("welcome email sent to user %s", user_id)


def show_on_console(user_id: int, message: EmailMessage) -> None:
    """The console backend: in development, the whole email in the log, so you can read it.
    Anywhere else logs are kept and shipped, so they name the user by id and nothing more."""
    if settings.environment == "development":
        logger.info("email to %s: %s\n%s", message["To"], message["Subject"], message.get_content())
    else:
        logger.info("email to user %s not shown (console backend outside development)", user_id)
