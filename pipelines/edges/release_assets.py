"""Files attached to a GitHub release, read through GitHub's REST API (the one HTTP layer).

`ReleaseAssets.read(tag, names)` finds the release of `tag` once, then each asset called one of
`names`, and downloads it (`Accept: application/octet-stream`; GitHub answers with a redirect to its
storage, which the HTTP layer follows without the token). Reading the release once means a file and
its signature come from the same listing. A release or asset that does not exist is None, not an
error: the caller decides what a missing file means. Who uploaded it comes along (a workflow's
GITHUB_TOKEN uploads as `github-actions[bot]`, a person as themselves), as evidence beside a
signature, never instead of one: every workflow run of the repository uploads as that same bot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pipelines.core.errors import Corrupt, NotFound
from pipelines.edges.github import POLICY, TIMEOUTS, GitHubApi
from pipelines.edges.http import HttpClient, message_url, status_error
from pipelines.edges.http_rules import origin

MAX_ASSET_BYTES = 1 << 20  # a record is a few kilobytes
READ_HINT = "check that the token may read the repository's releases (contents: read)"


@dataclass(frozen=True)
class ReleaseAsset:
    tag: str
    name: str
    content: bytes
    uploader: str | None  # the uploader's login, e.g. github-actions[bot]
    uploader_type: str | None  # "Bot" or "User"


class ReleaseAssets:
    """Read files attached to the releases of one repository (`owner/name`)."""

    def __init__(self, api_url: str, repository: str, token: str, *, http: HttpClient | None = None) -> None:
        self.repository = repository
        self._http = http or HttpClient(policy=POLICY, timeouts=TIMEOUTS)
        self._api = GitHubApi(api_url, token, http=self._http, rights_hint=READ_HINT)
        self._token = token

    def close(self) -> None:
        self._api.close()

    def __enter__(self) -> ReleaseAssets:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def read(self, tag: str, names: Sequence[str]) -> dict[str, ReleaseAsset | None]:
        """Each asset of `names` on the release of `tag`, None for each one missing (all None without a release)."""
        try:
            release = self._api.call("GET", f"/repos/{self.repository}/releases/tags/{quote(tag, safe='')}")
        except NotFound:
            return dict.fromkeys(names)
        where = f"the GitHub release {tag} of {self.repository}"
        assets = release.get("assets") if isinstance(release, dict) else None
        if not isinstance(assets, list):
            raise Corrupt(f"{where} came without a list of assets", hint="check GITHUB_API_URL")
        # Asset names are unique within a release (GitHub refuses a second upload of a name).
        listed = {
            asset["name"]: asset for asset in assets if isinstance(asset, dict) and isinstance(asset.get("name"), str)
        }
        return {name: self._download(tag, name, listed[name], where) if name in listed else None for name in names}

    def _download(self, tag: str, name: str, asset: dict[str, Any], where: str) -> ReleaseAsset:
        url, uploader = asset.get("url"), asset.get("uploader") or {}
        if not isinstance(url, str) or not isinstance(uploader, dict):
            raise Corrupt(f"the asset {name} of {where} has no download URL", hint="check GITHUB_API_URL")
        if origin(url) != origin(self._api.api_url):  # the token goes with the request: only to the API itself
            raise Corrupt(
                f"the asset {name} of {where} is to be downloaded from {message_url(url)}, not from the API",
                hint="check GITHUB_API_URL: GitHub's asset URLs are on the API's own host",
            )
        response = self._http.request(
            "GET",
            url,
            headers={"Accept": "application/octet-stream", "Authorization": f"Bearer {self._token}"},
            max_body=MAX_ASSET_BYTES,
            what=f"download of {name} from {where}",
        )
        if response.status >= 400:
            raise status_error(response.status, f"the download of {name} from {where} answered {response.status}")
        login, kind = uploader.get("login"), uploader.get("type")
        return ReleaseAsset(
            tag,
            name,
            response.body,
            login if isinstance(login, str) else None,
            kind if isinstance(kind, str) else None,
        )
