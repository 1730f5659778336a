"""deploy-pr's token: PERCOLATE_GIT_PAT or nothing, and a refused one named as such, with the fix.

A deploy pull request opened with GITHUB_TOKEN starts no workflow: its required check never reports and
it can never merge. So a missing PAT stops deploy-pr before anything is fetched, pushed or opened, even
where GITHUB_TOKEN is set (as in every Actions job). And when git or GitHub refuses the PAT (invalid,
expired, revoked, or read-only), the error is `unauthorized` and says how to replace it, not "git fetch
failed, see git's message".

The remote is real: the release job's clone fetches from and pushes to a bare repository served over
HTTPS by git's own smart-HTTP backend, behind a gate that answers as GitHub does (401 to a token it does
not know, 403 to a push with a read-only token); the pull requests go to the loopback stand-in of
GitHub's pulls API. Each refusal has its control: the same run with a token the server accepts
succeeds, and a server that fails for another reason is `unavailable`, not `unauthorized`.
"""

from __future__ import annotations

import json
import subprocess
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from kit.loopback import reply
from kit.loopback import serving as loopback
from tests.deploy.git_https import READ, WRITE, serving

ROTATE = "pulumi config set --secret percolate-platform:percolateGitPat"
GOOD = "test-pat"  # what the pulls API stand-in accepts too
EXPIRED, READ_ONLY = "github_pat_expired", "github_pat_readonly"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def https_origin(origin, tmp_path: Path):
    """The bare origin served over HTTPS (tokens GOOD: write, READ_ONLY: read), the clone's remote pointed at it."""
    with serving(origin.bare.parent, {GOOD: WRITE, READ_ONLY: READ}, tmp_path) as server:
        git(origin.clone, "remote", "set-url", "origin", server.remote(origin.bare.name))
        yield server


def deploy_pr(cli, origin, github, tmp_path, make_pin, promotion_record, **env: str):
    pin = make_pin("percolate", "0.2.0")
    record = tmp_path / "promote.json"
    record.write_text(json.dumps(promotion_record(pin)))
    environment = {**origin.env(github), **env}
    return cli("deploy-pr", "percolate", "0.2.0", "--promotion", str(record), "--json", cwd=origin.clone,
               env=environment)  # fmt: skip


def pushed(origin) -> bool:
    return "deploy/percolate-v0.2.0" in git(origin.bare, "branch", "--list")


# ---- a missing PAT: never GITHUB_TOKEN in its place ---------------------------------------------


def test_without_the_pat_nothing_is_fetched_pushed_or_opened_even_with_github_token(
    cli, origin, github, tmp_path, make_pin, promotion_record
):
    result = deploy_pr(
        cli, origin, github, tmp_path, make_pin, promotion_record, PERCOLATE_GIT_PAT="", GITHUB_TOKEN="ghs_run_token"
    )
    assert result.code == 1, result.stderr
    error = result.json()
    assert error["cause"] == "unauthorized"
    assert "PERCOLATE_GIT_PAT is not set" in error["error"] and "never opened with GITHUB_TOKEN" in error["error"]
    assert ROTATE in error["hint"] and "pulumi up --stack prod" in error["hint"]
    assert not pushed(origin)
    assert github.requests == []


@pytest.mark.parametrize("value", [" ", "\n"])
def test_a_blank_pat_is_a_missing_one(cli, origin, github, tmp_path, make_pin, promotion_record, value):
    result = deploy_pr(cli, origin, github, tmp_path, make_pin, promotion_record, PERCOLATE_GIT_PAT=value)
    assert result.code == 1 and result.json()["cause"] == "unauthorized"
    assert github.requests == []


def test_control_the_same_run_with_the_pat_opens_the_pull_request(
    cli, origin, github, tmp_path, make_pin, promotion_record
):
    result = deploy_pr(cli, origin, github, tmp_path, make_pin, promotion_record, GITHUB_TOKEN="ghs_run_token")
    assert result.code == 0, result.stderr
    assert pushed(origin)
    ((_, _, headers, _),) = [r for r in github.requests if r[0] == "POST"]
    assert headers["Authorization"] == "Bearer test-pat"  # the PAT, not the run's token


def test_a_dry_run_needs_no_pat(cli, origin, github, tmp_path, make_pin, promotion_record):
    pin = make_pin("percolate", "0.2.0")
    record = tmp_path / "promote.json"
    record.write_text(json.dumps(promotion_record(pin)))
    result = cli("deploy-pr", "percolate", "0.2.0", "--promotion", str(record), "--dry-run", cwd=origin.clone,
                 env={**origin.env(github), "PERCOLATE_GIT_PAT": ""})  # fmt: skip
    assert result.code == 0, result.stderr
    assert "would push deploy/percolate-v0.2.0" in result.stdout


