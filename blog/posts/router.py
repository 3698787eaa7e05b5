"""Posts: list, read, write, edit and delete (`/posts`), with ownership checked in dependencies.

Lesson: authorization as a chain of dependencies. `post_or_404` loads the post named in the path
or answers 404; `owned_post` builds on it and on `CurrentUser` and answers 403 unless you wrote the
post (`OwnedPost`). Routes then only do their job, and return the table row: FastAPI turns it into
`PostPublic` (`response_model`), author included. Lists are paged, newest first by `id` (ids grow
with time and are never reused), so pages never repeat or skip a post. A write that loses a race
with a delete is a 404, never a 500 (`blog/races.py`).
"""

from typing import Annotated

from fastapi import (
    APIRouter,
    Depends,
    Query,
    Request,  # step 20
    Response,  # step 20
    status,
)
from pydantic import (
    AfterValidator,  # step 20
    Field,  # step 20
    StringConstraints,
)
from sqlmodel import col, or_, select

from blog.database import MAX_ID, new_row_times
from blog.deps import CurrentUser, IdPath, SessionDep
from blog.errors import Forbidden, InvalidToken, NotFound, error_responses
from blog.fields import NO_NUL_CHARACTER
from blog.pages import SEARCHABLE, has_a_trigram, has_more, link_to_next  # step 20
from blog.pagination import Page, Pagination, count_up_to_cap
from blog.posts.models import Post, PostCreate, PostPage, PostPublic, PostUpdate
from blog.races import commit_or_gone, delete_or_gone
from blog.rate_limits import count_a_write  # step 16

router = APIRouter(prefix="/posts", tags=["posts"])
# A search needs 3 characters, after its spaces are trimmed: an index of text finds words by
# their runs of three (PostgreSQL's trigrams), and a shorter one would scan every post.
SearchText = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=200, pattern=NO_NUL_CHARACTER
    ),
    AfterValidator(has_a_trigram),  # step 20
    Field(json_schema_extra=SEARCHABLE),  # step 20
]
SEARCH = "text in the title or body, in any case: 3 to 200 characters"
BEFORE = "only the posts older than this one (its id): where the last page ended"  # step 20


def post_or_404(post_id: IdPath, session: SessionDep) -> Post:
    post = session.get(Post, post_id)
    if post is None:
        raise NotFound("Post not found.")
    return post


PostInPath = Annotated[Post, Depends(post_or_404)]


def owned_post(user: CurrentUser, post: PostInPath) -> Post:
    """The post in the path, if the signed-in user wrote it (401 first, then 404, then 403)."""
    if post.author_id != user.id:
        raise Forbidden("Only the post's author may change it.")
    return post


OwnedPost = Annotated[Post, Depends(owned_post)]


@router.get(
    "",
    response_model=PostPage,
    responses=error_responses(422),
)
def list_posts(
    session: SessionDep,
    page: Pagination,
    request: Request,  # step 20
    response: Response,  # step 20
    author_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    q: Annotated[SearchText | None, Query(description=SEARCH)] = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID, description=BEFORE)] = None,  # step 20
) -> Page[Post]:
    """Posts, newest first; filter by author, or by text in the title or body (any case)."""
    query = select(Post)
    if author_id is not None:
        query = query.where(Post.author_id == author_id)
    if q is not None:  # `%` and `_` are plain characters, not wildcards
        in_title_or_body = or_(
            col(Post.title).icontains(q, autoescape=True),
            col(Post.body).icontains(q, autoescape=True),
        )
        query = query.where(in_title_or_body)
    if before is not None:  # step 20
        query = query.where(col(Post.id) < before)  # step 20
    newest_first = query.order_by(col(Post.id).desc())
    posts = session.exec(newest_first.offset(page.offset).limit(page.limit)).all()
    total = count_up_to_cap(session, query, page, len(posts))
    listed: Page[Post] = Page(items=posts, total=total, limit=page.limit, offset=page.offset)
    if has_more(listed):  # step 20
        listed.next = link_to_next(request, response, before=posts[-1].id)  # step 20
    return listed


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PostPublic,
    dependencies=[Depends(count_a_write)],  # step 16
    responses=error_responses(400, 401, 413, 422, 429),
)
def create_post(payload: PostCreate, user: CurrentUser, session: SessionDep) -> Post:
    """Write a post; you are its author."""
    post = Post.model_validate(payload, update={"author_id": user.id, **new_row_times()})
    session.add(post)
    commit_or_gone(session, user, InvalidToken("The account was deleted."))  # nothing else can go
    return post


@router.get(
    "/{post_id}",
    response_model=PostPublic,
    responses=error_responses(404, 422),
)
def read_post(post: PostInPath) -> Post:
    """One post, with its author and how many comments it has."""
    return post


@router.patch(
    "/{post_id}",
    response_model=PostPublic,
    responses=error_responses(400, 401, 403, 404, 413, 422),
)
def update_post(
    payload: PostUpdate, post: OwnedPost, user: CurrentUser, session: SessionDep
) -> Post:
    """Change the title or body of your post; `updated_at` moves if anything changed."""
    post.sqlmodel_update(payload.model_dump(exclude_unset=True))
    commit_or_gone(session, user, NotFound("Post not found."))
    return post


@router.delete(
    "/{post_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 422),
)
def delete_post(post: OwnedPost, user: CurrentUser, session: SessionDep) -> None:
    """Delete your post; its comments go with it (ON DELETE CASCADE)."""
    delete_or_gone(session, user, post, NotFound("Post not found."))
