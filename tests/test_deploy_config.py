"""Push to deploy, as configuration: what Railway and GitHub read from this repository agrees.

Lesson: a deployment is described in files next to the code, so it is reviewed, versioned and
tested like the code. `railway.json` holds the start command (uvicorn only) and the pre-deploy
command (`alembic upgrade head`, once per deploy, before the new version takes traffic); the
Procfile carries the same two lines for platforms that read one; `.python-version` (which
Railway's builder reads first) names the Python that `runtime.txt` names and CI tests on; the
GitHub workflow runs `.ci/run`, the same script as the local CI, in a Debian container. Running
the commands against a real database is `tests/postgres/test_deploy.py`.
"""

import re

import yaml

from tests.servers import REPO_ROOT, railway_deploy


def procfile() -> dict[str, str]:
    lines = (REPO_ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def test_the_procfile_carries_the_start_and_pre_deploy_commands_of_railway_json() -> None:
    deploy = railway_deploy()
    assert procfile() == {
        "release": " && ".join(deploy["preDeployCommand"]),
        "web": deploy["startCommand"],
    }


def test_migrations_run_before_the_deploy_and_only_there() -> None:
    deploy = railway_deploy()
    assert deploy["preDeployCommand"] == ["alembic upgrade head"]
    assert "alembic" not in deploy["startCommand"]
    assert deploy["startCommand"].startswith("uvicorn blog.main:app --host 0.0.0.0 --port $PORT ")


def test_railway_waits_for_health_and_restarts_a_crashed_process() -> None:
    deploy = railway_deploy()
    assert deploy["healthcheckPath"] == "/health"
    assert 30 <= deploy["healthcheckTimeout"] <= 300
    assert deploy["restartPolicyType"] == "ON_FAILURE"
    assert deploy["restartPolicyMaxRetries"] >= 1


def test_python_version_names_the_python_runtime_txt_names() -> None:
    runtime = (REPO_ROOT / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+\.\d+", runtime)
    assert (REPO_ROOT / ".python-version").read_text().strip() == runtime.removeprefix("python-")


def test_the_workflow_runs_the_ci_script_in_debian_with_postgres_and_redis() -> None:
    workflow = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "ci.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert triggers == {"push": {"branches": ["main"]}, "pull_request": None}
    [job] = workflow["jobs"].values()
    python = (REPO_ROOT / "runtime.txt").read_text().strip().removeprefix("python-")
    assert job["container"]["image"] == f"python:{python}-slim-bookworm"
    assert job["services"]["postgres"]["image"] == "postgres:15"
    assert job["services"]["redis"]["image"] == "redis:7"
    git, node, checkout, run = job["steps"]
    assert git == {"run": "apt-get update -qq && apt-get install -y -qq git"}
    assert node["uses"].startswith("actions/setup-node@")  # npx, for the OpenAPI linters
    assert re.fullmatch(r"\d+\.\d+\.\d+", node["with"]["node-version"])  # an exact version
    assert checkout["uses"].startswith("actions/checkout@")
    assert run == {"run": "bash .ci/run"}  # one script for both, not two copies of the checks
    assert job["timeout-minutes"] <= 90
