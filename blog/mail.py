"""Email: the welcome message after registration, sent as a background task.

Lesson: work the response does not need to wait for. `register` adds `send_welcome_email` to
FastAPI's `BackgroundTasks`; it runs after the 201 has gone out, in the threadpool (smtplib is
blocking). A failure here must never undo or fail the request, so it is caught and logged.
The backend comes from settings: `console` logs the message (in development only; elsewhere it
logs just the user's id, since logs are kept and addresses are personal data), `smtp` sends it
through any SMTP server (host, port, login, STARTTLS). Logs name users by id, never by address.
A password change, a completed reset and an email change each send a security email to the
account's (old) address, so the owner hears of a change they did not make. The texts are
templates in `blog/emails/`; account recovery (`blog/users/recovery.py`) sends its reset tokens
through `email_to` and `deliver` too.

When to move to a real queue: BackgroundTasks live in the web process, so a restart loses the work
and nothing retries. Once an email *must* arrive, or jobs need retries, schedules or their own
workers, use a queue backed by Redis, which this app already knows: arq (asyncio) or Dramatiq;
Celery if you need its ecosystem.
"""

import logging
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from blog.config import settings

logger = logging.getLogger(__name__)
TEMPLATES = Path(__file__).parent / "emails"


def email_to(to: str, subject: str, template: str, **values: object) -> EmailMessage:
    """An email of `blog/emails/<template>.txt`, its `{fields}` filled in. Its lines stay under
    78 characters, so it goes out as plain text, readable as sent."""
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content((TEMPLATES / f"{template}.txt").read_text().format(**values))
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
    welcome = email_to(to, f"Welcome to blog, {username}!", "welcome", username=username)
    deliver(user_id, welcome, "welcome email")


def send_security_email(user_id: int, to: str, username: str, what: str) -> None:
    """Tell an account's (old) address that `what` happened, and what to do if it was not
    them; it carries no token and no password. Never raise."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    values = {"username": username, "what": what, "when": when}
    notice = email_to(to, f"{what} for your blog account", "account_changed", **values)
    deliver(user_id, notice, "security email")


def deliver(user_id: int, message: EmailMessage, what: str) -> None:
    """Through SMTP, or, with the console backend, into the log: the whole email in
    development, where you read it there; elsewhere logs are kept and shipped, so they name the
    user by id and nothing more."""
    if settings.email_backend == "console" and settings.environment == "development":
        # `shows_tokens`: the log's token redaction (`blog/logs.py`) leaves this line alone, or a
        # password-reset email would arrive with its token blacked out.
        content = f"{message['Subject']}\n{message.get_content()}"
        logger.info("email to %s: %s", message["To"], content, extra={"shows_tokens": True})
    elif settings.email_backend == "console":
        logger.info("email to user %s not shown (console backend outside development)", user_id)
    else:
        try:
            send_with_smtp(message)
        except (OSError, smtplib.SMTPException) as error:  # refused, timed out, rejected, TLS...
            logger.error("%s to user %s not sent: %r", what, user_id, error)
            return
        logger.info("%s sent to user %s", what, user_id)


def warn_when_emails_go_nowhere() -> None:
    """At start-up: in production the console backend sends nothing, so say what that breaks."""
    if settings.environment == "production" and settings.email_backend == "console":
        logger.warning(
            "EMAIL_BACKEND=console in production: emails are only noted in the log, never sent, "
            "so password resets and security emails reach nobody. Set EMAIL_BACKEND=smtp and "
            "the SMTP_* settings."
        )
