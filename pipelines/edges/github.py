"""A thin client of GitHub's REST API: `GitHubApi` (JSON calls with one token) and, on it, the one thing the
pipelines do there, deploy pull requests (find the open one of a branch, create one, update one), always
with PERCOLATE_GIT_PAT (`pat_from_environment`).

Both send through the one HTTP layer (`pipelines.edges.http`), so they retry 429 and 5xx answers and
dropped connections like every other client; a POST whose answer was lost is not sent again (the
deploy-pr step is idempotent: the next run finds the pull request an earlier one opened). The Pulumi
program's fork pull request settings (`infra/forkprs.py`) use `GitHubApi` too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from pipelines.core.errors import Corrupt, InputError, Unauthorized
from pipelines.core.secrets import remember
from pipelines.edges.http import (
    HttpClient,
    Response,
    RetryPolicy,
    Timeouts,
    clean_credential,
    require_secure_url,
    shorten,
    status_error,
)

API_VERSION = "2022-11-28"
POLICY = RetryPolicy(max_time=120.0)
TIMEOUTS = Timeouts(connect=10.0, read=30.0, request=60.0)
MAX_ANSWER_BYTES = 8 << 20  # a page of pull requests or settings is kilobytes; more is not GitHub's API
PAT = "PERCOLATE_GIT_PAT"
# The fix whenever the deploy pull requests' token is missing, refused or short of a right (docs/operations.md).
PAT_FIX = (
    "create a fine-grained token with Contents and Pull requests: read and write on this repository (owned by "
    "someone who does not approve deploy pull requests), store it with `pulumi config set --secret "
    "percolate-platform:percolateGitPat` and `pulumi up --stack prod` (which sets the Actions secret "
    f"{PAT}), then re-run the failed jobs"
)


def token_from_environment() -> str | None:
    """A token that may read the repository (its releases, for `wheels find-rc`): PERCOLATE_GIT_PAT, else
    GITHUB_TOKEN. Deploy pull requests never take this one: they need the PAT (`pat_from_environment`).

    Checked where it enters: one trailing newline is dropped, other control characters are refused
    naming the variable (never the value).
    """
    for name in ("PERCOLATE_GIT_PAT", "GITHUB_TOKEN"):
        if token := token_named(name):
            return token
    return None


def token_named(name: str) -> str | None:
    """The token in environment variable `name`, checked and remembered as `token_from_environment` does; None when
    it is unset or empty (preflight reads GITHUB_TOKEN and PERCOLATE_GIT_PAT each for its own calls)."""
    value = os.environ.get(name)
    if not value:
        return None
    token = clean_credential(value, name) or None
    remember(token)
    return token


def pat_from_environment(*, required: bool = True) -> str | None:
    """PERCOLATE_GIT_PAT, the token of deploy pull requests; never GITHUB_TOKEN in its place.

    A pull request opened with the workflow's own GITHUB_TOKEN starts no workflow: its required check
    never reports, so it can never merge. A missing (or blank) PAT is therefore refused where `required`,
    naming the fix, and None otherwise (a dry run pushes and opens nothing).
    """
    token = token_named(PAT)
    if token and token.strip():
        return token
    if not required:
        return None
    raise Unauthorized(
        f"{PAT} is not set: the deploy pull request needs it, and is never opened with GITHUB_TOKEN "
        "(a pull request opened with the workflow's own token starts no workflow, so its required check "
        "never reports and it can never merge)",
        hint=PAT_FIX,
    )


def _pull(value: Any, what: str) -> dict[str, Any]:
    """A pull request object as the API documents it: an object with an integer `number`."""
    if not isinstance(value, dict) or not isinstance(value.get("number"), int) or isinstance(value["number"], bool):
        raise Corrupt(
            f"{what} answered with something other than a pull request (an object with a number)",
            hint="check GITHUB_API_URL: the answer is not GitHub's REST API",
        )
    return value


def _message(response: Response) -> str:
    """GitHub's `message` from an error document, else the start of the body (`shorten` redacts the token)."""
    try:
        message = response.json().get("message")
    except (ValueError, AttributeError):
        message = None
    if not isinstance(message, str) or not message:
        message = response.body.decode("utf-8", errors="replace") or response.reason or "no details"
    return shorten(message)


