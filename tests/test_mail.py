"""Welcome emails: sent in the background, through a real SMTP server, and never a reason for a
registration to fail."""

import logging
import ssl
from collections.abc import Iterator

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from fastapi.testclient import TestClient
from pydantic import SecretStr

from blog import mail
from blog.config import settings
from blog.main import create_app
from tests.helpers import PASSWORD, Inbox, send_mail_through, smtp_inbox
from tests.helpers import register as register_account
from tests.servers import free_port


@pytest.fixture
def use_smtp(monkeypatch: pytest.MonkeyPatch) -> int:
    """Settings that send email through an SMTP server on a free local port; returns the port."""
    port = free_port()
    send_mail_through(monkeypatch, port)
    return port


@pytest.fixture
def inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    with smtp_inbox(monkeypatch) as received:
        yield received


def accept_blog_login(
    server: object, session: Session, envelope: Envelope, mechanism: str, data: object
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        b"blog",
        b"smtp-secret",
    )
    return AuthResult(success=ok)


def register(client: TestClient) -> int:
    body = {"email": "ada@example.com", "username": "ada", "password": PASSWORD}
    return client.post("/auth/register", json=body).status_code


def test_console_backend_logs_the_welcome_email_in_development(
    client: TestClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "environment", "development")
    with caplog.at_level(logging.INFO, logger="blog.mail"):
        assert register(client) == 201
    assert "email to ada@example.com: Welcome to blog, ada!" in caplog.text


@pytest.mark.parametrize("environment", ["test", "production"])
def test_console_backend_names_the_user_by_id_only_outside_development(
    environment: str,
    client: TestClient,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "environment", environment)
    with caplog.at_level(logging.INFO, logger="blog.mail"):
        ada = register_account(client, "ada")
    assert f"email to user {ada.id} not shown (console backend outside development)" in caplog.text
    assert "ada@example.com" not in caplog.text
    assert "Welcome to blog" not in caplog.text


def test_smtp_backend_delivers_the_welcome_email(client: TestClient, inbox: Inbox) -> None:
    assert register(client) == 201
    [(envelope, message)] = inbox.messages
    assert envelope.rcpt_tos == ["ada@example.com"]
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Welcome to blog, ada!"
    assert message["From"] == settings.smtp_from
    assert "Hello ada" in message.get_payload()


def test_smtp_with_starttls_and_login(
    client: TestClient,
    use_smtp: int,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    monkeypatch.setattr(mail, "tls_context", lambda: client_context)
    monkeypatch.setattr(settings, "smtp_starttls", True)
    monkeypatch.setattr(settings, "smtp_username", "blog")
    monkeypatch.setattr(settings, "smtp_password", SecretStr("smtp-secret"))
    handler = Inbox()
    server = Controller(
        handler,
        hostname="127.0.0.1",
        port=use_smtp,
        tls_context=server_context,
        require_starttls=True,
        authenticator=accept_blog_login,
        auth_required=True,
    )
    server.start()
    try:
        with caplog.at_level(logging.INFO, logger="blog.mail"):
            assert register(client) == 201
    finally:
        server.stop()
    [(_, message)] = handler.messages
    assert message["Subject"] == "Welcome to blog, ada!"
    assert "smtp-secret" not in caplog.text


def test_an_unreachable_smtp_server_does_not_fail_registration(
    client: TestClient, use_smtp: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="blog.mail"):
        ada = register_account(client, "ada")  # nothing listens on the port
    assert f"welcome email to user {ada.id} not sent" in caplog.text
    assert "ada" not in caplog.text  # logs name users by id: no email, no username
    assert (
        client.post("/auth/login", data={"username": "ada", "password": PASSWORD}).status_code
        == 200
    )


def test_a_refusing_smtp_server_does_not_fail_registration(
    client: TestClient, use_smtp: int, caplog: pytest.LogCaptureFixture
) -> None:
    server = Controller(Inbox(refuse=True), hostname="127.0.0.1", port=use_smtp)
    server.start()
    try:
        with caplog.at_level(logging.ERROR, logger="blog.mail"):
            assert register(client) == 201
    finally:
        server.stop()
    assert "550" in caplog.text


def test_a_failed_registration_sends_no_email(client: TestClient, inbox: Inbox) -> None:
    assert register(client) == 201
    assert register(client) == 409
    assert len(inbox.messages) == 1


@pytest.mark.parametrize(
    ("environment", "backend", "warned"),
    [
        ("production", "console", True),
        ("production", "smtp", False),
        ("development", "console", False),
    ],
)
def test_production_says_at_start_up_when_emails_would_go_nowhere(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    environment: str,
    backend: str,
    warned: bool,
) -> None:
    monkeypatch.setattr(settings, "environment", environment)
    monkeypatch.setattr(settings, "email_backend", backend)
    with caplog.at_level(logging.WARNING, logger="blog.mail"):
        mail.warn_when_emails_go_nowhere()
    warnings = [record.getMessage() for record in caplog.records if record.name == "blog.mail"]
    assert bool(warnings) == warned
    if warned:
        [warning] = warnings
        assert "EMAIL_BACKEND" in warning and "password resets" in warning


def test_the_app_gives_that_warning_when_it_starts(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(settings, "environment", "production")
    with caplog.at_level(logging.WARNING, logger="blog.mail"), TestClient(create_app()):
        pass
    assert any("EMAIL_BACKEND=console" in record.getMessage() for record in caplog.records)


def security_emails(inbox: Inbox) -> list[tuple[list[str], str, str]]:
    """(recipients, subject, text) of every email after the welcome one."""
    return [
        (envelope.rcpt_tos, str(message["Subject"]), str(message.get_payload()))
        for envelope, message in inbox.messages
        if not str(message["Subject"]).startswith("Welcome")
    ]


def test_a_password_change_tells_the_account_by_email(client: TestClient, inbox: Inbox) -> None:
    ada = register_account(client, "ada")
    new_password = "an entirely new passphrase"
    body = {"current_password": PASSWORD, "new_password": new_password}
    assert client.post("/users/me/password", headers=ada.headers, json=body).status_code == 204
    [(to, subject, text)] = security_emails(inbox)
    assert to == ["ada@example.com"]
    assert subject == "Your password was changed for your blog account"
    assert "If it was not you" in text and "POST /auth/password-reset" in text
    assert new_password not in text and PASSWORD not in text
    assert ada.headers["Authorization"].split()[1] not in text


def test_an_email_change_tells_the_old_address(client: TestClient, inbox: Inbox) -> None:
    ada = register_account(client, "ada")
    body = {"email": "new-ada@example.com", "current_password": PASSWORD}
    assert client.patch("/users/me", headers=ada.headers, json=body).status_code == 200
    [(to, subject, text)] = security_emails(inbox)
    assert to == ["ada@example.com"]  # the old address: the new one may be an attacker's
    assert subject == "Your email address was changed for your blog account"
    assert "new-ada@example.com" not in text and PASSWORD not in text


def test_nothing_is_sent_when_nothing_that_matters_changes(
    client: TestClient, inbox: Inbox
) -> None:
    ada = register_account(client, "ada")
    assert client.patch("/users/me", headers=ada.headers, json={"bio": "Hi"}).status_code == 200
    wrong = {"current_password": "not the password", "new_password": "an entirely new one"}
    assert client.post("/users/me/password", headers=ada.headers, json=wrong).status_code == 400
    assert security_emails(inbox) == []
