"""The docs site and the README say what the code does, and stay a front page and a site.

Lesson: documentation is tested like code where it can be. The README stays short and links only
to pages that exist; every page of `docs/` is in `mkdocs.yml`'s navigation (the strict build in CI
checks links and anchors); the generated parts (`tests/docs_pages.py`) match the code; every
command shown runs the virtual environment's programs by their path, so it works as pasted; the
Python client on the real-time page talks to a real server; and each `# step N` mark ends its
line, as the lessons say.
"""

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.docs_pages import (
    API_PAGE,
    DIAGRAM_END,
    DIAGRAM_START,
    LAYOUT_PAGE,
    MIGRATIONS_PAGE,
    OPERATIONS_END,
    OPERATIONS_START,
    REVISIONS_END,
    REVISIONS_START,
    generated_part,
    module_diagram,
    operation_table,
    revision_list,
)
from tests.servers import REPO_ROOT, free_port, migrate, running, wait_until_healthy

README = REPO_ROOT / "README.md"
DOCS = REPO_ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
README_MAX_CHARACTERS = 12_000
COMMENT = re.compile(r"<!--.*?-->", re.S)
# A lesson page's reading list quotes each module's docstring, where `python -m blog` names the
# command rather than showing a line to type.
READING_LIST_ITEM = re.compile(r"^1\. `[\w/.]+\.py`: .*$", re.M)
FENCED = re.compile(r"```(\w*)\n(.*?)```", re.S)
INLINE = re.compile(r"`([^`\n]+)`")
# A program of the virtual environment named bare (it runs only once the environment is
# activated, which no page asks for), or the system's Python running a module of the project.
BARE_PROGRAM = re.compile(r"(python|pip|alembic|pytest|mkdocs|uvicorn)(\s|$)|python3 -m (?!venv\b)")


def test_the_readme_is_a_front_page() -> None:
    text = README.read_text()
    assert len(text) <= README_MAX_CHARACTERS
    assert "<!-- test command -->" in text  # where .ci/run reads the test command
    assert "git clone" in text
    for link in re.findall(r"\]\((docs/[^)#]+)", text):
        assert (REPO_ROOT / link).is_file(), link


def test_every_page_is_in_the_navigation_and_the_site_has_what_a_student_looks_at() -> None:
    navigation = re.findall(
        r"^\s*- (?:[\w ]+: )?(\S+\.md)$", (REPO_ROOT / "mkdocs.yml").read_text(), re.M
    )
    assert sorted(navigation) == sorted(str(page.relative_to(DOCS)) for page in PAGES)
    assert len(PAGES) >= 12
    diagrams = sum(page.read_text().count("```mermaid") for page in PAGES)
    assert diagrams >= 3
    for page in PAGES:  # the site fetches mermaid's script: a reader offline sees text
        if "```mermaid" in page.read_text():
            assert "drawn by mermaid's script, which the site fetches" in page.read_text(), page
    for image in re.findall(r"\]\((images/[^)]+)\)", (DOCS / "index.md").read_text()):
        assert (DOCS / image).is_file(), image


def test_the_generated_parts_match_the_code(client: TestClient) -> None:
    """Run `.venv/bin/python -m tests.docs_pages` when this fails."""
    layout = LAYOUT_PAGE.read_text()
    assert generated_part(layout, DIAGRAM_START, DIAGRAM_END) == module_diagram()
    migrations = MIGRATIONS_PAGE.read_text()
    assert generated_part(migrations, REVISIONS_START, REVISIONS_END) == revision_list()
    api = API_PAGE.read_text()
    operations = operation_table(client.get("/openapi.json").json())
    assert generated_part(api, OPERATIONS_START, OPERATIONS_END) == operations


def commands(text: str) -> Iterator[str]:
    """Every shell command shown: lines of bash blocks, and inline code outside any block."""
    text = READING_LIST_ITEM.sub("", COMMENT.sub("", text))
    for language, body in FENCED.findall(text):
        if language == "bash":
            yield from body.splitlines()
    for inline in INLINE.findall(FENCED.sub("", text)):
        yield from re.split(r"&&|;|\|", inline)


def test_every_command_shown_names_the_virtual_environments_programs() -> None:
    # What Railway runs itself, in its own container, is shown as railway.json has it.
    railway = (REPO_ROOT / "railway.json").read_text() + (REPO_ROOT / "Procfile").read_text()
    for path in [README, *PAGES]:
        for command in commands(path.read_text()):
            command = re.sub(r"^\s*(\w+=\S+\s+)*", "", command).strip()  # VARIABLE=value first
            if BARE_PROGRAM.match(command) and command not in railway:
                pytest.fail(f"{path.relative_to(REPO_ROOT)}: `{command}` (use .venv/bin/...)")


def test_every_step_mark_ends_its_line() -> None:
    """`# step N` is what the lessons tell a student to look for, at the end of a line."""
    for path in [*REPO_ROOT.glob("blog/**/*.py"), *REPO_ROOT.glob("alembic/*.py")]:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if re.search(r"#.*\bstep \d+\b", line):
                assert re.search(r"# step \d+$", line), f"{path}:{number}: {line}"


@pytest.mark.slow  # starts a server
def test_the_python_client_on_the_realtime_page_hears_its_echo(tmp_path: Path) -> None:
    text = (DOCS / "realtime.md").read_text()
    [client_code] = re.findall(r"```python\n(.*?)```", text, re.S)
    database = f"sqlite:///{tmp_path / 'blog.db'}"
    migrate(database)
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "blog.main:app", "--port", str(port)]
    environment = {"DATABASE_URL": database, "ENVIRONMENT": "test", "PATH": "/usr/bin:/bin"}
    with running(command, {**environment, "PYTHONPATH": str(REPO_ROOT)}, tmp_path) as server:
        wait_until_healthy(f"http://127.0.0.1:{port}", server)
        script = client_code.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=True
        )
    assert result.stdout == "Echo: hi\n"