class GitHubApi:
    """GitHub's REST API at `api_url` with one token: JSON in and out, through the one HTTP layer."""

    def __init__(self, api_url: str, token: str, *, http: HttpClient | None = None, rights_hint: str) -> None:
        require_secure_url(api_url, "GitHub API URL", "https://api.github.com")
        remember(token)  # however the token came (a variable, a caller), an echo of it is never printed
        self.api_url = api_url.rstrip("/")
        self._rights_hint = rights_hint
        self._headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {token}",
            "X-GitHub-Api-Version": API_VERSION,
        }
        self._token = token
        self._http = http or HttpClient(policy=POLICY, timeouts=TIMEOUTS, describe=self._words)

    def _words(self, response: Response) -> str:
        return _message(response)

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, path: str, *, params: Mapping[str, str] | None = None, payload: Any = None) -> Any:
        """The JSON answer of `method` on `path` (from the API's root), None for an empty one; errors by cause."""
        headers = dict(self._headers)
        body = None
        if payload is not None:
            body = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        response = self._http.request(
            method,
            self.api_url + path,
            headers=headers,
            body=body,
            params=params,
            max_body=MAX_ANSWER_BYTES,
            what=f"GitHub API {method} {path}",
            hint="run it again later; GitHub or the network kept failing",
        )
        if response.status >= 400:
            raise status_error(
                response.status,
                f"GitHub API {method} {path} answered HTTP {response.status}: {self._words(response)}",
                self._rights_hint,
            )
        if not response.body:
            return None
        try:
            return response.json()
        except ValueError:
            raise Corrupt(f"GitHub API {method} {path} answered with something other than JSON") from None


class GitHub:
    """Pull requests of one repository (`owner/name`)."""

    def __init__(self, api_url: str, repository: str, token: str, *, http: HttpClient | None = None) -> None:
        if repository.count("/") != 1:
            raise InputError(f"repository {repository!r} is not OWNER/NAME", hint="set GITHUB_REPOSITORY=owner/name")
        self.repository = repository
        self.owner = repository.split("/")[0]
        self._api = GitHubApi(api_url, token, http=http, rights_hint=PAT_FIX)

    @classmethod
    def from_environment(cls, token: str) -> GitHub:
        """The repository GITHUB_REPOSITORY at GITHUB_API_URL (as Actions sets both), with `token`."""
        repository = os.environ.get("GITHUB_REPOSITORY")
        if not repository:
            raise InputError("no GitHub repository in the environment", hint="set GITHUB_REPOSITORY=owner/name")
        return cls(os.environ.get("GITHUB_API_URL") or "https://api.github.com", repository, token)

    def close(self) -> None:
        self._api.close()

    def __enter__(self) -> GitHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, *, params: Mapping[str, str] | None = None, payload: Any = None) -> Any:
        return self._api.call(method, f"/repos/{self.repository}{path}", params=params, payload=payload)

    def _what(self, method: str, path: str) -> str:
        return f"GitHub API {method} /repos/{self.repository}{path}"

    def open_pull(self, branch: str, base: str) -> dict[str, Any] | None:
        pulls = self._call("GET", "/pulls", params={"head": f"{self.owner}:{branch}", "base": base, "state": "open"})
        if not isinstance(pulls, list):
            raise Corrupt(
                f"{self._what('GET', '/pulls')} answered with something other than a list of pull requests",
                hint="check GITHUB_API_URL: the answer is not GitHub's REST API",
            )
        return _pull(pulls[0], self._what("GET", "/pulls")) if pulls else None

    def create_pull(self, *, branch: str, base: str, title: str, body: str) -> dict[str, Any]:
        payload = {"title": title, "head": branch, "base": base, "body": body}
        return _pull(self._call("POST", "/pulls", payload=payload), self._what("POST", "/pulls"))

    def update_pull(self, number: int, *, title: str, body: str) -> dict[str, Any]:
        path = f"/pulls/{number}"
        return _pull(self._call("PATCH", path, payload={"title": title, "body": body}), self._what("PATCH", path))
