"""Fork pull request workflow settings: a Pulumi dynamic provider over GitHub's REST endpoints.

pulumi-github has no resource for them. A public repository always runs workflows of
fork pull requests (without secrets, with a read-only token); the strictest setting is
`approval_policy: all_external_contributors` on
`/repos/{owner}/{repo}/actions/permissions/fork-pr-contributor-approval`. A private
repository can turn them off on
`/repos/{owner}/{repo}/actions/permissions/fork-pr-workflows-private-repos`. Reads
report drift; delete restores GitHub's defaults. The token comes from GITHUB_TOKEN
at call time and is never stored in the state.
"""

from __future__ import annotations

import os
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

from pipelines.edges.retry import RetryPolicy

GITHUB_API = "https://api.github.com"
# How long one settings call keeps trying when GitHub fails or rate-limits.
RETRY_POLICY = RetryPolicy(max_time=120.0)

# Settings of a public repository (GitHub's default policy is first_time_contributors).
APPROVAL_POLICY = "all_external_contributors"
DEFAULT_APPROVAL_POLICY = "first_time_contributors"
# Settings of a private repository: fork pull requests run no workflows at all.
PRIVATE_SETTINGS = {
    "run_workflows_from_fork_pull_requests": False,
    "send_write_tokens_to_workflows": False,
    "send_secrets_and_variables": False,
    "require_approval_for_fork_pr_workflows": True,
}
# What a private repository starts with; restored on delete.
PRIVATE_DEFAULTS = {**PRIVATE_SETTINGS, "require_approval_for_fork_pr_workflows": False}
IDENTITY = ("api_url", "owner", "repository", "private")


class GitHubApiError(Exception):
    """GitHub answered with an error; the message carries its status and explanation."""


class GitHubRest:
    """The thin edge: GET and PUT of JSON on GitHub's REST API, through the pipelines' one GitHub client."""

    def __init__(self, api_url: str, token: str | None) -> None:
        if not token:
            raise GitHubApiError(
                "GITHUB_TOKEN is not set: the fork pull request settings need a token that may administer "
                "the repository"
            )
        self.api_url, self._token = api_url, token

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One call; a PipelineError from the HTTP layer becomes the provider's own error, with its hint."""
        # Imported here: the provider runs in Pulumi's provider process, which loads it by reference.
        from pipelines.core.errors import PipelineError
        from pipelines.edges.github import GitHubApi
        from pipelines.edges.http import HttpClient

        hint = "the token needs administration: write on the repository"
        try:
            api = GitHubApi(self.api_url, self._token, http=HttpClient(policy=RETRY_POLICY), rights_hint=hint)
            try:
                return api.call(method, path, payload=body)
            finally:
                api.close()
        except PipelineError as error:
            raise GitHubApiError(str(error)) from None

    def get(self, path: str) -> dict[str, Any]:
        answer = self._request("GET", path)
        return answer if isinstance(answer, dict) else {}

    def put(self, path: str, body: dict[str, Any]) -> None:
        self._request("PUT", path, body)


def _path(props: dict[str, Any]) -> str:
    base = f"/repos/{props['owner']}/{props['repository']}/actions/permissions"
    return f"{base}/fork-pr-workflows-private-repos" if props["private"] else f"{base}/fork-pr-contributor-approval"


def desired(props: dict[str, Any]) -> dict[str, Any]:
    """The settings body the props ask for."""
    if props["private"]:
        return {key: bool(props[key]) for key in PRIVATE_SETTINGS}
    return {"approval_policy": props["approval_policy"]}


class ForkPullRequestProvider(ResourceProvider):
    """Create and update PUT the settings; read GETs them (drift); delete PUTs GitHub's defaults back."""

    def _client(self, props: dict[str, Any]) -> GitHubRest:
        return GitHubRest(props.get("api_url") or GITHUB_API, os.environ.get("GITHUB_TOKEN"))

    def _apply(self, props: dict[str, Any]) -> dict[str, Any]:
        client = self._client(props)
        client.put(_path(props), desired(props))
        return {**props, **self._current(client, props)}

    def _current(self, client: GitHubRest, props: dict[str, Any]) -> dict[str, Any]:
        answer = client.get(_path(props))
        keys = PRIVATE_SETTINGS if props["private"] else ("approval_policy",)
        return {key: answer.get(key) for key in keys}

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"{props['owner']}/{props['repository']}", self._apply(props))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        current = self._current(self._client(props), props)
        return ReadResult(id_, {**props, **current})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [key for key in IDENTITY if olds.get(key) != news.get(key)]
        changed = bool(replaces) or desired(olds) != desired(news)
        return DiffResult(changes=changed, replaces=replaces, delete_before_replace=True)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._apply(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        body = PRIVATE_DEFAULTS if props["private"] else {"approval_policy": DEFAULT_APPROVAL_POLICY}
        self._client(props).put(_path(props), body)


class ForkPullRequestSettings(Resource, module="github", name="ForkPullRequestSettings"):
    """The repository's fork pull request workflow settings, as strict as its visibility allows."""

    def __init__(
        self,
        name: str,
        owner: str,
        repository: pulumi.Input[str],
        private: bool,
        api_url: str = GITHUB_API,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {"api_url": api_url, "owner": owner, "repository": repository, "private": private}
        props.update(PRIVATE_SETTINGS if private else {"approval_policy": APPROVAL_POLICY})
        super().__init__(ForkPullRequestProvider(), name, props, opts)
