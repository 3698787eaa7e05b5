"""`python -m tests.screenshots`: take the docs site's pictures of Swagger UI again.

Lesson: a screenshot is code's output too, so one command makes them all, with the browser tests'
own Chromium and server (`tests/browser/chromium.py`): Swagger UI's front, the Authorize dialog
filled in as `docs/index.md` says, and the 403 of changing someone else's post. Run it after a
change that shows in Swagger UI; the pictures land in `docs/images/`.
"""

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Page, ViewportSize, sync_playwright

from blog.seed import DEMO_PASSWORD
from tests.browser.chromium import launch, seeded_server
from tests.servers import REPO_ROOT, request

IMAGES = REPO_ROOT / "docs" / "images"
VIEWPORT: ViewportSize = {"width": 1200, "height": 800}


def sign_in(page: Page) -> None:
    page.click("button.authorize", timeout=20_000)
    page.fill("#oauth_username", "ada")
    page.fill("#oauth_password", DEMO_PASSWORD)
    page.locator(".modal-ux").screenshot(path=str(IMAGES / "authorize.png"))
    page.click(".auth-btn-wrapper button.authorize")
    page.wait_for_selector("text=Logout", timeout=10_000)
    page.click("button.btn-done")


def change_someone_elses_post(page: Page, post_id: int) -> None:
    operation = page.locator("#operations-posts-update_post")
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator('tr[data-param-name="post_id"] input').fill(str(post_id))
    operation.locator("textarea.body-param__text").fill('{"title": "Mine now"}')
    operation.locator("button.execute").click()
    response = operation.locator(".live-responses-table .response").first
    response.wait_for(timeout=10_000)
    response.screenshot(path=str(IMAGES / "forbidden.png"))


def take_them(base_url: str) -> None:
    status, posts = request(f"{base_url}/posts?limit=100")
    assert status == 200
    post_id = next(post["id"] for post in posts["items"] if post["author"]["username"] == "grace")
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(f"{base_url}/docs")
        page.wait_for_selector(".opblock", timeout=20_000)
        page.screenshot(path=str(IMAGES / "swagger-ui.png"))
        sign_in(page)
        change_someone_elses_post(page, post_id)
        browser.close()


if __name__ == "__main__":
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder, seeded_server(Path(folder)) as base_url:
        take_them(base_url)
    sys.exit(0)
