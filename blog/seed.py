"""Demo data: `python -m blog seed` fills the database with users, posts and comments to explore.

Lesson: a seed script works through the same models and rules as the API (hashed passwords,
timestamps, foreign keys), and it is idempotent: running it twice changes nothing the second time,
because it looks for each row before adding it. It refuses to run in production, where accounts
with published passwords would be a gift to attackers.
"""

from dataclasses import dataclass

from sqlmodel import Session, col, select

from blog.comments.models import Comment
from blog.config import settings
from blog.database import engine, new_row_times
from blog.posts.models import Post
from blog.security import hash_password, verify_password
from blog.users.models import User

DEMO_PASSWORD = "correct horse battery"  # printed on purpose: these accounts are for exploring


@dataclass(frozen=True)
class DemoUser:
    username: str
    bio: str

    @property
    def email(self) -> str:
        return f"{self.username}@example.test"


DEMO_USERS = (
    DemoUser("ada", "Wrote the first program, for an engine that was never finished."),
    DemoUser("grace", "Taught computers English and found the first actual bug."),
    DemoUser("linus", "Just a hobby, won't be big and professional."),
)

# (author, title, body, [(commenter, comment), ...])
DEMO_POSTS: tuple[tuple[str, str, str, list[tuple[str, str]]], ...] = (
    (
        "ada",
        "Notes on the Analytical Engine",
        "The engine weaves algebraic patterns just as the loom weaves flowers and leaves.",
        [("grace", "Still the best description of programming."), ("linus", "Patches welcome.")],
    ),
    (
        "grace",
        "It's easier to ask forgiveness",
        "...than it is to get permission. Also: always write the test first.",
        [("ada", "Agreed, with tests as the permission slip.")],
    ),
    (
        "linus",
        "Talk is cheap",
        "Show me the code. Then show me the tests.",
        [],
    ),
)


def get_or_create_user(session: Session, demo: DemoUser) -> User:
    user = session.exec(select(User).where(User.username_key == demo.username)).first()
    if user is None:
        user = User(
            email=demo.email,
            username=demo.username,
            bio=demo.bio,
            password_hash=hash_password(DEMO_PASSWORD),
        )
        session.add(user)
        session.flush()
    return user


def get_or_create_post(session: Session, author: User, title: str, body: str) -> Post:
    post = session.exec(
        select(Post).where(Post.author_id == author.id, Post.title == title)
    ).first()
    if post is None:
        assert author.id is not None  # flushed: the database gave it one
        post = Post.model_validate(
            {"title": title, "body": body, "author_id": author.id, **new_row_times()}
        )
        session.add(post)
        session.flush()
    return post


def add_comment_once(session: Session, post: Post, author: User, body: str) -> None:
    exists = session.exec(
        select(Comment).where(
            Comment.post_id == post.id, Comment.author_id == author.id, Comment.body == body
        )
    ).first()
    if exists is None:
        comment = Comment.model_validate(
            {"body": body, "post_id": post.id, "author_id": author.id, **new_row_times()}
        )
        session.add(comment)


def seed(session: Session) -> None:
    """Add whatever demo rows are missing, in one transaction."""
    users = {demo.username: get_or_create_user(session, demo) for demo in DEMO_USERS}
    for author, title, body, comments in DEMO_POSTS:
        post = get_or_create_post(session, users[author], title, body)
        for commenter, comment in comments:
            add_comment_once(session, post, users[commenter], comment)
    session.commit()


def registered_before_the_seed(session: Session) -> list[str]:
    """Demo usernames someone registered themselves: the seed keeps them, password and all."""
    names = [demo.username for demo in DEMO_USERS]
    found = session.exec(select(User).where(col(User.username_key).in_(names))).all()
    return [
        user.username for user in found if not verify_password(DEMO_PASSWORD, user.password_hash)
    ]


def no_users_yet() -> bool:
    with Session(engine) as session:
        return session.exec(select(User.id).limit(1)).first() is None


def run() -> None:
    if settings.environment == "production":
        raise SystemExit("seed: refusing to add demo accounts with known passwords in production")
    with Session(engine) as session:
        seed(session)
        kept = registered_before_the_seed(session)
    names = ", ".join(demo.username for demo in DEMO_USERS)
    print(f"blog: demo data ready. Users {names}, each with the password {DEMO_PASSWORD!r}.")
    if kept:
        print(f"Registered before the seed, so their password is their own: {', '.join(kept)}.")
    print("In /docs, press Authorize and sign in as ada (or ada@example.test) with that password.")
