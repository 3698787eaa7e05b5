"""Comments: read and write them under a post, edit or delete them by id.

Lesson: authorization with more than one owner. Anyone may read; a signed-in user may comment on
any post; only a comment's author may edit it (`own_comment`), but either its author or the author
of the post it is on may delete it (`deletable_comment`, so bloggers can moderate their posts).
Each rule is a dependency, so a route cannot forget it. Lists are oldest first by `id`. A new
comment on someone else's post notifies its author over a WebSocket, from a background task that
runs once the answer has gone out.
"""

from typing import Annotated

from fastapi import (
    APIRouter,
    BackgroundTasks,  # step 18
    Depends,
    Query,  # step 20
    Request,  # step 20
    Response,  # step 20
    status,
)
from sqlmodel import col, select

from blog.comments.models import (
    Comment,
    CommentCreate,
    CommentPage,
    CommentPublic,
    CommentUpdate,
)
from blog.database import (
    MAX_ID,  # step 20
    new_row_times,
)
from blog.deps import CurrentUser, IdPath, SessionDep
from blog.errors import Forbidden, NotFound, error_responses
from blog.hub import hub  # step 18
from blog.notifications import CommentCreatedEvent  # step 18
from blog.pages import has_more, link_to_next  # step 20
from blog.pagination import Page, Pagination, count_up_to_cap
from blog.posts.models import Post
from blog.posts.router import PostInPath
from blog.races import commit_or_gone, delete_or_gone
from blog.rate_limits import count_a_write  # step 16

post_comments_router = APIRouter(prefix="/posts/{post_id}/comments", tags=["comments"])
comments_router = APIRouter(prefix="/comments", tags=["comments"])
AFTER = "only the comments newer than this one (its id): where the last page ended"  # step 20


def comment_or_404(comment_id: IdPath, session: SessionDep) -> Comment:
    comment = session.get(Comment, comment_id)
    if comment is None:
        raise NotFound("Comment not found.")
    return comment


CommentInPath = Annotated[Comment, Depends(comment_or_404)]


def own_comment(user: CurrentUser, comment: CommentInPath) -> Comment:
    """The comment in the path, if the signed-in user wrote it."""
    if comment.author_id != user.id:
        raise Forbidden("Only the comment's author may edit it.")
    return comment


def deletable_comment(user: CurrentUser, comment: CommentInPath, session: SessionDep) -> Comment:
    """The comment in the path, if the signed-in user wrote it or wrote the post it is on.

    The post's row stays locked until the delete commits (`FOR NO KEY UPDATE`, the lock the
    comment count's trigger takes anyway). Deleting a post locks it before its comments, so a
    comment's delete takes the two in that same order, and the two deletes cannot deadlock.
    """
    post_author_id = session.exec(
        select(Post.author_id).where(Post.id == comment.post_id).with_for_update(key_share=True)
    ).first()
    if post_author_id is None:  # the post, and so the comment, was deleted meanwhile
        raise NotFound("Comment not found.")
    if user.id not in (comment.author_id, post_author_id):
        raise Forbidden("Only the comment's author or the post's author may delete it.")
    return comment


OwnedComment = Annotated[Comment, Depends(own_comment)]
DeletableComment = Annotated[Comment, Depends(deletable_comment)]


@post_comments_router.get(
    "",
    response_model=CommentPage,
    responses=error_responses(404, 422),
)
def list_comments(
    post: PostInPath,
    session: SessionDep,
    page: Pagination,
    request: Request,  # step 20
    response: Response,  # step 20
    after: Annotated[int | None, Query(ge=1, le=MAX_ID, description=AFTER)] = None,  # step 20
) -> Page[Comment]:
    """The comments on a post, oldest first."""
    query = select(Comment).where(Comment.post_id == post.id)
    if after is not None:  # step 20
        query = query.where(col(Comment.id) > after)  # step 20
    oldest_first = query.order_by(col(Comment.id))
    comments = session.exec(oldest_first.offset(page.offset).limit(page.limit)).all()
    total = count_up_to_cap(session, query, page, len(comments))
    listed: Page[Comment] = Page(items=comments, total=total, limit=page.limit, offset=page.offset)
    if has_more(listed):  # step 20
        listed.next = link_to_next(request, response, after=comments[-1].id)  # step 20
    return listed


@post_comments_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CommentPublic,
    dependencies=[Depends(count_a_write)],  # step 16
    responses=error_responses(400, 401, 404, 413, 422, 429),
)
def create_comment(
    payload: CommentCreate,
    user: CurrentUser,
    post: PostInPath,
    session: SessionDep,
    background_tasks: BackgroundTasks,  # step 18
) -> Comment:
    """Comment on a post."""
    server_side = {"post_id": post.id, "author_id": user.id, **new_row_times()}
    comment = Comment.model_validate(payload, update=server_side)
    session.add(comment)
    commit_or_gone(session, user, NotFound("Post not found."))
    # The post's author, if it is someone else, hears of it on `/ws/notifications`, after the
    # response has been sent.
    if post.author_id != user.id:  # step 18
        event = CommentCreatedEvent.model_validate(comment).model_dump(mode="json")  # step 18
        background_tasks.add_task(hub.publish, post.author_id, event)  # step 18
    return comment


@comments_router.get(
    "/{comment_id}",
    response_model=CommentPublic,
    responses=error_responses(404, 422),
)
def read_comment(comment: CommentInPath) -> Comment:
    """One comment."""
    return comment


@comments_router.patch(
    "/{comment_id}",
    response_model=CommentPublic,
    responses=error_responses(400, 401, 403, 404, 413, 422),
)
def update_comment(
    payload: CommentUpdate, comment: OwnedComment, user: CurrentUser, session: SessionDep
) -> Comment:
    """Change your comment; `updated_at` moves if it changed."""
    comment.sqlmodel_update(payload.model_dump(exclude_unset=True))
    commit_or_gone(session, user, NotFound("Comment not found."))
    return comment


@comments_router.delete(
    "/{comment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 422),
)
def delete_comment(comment: DeletableComment, user: CurrentUser, session: SessionDep) -> None:
    """Delete a comment you wrote, or one on your post."""
    delete_or_gone(session, user, comment, NotFound("Comment not found."))