# ---- a refused PAT: git over HTTPS --------------------------------------------------------------


def test_an_invalid_or_expired_pat_is_unauthorized_with_the_rotation(
    cli, origin, github, https_origin, tmp_path, make_pin, promotion_record
):
    result = deploy_pr(
        cli, origin, github, tmp_path, make_pin, promotion_record,
        PERCOLATE_GIT_PAT=EXPIRED, GIT_SSL_CAINFO=str(https_origin.ca),
    )  # fmt: skip
    assert result.code == 1, result.stderr
    error = result.json()
    assert error["cause"] == "unauthorized"
    assert error["error"].startswith("git fetch of origin was refused: the credentials are invalid, expired")
    assert "could not read Username" in error["error"]  # git's own words, after the server's 401
    assert ROTATE in error["hint"]
    assert EXPIRED not in result.stdout + result.stderr
    assert [status for _, _, status in https_origin.requests] == [401]
    assert not pushed(origin) and github.requests == []


def test_a_read_only_pat_is_refused_at_the_push(
    cli, origin, github, https_origin, tmp_path, make_pin, promotion_record
):
    result = deploy_pr(
        cli, origin, github, tmp_path, make_pin, promotion_record,
        PERCOLATE_GIT_PAT=READ_ONLY, GIT_SSL_CAINFO=str(https_origin.ca),
    )  # fmt: skip
    assert result.code == 1, result.stderr
    error = result.json()
    assert error["cause"] == "unauthorized"
    assert error["error"].startswith("git push of origin was refused")
    assert "Permission to labs/percolate.git denied" in error["error"]
    assert ROTATE in error["hint"]
    assert not pushed(origin) and github.requests == []


def test_control_a_valid_pat_goes_through_the_same_server(
    cli, origin, github, https_origin, tmp_path, make_pin, promotion_record
):
    result = deploy_pr(
        cli, origin, github, tmp_path, make_pin, promotion_record,
        PERCOLATE_GIT_PAT=GOOD, GIT_SSL_CAINFO=str(https_origin.ca),
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert result.json()["pull_request"]["action"] == "opened"
    assert pushed(origin)
    assert {status for _, _, status in https_origin.requests} == {200}


def test_a_pat_the_api_refuses_names_the_rotation_too(cli, origin, github, tmp_path, make_pin, promotion_record):
    # git reads and writes the bare origin as a file (no token needed); GitHub's API answers 401.
    result = deploy_pr(cli, origin, github, tmp_path, make_pin, promotion_record, PERCOLATE_GIT_PAT=EXPIRED)
    assert result.code == 1
    error = result.json()
    assert error["cause"] == "unauthorized" and "answered HTTP 401: Bad credentials" in error["error"]
    assert ROTATE in error["hint"]


def test_control_a_failing_server_is_unavailable_not_unauthorized(
    cli, origin, github, tmp_path, make_pin, promotion_record
):
    class Broken(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            reply(self, 502, b"bad gateway\n", {"Content-Type": "text/plain"})

    with loopback(Broken) as url:
        git(origin.clone, "remote", "set-url", "origin", f"{url}/origin.git")
        result = deploy_pr(cli, origin, github, tmp_path, make_pin, promotion_record)
    assert result.code == 1
    error = result.json()
    assert error["cause"] == "unavailable", error
    assert "returned error: 502" in error["error"]


# ---- a credential helper's password refused: git says "Authentication failed" -----------------


def test_credentials_a_helper_gave_and_the_server_refused_are_unauthorized(origin, tmp_path, monkeypatch):
    """The other way git reports a refused token (a credential helper, as `gh auth setup-git` installs one)."""
    from pipelines.core.errors import Unauthorized
    from pipelines.edges.git import Git

    with serving(origin.bare.parent, {GOOD: WRITE}, tmp_path) as server:
        git(origin.clone, "remote", "set-url", "origin", server.remote(origin.bare.name))
        monkeypatch.setenv("GIT_SSL_CAINFO", str(server.ca))
        helper = "!f() { echo username=x-access-token; echo password=%s; }; f"
        git(origin.clone, "config", "credential.helper", helper % EXPIRED)
        with pytest.raises(Unauthorized, match="Authentication failed for"):
            Git(origin.clone).fetch("origin", "+refs/heads/main:refs/remotes/origin/main")
        git(origin.clone, "config", "credential.helper", helper % GOOD)  # control: the same fetch, a valid token
        Git(origin.clone).fetch("origin", "+refs/heads/main:refs/remotes/origin/main")
