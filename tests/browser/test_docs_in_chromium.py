"""Swagger UI and ReDoc in a real browser (headless Chromium), with no request leaving the machine.

What a student does first: open /docs, press Authorize, sign in as a demo user, try
`GET /users/me`. This test does exactly that against a real server (`python -m blog`, seeded with
`python -m blog seed`), records every request the browser makes, and fails if any of them goes
anywhere but the app. (ReDoc's bundle asks for its makers' logo from a CDN; the docs pages'
Content-Security-Policy makes the browser block that before it is sent, which is allowed here.)
The docs site's pictures come from the same browser and server: `python -m tests.screenshots`.
"""

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from blog.seed import DEMO_PASSWORD
from tests.browser.chromium import launch, seeded_server
from tests.servers import REPO_ROOT, request

pytestmark = pytest.mark.slow
TAGS = ["auth", "users", "posts", "comments", "health"]


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A seeded server on a fresh SQLite file, as a student would start it."""
    with seeded_server(tmp_path_factory.mktemp("docs")) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


class RequestsElsewhere:
    """Every request a page starts for anything but the app, and what became of it."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.outcomes: dict[str, str | None] = {}
        own = (base_url, "data:", "blob:")
        page.on("request", lambda r: None if r.url.startswith(own) else self._started(r.url))
        page.on("requestfailed", lambda r: self._ended(r.url, r.failure or "failed"))
        page.on("requestfinished", lambda r: self._ended(r.url, "sent"))

    def _started(self, url: str) -> None:
        self.outcomes[url] = None

    def _ended(self, url: str, outcome: str) -> None:
        if url in self.outcomes:
            self.outcomes[url] = outcome

    def sent(self) -> list[str]:
        """The ones that left the browser: all but those its security policy blocked."""
        for _ in range(50):  # outcomes arrive asynchronously; give them up to 5 s
            if all(outcome is not None for outcome in self.outcomes.values()):
                break
            self.page.wait_for_timeout(100)
        return [url for url, outcome in self.outcomes.items() if outcome != "csp"]


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 2000})
    yield context.new_page()
    context.close()


def test_swagger_ui_shows_every_operation_offline(page: Page, base_url: str) -> None:
    elsewhere = RequestsElsewhere(page, base_url)
    page.goto(f"{base_url}/docs")
    page.wait_for_selector(".opblock", timeout=20_000)
    tags = [tag.get_attribute("data-tag") for tag in page.query_selector_all(".opblock-tag")]
    assert tags == TAGS
    paths = request(f"{base_url}/openapi.json")[1]["paths"]
    operations = sum(len(methods) for methods in paths.values())
    assert len(page.query_selector_all(".opblock")) == operations == 22
    assert elsewhere.sent() == []


def test_authorize_then_read_me_in_swagger_ui(page: Page, base_url: str) -> None:
    elsewhere = RequestsElsewhere(page, base_url)
    page.goto(f"{base_url}/docs")
    page.click("button.authorize", timeout=20_000)
    page.fill("#oauth_username", "ada")
    page.fill("#oauth_password", DEMO_PASSWORD)
    page.click(".auth-btn-wrapper button.authorize")
    page.wait_for_selector("text=Logout", timeout=10_000)
    page.click("button.btn-done")

    operation = "#operations-users-read_me"
    page.click(f"{operation} .opblock-summary")
    page.click(f"{operation} button.try-out__btn")
    page.click(f"{operation} button.execute")
    result = page.wait_for_selector(f"{operation} .live-responses-table tbody", timeout=10_000)
    assert result is not None
    status = result.query_selector(".response-col_status")
    assert status is not None and status.inner_text().strip() == "200"
    assert '"username": "ada"' in result.inner_text()
    assert elsewhere.sent() == []


def test_redoc_renders_offline(page: Page, base_url: str) -> None:
    elsewhere = RequestsElsewhere(page, base_url)
    page.goto(f"{base_url}/redoc")
    heading = page.get_by_role("heading", name="Request Password Reset")
    heading.wait_for(timeout=20_000)
    assert page.get_by_role("heading", name="blog").first.is_visible()
    assert elsewhere.sent() == []


def test_the_echo_from_the_realtime_page_runs_in_the_browser(page: Page, base_url: str) -> None:
    """docs/realtime.md's first JavaScript block, pasted into the console of /docs."""
    text = (REPO_ROOT / "docs" / "realtime.md").read_text()
    [snippet, *_] = re.findall(r"```javascript\n(.*?)```", text, re.S)
    page.goto(f"{base_url}/docs")
    port = base_url.rsplit(":", 1)[1]
    with page.expect_console_message(lambda message: message.text.startswith("Echo")) as logged:
        # As a function body: pasted into the console, the last line's value is just shown.
        page.evaluate(f"() => {{ {snippet.replace('127.0.0.1:8000', f'127.0.0.1:{port}')} }}")
    assert logged.value.text == "Echo: hi"
