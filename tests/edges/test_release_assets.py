"""A file attached to a GitHub release, read through the API on loopback: the token goes to the API only, and a
listing of the wrong shape is our error, never a crash."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler

import pytest

from kit.loopback import reply, serving
from pipelines.core.errors import Corrupt
from pipelines.edges.release_assets import ReleaseAssets

TOKEN = "ghs_assetsampletoken"


def api(assets: list[object], seen: list[str]):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(f"{self.path} {self.headers.get('Authorization')}")
            if self.path.startswith("/repos/o/r/releases/tags/"):
                reply(
                    self,
                    200,
                    json.dumps({"tag_name": "t", "assets": assets}).encode(),
                    {"Content-Type": "application/json"},
                )
            else:
                reply(self, 200, b"record", {"Content-Type": "application/octet-stream"})

    return Handler


def test_an_asset_on_another_host_is_refused_and_the_token_never_sent_there():
    elsewhere: list[str] = []
    with serving(api([], elsewhere)) as other:
        seen: list[str] = []
        asset = {"name": "staging-record.json", "url": f"{other}/rec", "uploader": {"login": "github-actions[bot]"}}
        with (
            serving(api([asset], seen)) as url,
            ReleaseAssets(url, "o/r", TOKEN) as assets,
            pytest.raises(Corrupt, match="not from the API"),
        ):
            assets.read("t", ["staging-record.json"])
    assert elsewhere == []


def test_an_asset_named_by_anything_but_a_string_is_passed_over():
    seen: list[str] = []
    listing = [
        {"name": ["staging-record.json"], "url": "x", "uploader": {}},
        {"name": None},
        "not an asset",
    ]
    with serving(api(listing, seen)) as url, ReleaseAssets(url, "o/r", TOKEN) as assets:
        assert assets.read("t", ["staging-record.json"]) == {"staging-record.json": None}
