"""What preflight reads of a repository's GitHub settings: environments, secret names, team ids, folders.

Each function is one documented read of GitHub's REST API through `GitHubApi` (the one HTTP layer, its
retries and deadline) and checks the answer's shape; errors are raised by cause (401/403 Unauthorized,
404 NotFound, the rest as the HTTP layer says). Secrets are listed by name only: GitHub never returns
a secret's value. Nothing here judges what it read; pipelines.plan.preflight_rules does.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from pipelines.core.errors import Corrupt, NotFound
from pipelines.edges.github import GitHubApi

PAGE_SIZE = 100  # the most GitHub serves per page of these listings
MAX_PAGES = 20  # 2,000 names: far more environments or secrets than a repository holds
_NOT_GITHUB = "check GITHUB_API_URL: the answer is not GitHub's REST API"


def _segment(text: str) -> str:
    return quote(text, safe="")


def _names(api: GitHubApi, path: str, field: str) -> frozenset[str]:
    """Every `name` of a paged listing answered as `{"total_count": N, field: [{"name": …}, …]}`."""
    names: set[str] = set()
    for page in range(1, MAX_PAGES + 1):
        answer = api.call("GET", path, params={"per_page": str(PAGE_SIZE), "page": str(page)})
        items = answer.get(field) if isinstance(answer, dict) else None
        total = answer.get("total_count") if isinstance(answer, dict) else None
        if not isinstance(items, list) or not isinstance(total, int) or isinstance(total, bool):
            raise Corrupt(f"GitHub API GET {path} answered without total_count and a list of {field}", hint=_NOT_GITHUB)
        for item in items:
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str):
                raise Corrupt(f"GitHub API GET {path} listed one of its {field} without a name", hint=_NOT_GITHUB)
            names.add(name)
        if not items or len(names) >= total:
            break
    return frozenset(names)


def environments(api: GitHubApi, repository: str) -> frozenset[str]:
    """The deployment environments of `repository` (OWNER/NAME)."""
    return _names(api, f"/repos/{repository}/environments", "environments")


def environment_secrets(api: GitHubApi, repository: str, environment: str) -> frozenset[str]:
    """The names of the secrets of one environment."""
    return _names(api, f"/repos/{repository}/environments/{_segment(environment)}/secrets", "secrets")


def repository_secrets(api: GitHubApi, repository: str) -> frozenset[str]:
    """The names of the Actions secrets every job of `repository` may read: its own and the organization's it is
    given (infra/secrets.py puts them in either place)."""
    own = _names(api, f"/repos/{repository}/actions/secrets", "secrets")
    return own | _names(api, f"/repos/{repository}/actions/organization-secrets", "secrets")


def team_id(api: GitHubApi, organization: str, slug: str) -> int | None:
    """The numeric id of team `slug` in `organization`; None when the organization has no such team."""
    path = f"/orgs/{_segment(organization)}/teams/{_segment(slug)}"
    try:
        answer = api.call("GET", path)
    except NotFound:
        return None
    found = answer.get("id") if isinstance(answer, dict) else None
    if not isinstance(found, int) or isinstance(found, bool):
        raise Corrupt(f"GitHub API GET {path} answered without a team id", hint=_NOT_GITHUB)
    return found


def repository(api: GitHubApi, repository: str) -> dict[str, Any]:
    """The repository object (NotFound when it does not exist or the token may not see it)."""
    path = f"/repos/{repository}"
    answer = api.call("GET", path)
    if not isinstance(answer, dict) or not isinstance(answer.get("full_name"), str):
        raise Corrupt(f"GitHub API GET {path} answered with something other than a repository", hint=_NOT_GITHUB)
    return answer


def folder(api: GitHubApi, repository: str, path: str, ref: str) -> tuple[str, ...] | None:
    """The names in folder `path` of `repository` at `ref`; None when nothing is there, () for a file there."""
    where = f"/repos/{repository}/contents/{'/'.join(map(_segment, path.split('/')))}"
    try:
        answer = api.call("GET", where, params={"ref": ref})
    except NotFound:
        return None
    if isinstance(answer, dict) and isinstance(answer.get("type"), str):
        return ()  # a file (or a link) where a folder belongs
    if not isinstance(answer, list) or not all(isinstance(e, dict) and isinstance(e.get("name"), str) for e in answer):
        raise Corrupt(f"GitHub API GET {where} answered with something other than a folder listing", hint=_NOT_GITHUB)
    return tuple(entry["name"] for entry in answer)
