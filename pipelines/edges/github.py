"""A thin client of GitHub's REST API for the one thing the pipelines do there: deploy pull requests.

Kept to three calls (find the open pull request of a branch, create one, update one),
with the documented request and response shapes; everything else stays in git.
"""

from __future__ import annotations

import os
from typing import Any

from pipelines.core.errors import CheckFailed, InputError
from pipelines.edges.urls import require_secure_url

API_VERSION = "2022-11-28"
TIMEOUT_SECONDS = 30


def token_from_environment() -> str | None:
    """PERCOLATE_GIT_PAT first: pull requests opened with GITHUB_TOKEN start no workflow runs."""
    return os.environ.get("PERCOLATE_GIT_PAT") or os.environ.get("GITHUB_TOKEN") or None


class GitHub:
    """Pull requests of one repository (`owner/name`) through the REST API at `api_url`."""

    def __init__(self, api_url: str, repository: str, token: str) -> None:
        import requests

        require_secure_url(api_url, "GitHub API URL", "https://api.github.com")
        if repository.count("/") != 1:
            raise InputError(f"repository {repository!r} is not OWNER/NAME", hint="set GITHUB_REPOSITORY=owner/name")
        self.api_url = api_url.rstrip("/")
        self.repository = repository
        self.owner = repository.split("/")[0]
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {token}",
                "X-GitHub-Api-Version": API_VERSION,
            }
        )

    @classmethod
    def from_environment(cls) -> GitHub:
        token = token_from_environment()
        repository = os.environ.get("GITHUB_REPOSITORY")
        if not token or not repository:
            raise InputError(
                "no GitHub repository or token in the environment",
                hint="set GITHUB_REPOSITORY=owner/name and PERCOLATE_GIT_PAT (or GITHUB_TOKEN)",
            )
        return cls(os.environ.get("GITHUB_API_URL") or "https://api.github.com", repository, token)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        import requests

        url = f"{self.api_url}/repos/{self.repository}{path}"
        try:
            response = self.session.request(method, url, timeout=TIMEOUT_SECONDS, **kwargs)
        except requests.RequestException as error:
            raise CheckFailed(
                f"GitHub API {method} {path} failed: {error}", hint="re-run; the PR step is idempotent"
            ) from None
        if response.status_code >= 400:
            try:
                message = response.json().get("message", "")
            except ValueError:
                message = response.text[:200]
            raise CheckFailed(
                f"GitHub API {method} {path} answered {response.status_code}: {message}",
                hint="check that the token may open pull requests on the repository (contents and pull-requests: write)",
            )
        return response.json()

    def open_pull(self, branch: str, base: str) -> dict[str, Any] | None:
        pulls = self._call("GET", "/pulls", params={"head": f"{self.owner}:{branch}", "base": base, "state": "open"})
        return pulls[0] if pulls else None

    def create_pull(self, *, branch: str, base: str, title: str, body: str) -> dict[str, Any]:
        return self._call("POST", "/pulls", json={"title": title, "head": branch, "base": base, "body": body})

    def update_pull(self, number: int, *, title: str, body: str) -> dict[str, Any]:
        return self._call("PATCH", f"/pulls/{number}", json={"title": title, "body": body})
