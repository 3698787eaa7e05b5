"""Email: the welcome message after registration and the password-reset token, as background tasks.

Lesson: work the response does not need to wait for. `register` adds `send_welcome_email` to
FastAPI's `BackgroundTasks`; it runs after the 201 has gone out, in the threadpool (smtplib is
blocking). A failure here must never undo or fail the request, so it is caught and logged.
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


def email_to(to: str, subject: str, body: str) -> EmailMessage:
    # Lines stay under 78 characters, so the body goes out as plain text, readable as sent.
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message


def welcome_message(to: str, username: str) -> EmailMessage:
    return email_to(
        to,
        f"Welcome to blog, {username}!",
        f"Hello {username},\n\n"
        "Your account is ready. Sign in with your email or username and start writing.\n\n"
        "-- blog\n",
    )


def password_reset_message(to: str, username: str, token: str) -> EmailMessage:
    minutes = settings.password_reset_minutes
    return email_to(
        to,
        "Reset your blog password",
        f"Hello {username},\n\n"
        "Someone (we hope you) asked to reset the password of your blog account.\n"
        f"This token works once, for {minutes} minutes:\n\n"
        f"token={token}\n\n"
        "To choose a new password, send the token and your new password to\n"
        "POST /auth/password-reset/confirm. In the API's /docs page: open that\n"
        'operation, press "Try it out", fill in both, and press "Execute".\n'
        "Every session you have open ends then; sign in with the new password.\n\n"
        "If you did not ask for this, ignore this email: your password stays.\n\n"
        "-- blog\n",
    )


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
    deliver(user_id, welcome_message(to, username), "welcome email")


def send_password_reset_email(user_id: int, to: str, username: str, token: str) -> None:
    """Send (or, with the console backend, log) a password-reset token; never raise."""
    deliver(user_id, password_reset_message(to, username, token), "password reset email")


def deliver(user_id: int, message: EmailMessage, what: str) -> None:
    if settings.email_backend == "console":
        show_on_console(user_id, message)
        return
    try:
        send_with_smtp(message)
    except (OSError, smtplib.SMTPException) as error:  # refused, timed out, rejected, TLS...
        logger.error("%s to user %s not sent: %r", what, user_id, error)
        return
    logger.info("%s sent to user %s", what, user_id)


def show_on_console(user_id: int, message: EmailMessage) -> None:
    """The console backend: in development, the whole email in the log, so you can read it.
    Anywhere else logs are kept and shipped, so they name the user by id and nothing more."""
    if settings.environment == "development":
        # `shows_tokens`: the log's token redaction (`blog/logs.py`) leaves this line alone, or a
        # password-reset email would arrive with its token blacked out.
        logger.info(
            "email to %s: %s\n%s",
            message["To"],
            message["Subject"],
            message.get_content(),
            extra={"shows_tokens": True},
        )
    else:
        logger.info("email to user %s not shown (console backend outside development)", user_id)
