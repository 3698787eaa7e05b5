"""`python -m blog seed`: demo data to explore, added once, never in production."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from sqlalchemy import Engine
from sqlmodel import Session, func, select

import blog.__main__ as blog_main
from blog import seed
from blog.comments.models import Comment
from blog.config import settings
from blog.database import make_engine
from blog.posts.models import Post
from blog.users.models import User
from blog.users.passwords import Password, refuse_personal_password
from tests.helpers import register


def counts(session: Session) -> tuple[int, int, int]:
    return tuple(  # type: ignore[return-value]
        session.exec(select(func.count()).select_from(model)).one()
        for model in (User, Post, Comment)
    )


def test_seed_adds_users_posts_and_comments(session: Session) -> None:
    seed.seed(session)
    assert counts(session) == (3, 3, 3)


def test_seed_twice_changes_nothing(session: Session) -> None:
    seed.seed(session)
    seed.seed(session)
    assert counts(session) == (3, 3, 3)


def test_seed_fills_in_what_is_missing(session: Session) -> None:
    seed.seed(session)
    session.delete(session.exec(select(Post).where(Post.title == "Talk is cheap")).one())
    session.commit()
    seed.seed(session)
    assert counts(session) == (3, 3, 3)


def test_demo_users_log_in_with_the_printed_password(client: TestClient, session: Session) -> None:
    seed.seed(session)
    for identifier in ("ada", "grace@example.test"):
        form = {"username": identifier, "password": seed.DEMO_PASSWORD}
        assert client.post("/auth/login", data=form).status_code == 200
    posts = client.get("/posts").json()
    assert posts["total"] == 3
    assert {post["author"]["username"] for post in posts["items"]} == {"ada", "grace", "linus"}


def test_python_m_blog_seed_migrates_seeds_and_says_how_to_log_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(settings, "database_url", f"sqlite:///{tmp_path / 'blog.db'}")
    engine = make_engine(settings.database_url)
    monkeypatch.setattr(seed, "engine", engine)
    blog_main.main(["seed"])
    blog_main.main(["seed"])  # idempotent
    with Session(engine) as session:
        assert counts(session) == (3, 3, 3)
    engine.dispose()
    output = capsys.readouterr().out
    assert "correct horse battery" in output and "Authorize" in output


def test_seed_refuses_to_run_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "environment", "production")
    with pytest.raises(SystemExit, match="refusing"):
        seed.run()


def test_the_demo_password_passes_the_password_rules_for_every_demo_user(
    session: Session,
) -> None:
    TypeAdapter(Password).validate_python(seed.DEMO_PASSWORD)
    seed.seed(session)
    for user in session.exec(select(User)).all():
        refuse_personal_password(
            seed.DEMO_PASSWORD, "password", username=user.username, email=user.email
        )


def test_a_demo_name_registered_before_the_seed_keeps_its_password_and_the_seed_says_so(
    client: TestClient,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ada = register(client, "ada", "ada@example.com", "my own passphrase")
    monkeypatch.setattr(seed, "engine", engine)
    seed.run()
    said = capsys.readouterr().out
    assert "their password is their own: ada." in said
    assert (
        client.post("/auth/login", data={"username": "ada", "password": ada.password}).status_code
        == 200
    )
    seed.run()  # the others have the demo password: only ada is named
    assert "their password is their own: ada." in capsys.readouterr().out
