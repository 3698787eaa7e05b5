"""Comments: read and write them under a post, edit or delete them by id.

Lesson: authorization with more than one owner. Anyone may read; a signed-in user may comment on
any post; only a comment's author may edit it (`own_comment`), but either its author or the author
of the post it is on may delete it (`deletable_comment`, so bloggers can moderate their posts).
Each rule is a dependency, so a route cannot forget it. Lists are oldest first with `id` as the
tie-breaker, two SQL statements per page whatever its size: the post (404 if there is none), then
the comments with their authors and the total, counted as in `GET /posts`.
"""

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Response, status
from sqlalchemy.orm import joinedload
from sqlmodel import Session, col, select

from blog.comments.models import (
    Comment,
    CommentCreate,
    CommentCreatedEvent,
    CommentPublic,
    CommentUpdate,
)
from blog.database import apply_changes, new_row_times
from blog.deps import (
    CurrentUser,
    IdPath,
    Page,
    Pagination,
    SessionDep,
    commit_or_gone,
    delete_or_gone,
    page_total,
    total_up_to_cap,
)
from blog.errors import Forbidden, NotFound, error_responses
from blog.posts.models import Post
from blog.posts.router import post_not_found, post_or_404
from blog.realtime import hub
from blog.users.models import UserPublic

post_comments_router = APIRouter(
    prefix="/posts/{post_id}/comments", tags=["comments"], responses=error_responses(503)
)
comments_router = APIRouter(prefix="/comments", tags=["comments"], responses=error_responses(503))

PostInPath = Annotated[Post, Depends(post_or_404)]


def comment_not_found() -> NotFound:
    return NotFound("Comment not found.")


def read_public_comment(session: Session, comment: Comment) -> Comment:
    """The comment with its author loaded, ready to become `CommentPublic`, in one query; 404
    if another request has deleted it meanwhile."""
    query = select(Comment).options(joinedload(Comment.author)).where(Comment.id == comment.id)  # type: ignore[arg-type]
    found = session.exec(query).first()
    if found is None:
        raise comment_not_found()
    return found


def comment_or_404(comment_id: IdPath, session: SessionDep) -> Comment:
    comment = session.get(Comment, comment_id)
    if comment is None:
        raise comment_not_found()
    return comment


def own_comment(user: CurrentUser, comment: Annotated[Comment, Depends(comment_or_404)]) -> Comment:
    """The comment in the path, if the signed-in user wrote it."""
    if comment.author_id != user.id:
        raise Forbidden("Only the comment's author may edit it.")
    return comment


def deletable_comment(
    user: CurrentUser, comment: Annotated[Comment, Depends(comment_or_404)], session: SessionDep
) -> Comment:
    """The comment in the path, if the signed-in user wrote it or wrote the post it is on."""
    if comment.author_id != user.id:
        post_author_id = session.exec(
            select(Post.author_id).where(Post.id == comment.post_id)
        ).first()
        if post_author_id is None:  # the post, and so the comment, was deleted meanwhile
            raise comment_not_found()
        if post_author_id != user.id:
            raise Forbidden("Only the comment's author or the post's author may delete it.")
    return comment


@post_comments_router.get(
    "",
    summary="List a post's comments, oldest first",
    response_model=Page[CommentPublic],
    responses=error_responses(404, 422),
)
def list_comments(post: PostInPath, session: SessionDep, page: Pagination) -> Page[CommentPublic]:
    """The comments on a post, oldest first."""
    on_this_post = Comment.post_id == post.id
    matching = select(Comment.id).where(on_this_post)
    query = (
        select(Comment, total_up_to_cap(matching).label("total"))
        .options(joinedload(Comment.author))  # type: ignore[arg-type]
        .where(on_this_post)
        .order_by(col(Comment.created_at), col(Comment.id))
        .offset(page.offset)
        .limit(page.limit)
    )
    rows = session.exec(query).all()
    total = page_total(session, rows, matching)
    return Page[CommentPublic].of(
        [CommentPublic.model_validate(comment) for comment, _ in rows], total, page
    )


@post_comments_router.post(
    "",
    summary="Comment on a post",
    status_code=status.HTTP_201_CREATED,
    response_model=CommentPublic,
    responses=error_responses(400, 401, 404, 413, 422),
)
def create_comment(
    payload: CommentCreate,
    user: CurrentUser,
    post: PostInPath,
    session: SessionDep,
    background_tasks: BackgroundTasks,
) -> CommentPublic:
    """Comment on a post. The post's author, if it is someone else, is notified on
    `/ws/notifications` (after the response has been sent)."""
    server_side = {"post_id": post.id, "author_id": user.id, **new_row_times()}
    comment = Comment.model_validate(payload, update=server_side)
    session.add(comment)
    commit_or_gone(session, user, post_not_found())
    assert comment.id is not None  # for the event below; the insert gave it one
    if post.author_id != user.id:
        event = CommentCreatedEvent(
            post_id=comment.post_id,
            comment_id=comment.id,
            commenter=UserPublic.model_validate(user),
            created_at=comment.created_at,
        )
        background_tasks.add_task(hub.publish, post.author_id, event.model_dump(mode="json"))
    # Answered from what was just written: the author is you.
    return CommentPublic.model_validate(comment, update={"author": user})


@comments_router.get(
    "/{comment_id}",
    summary="Read a comment",
    response_model=CommentPublic,
    responses=error_responses(404, 422),
)
def read_comment(
    comment: Annotated[Comment, Depends(comment_or_404)], session: SessionDep
) -> Comment:
    """One comment."""
    return read_public_comment(session, comment)


@comments_router.patch(
    "/{comment_id}",
    summary="Edit your comment",
    response_model=CommentPublic,
    responses=error_responses(400, 401, 403, 404, 413, 422),
)
def update_comment(
    payload: CommentUpdate,
    comment: Annotated[Comment, Depends(own_comment)],
    user: CurrentUser,
    session: SessionDep,
) -> CommentPublic:
    """Change your comment; `updated_at` moves if you sent the body."""
    apply_changes(comment, payload.model_dump(exclude_unset=True))
    commit_or_gone(session, user, comment_not_found())
    # Answered from the row just written: `own_comment` made sure its author is you.
    return CommentPublic.model_validate(comment, update={"author": user})


@comments_router.delete(
    "/{comment_id}",
    summary="Delete a comment (yours, or one on your post)",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 422),
)
def delete_comment(
    comment: Annotated[Comment, Depends(deletable_comment)],
    user: CurrentUser,
    session: SessionDep,
) -> Response:
    """Delete a comment you wrote, or one on your post."""
    delete_or_gone(session, user, comment, comment_not_found())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
