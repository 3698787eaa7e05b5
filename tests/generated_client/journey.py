"""Register, log in, write a post, comment on it and meet a 409, with the generated client only.

Run by `tests/test_generated_client.py` in the generator's virtual environment, with the
generated package `blog_client` on `sys.path` and the server's address as the one argument.
"""

import sys

from blog_client import AuthenticatedClient, Client
from blog_client.api.auth import login, register
from blog_client.api.comments import create_comment
from blog_client.api.posts import create_post
from blog_client.models import (
    CommentCreate,
    ErrorResponse,
    LoginForm,
    PostCreate,
    PostPublic,
    Token,
    UserRegister,
)

base_url = sys.argv[1]
anonymous = Client(base_url=base_url)
account = UserRegister(email="ada@example.com", username="ada", password="correct horse battery")
registered = register.sync(client=anonymous, body=account)
assert isinstance(registered, Token), registered
assert registered.token_type == "bearer"  # required: the client reads it as always there

token = login.sync(client=anonymous, body=LoginForm(username="ada", password=account.password))
assert isinstance(token, Token), token
signed_in = AuthenticatedClient(base_url=base_url, token=token.access_token)

post = create_post.sync(client=signed_in, body=PostCreate(title="Hello", body="From a client"))
assert isinstance(post, PostPublic), post
assert post.author.username == "ada" and post.author.bio == ""
comment = create_comment.sync(post.id, client=signed_in, body=CommentCreate(body="Nice"))
assert comment is not None and comment.post_id == post.id

again = register.sync_detailed(client=anonymous, body=account)
assert again.status_code == 409, again
assert isinstance(again.parsed, ErrorResponse) and again.parsed.code == "email_taken"
print("journey: ok")
