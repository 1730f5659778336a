"""Fixtures of the deployment stage: pins, a git origin with a clone, and a local GitHub pulls API."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from kit.loopback import reply, serving
from pipelines.core.catalog import get_project
from pipelines.deploy.pins import ImagePin

DATA = Path(__file__).parent / "data"
REPO_ROOT = Path(__file__).resolve().parents[2]
GOLDEN = DATA / "Pulumi.prod.golden.yaml"


def digest_of(*parts: str) -> str:
    return "sha256:" + hashlib.sha256("/".join(parts).encode()).hexdigest()


def _make_pin(project: str, version: str, build: int = 130, blocked: tuple[str, ...] = ()) -> ImagePin:
    """A valid pin of `project` at `version`, with digests derived from both."""
    catalog = get_project(project)
    return ImagePin(
        project=project,
        repository=catalog.image_repository(),
        version=version,
        digest=digest_of(project, version),
        platforms=tuple((arch, digest_of(project, version, arch)) for arch in catalog.platforms),
        source=f"2025.11.01.0900-build.{build}-v{version}-def5678",
        blocked=blocked,
    )


def _promotion_record(pin: ImagePin) -> dict[str, Any]:
    """The JSON `promote TAG --json` prints, reduced to what the write-back reads."""
    return {
        "project": pin.project,
        "repository": pin.repository,
        "version": pin.version,
        "source": pin.source,
        "platforms": dict(pin.platforms),
        "index_digest": pin.digest,
        "dry_run": False,
    }


@pytest.fixture(name="make_pin")
def make_pin_fixture():
    return _make_pin


@pytest.fixture(name="promotion_record")
def promotion_record_fixture():
    return _promotion_record


@pytest.fixture
def data_dir() -> Path:
    return DATA


@dataclass
class FakeGitHub:
    """GitHub's pulls endpoints as documented: list (filtered by head/base/state), create, update."""

    url: str
    pulls: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)


@pytest.fixture
def github():
    state = FakeGitHub(url="")

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: Any) -> None:
            reply(self, status, json.dumps(body).encode(), {"Content-Type": "application/json"})

        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length", 0))
            return json.loads(self.rfile.read(length)) if length else None

        def _record(self, body: Any) -> None:
            state.requests.append((self.command, self.path, dict(self.headers), body))

        def do_GET(self) -> None:
            self._record(None)
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            owner = parts.path.split("/")[2]
            found = [
                p
                for p in state.pulls
                if f"{owner}:{p['head']['ref']}" == query.get("head")
                and p["base"]["ref"] == query.get("base")
                and p["state"] == query.get("state", "open")
            ]
            self._send(200, found)

        def do_POST(self) -> None:
            body = self._body()
            self._record(body)
            if self.headers.get("Authorization") != "Bearer test-pat":
                self._send(401, {"message": "Bad credentials"})
                return
            number = len(state.pulls) + 1
            pull = {
                "number": number,
                "state": "open",
                "title": body["title"],
                "body": body["body"],
                "head": {"ref": body["head"]},
                "base": {"ref": body["base"]},
                "html_url": f"https://github.example/labs/percolate/pull/{number}",
            }
            state.pulls.append(pull)
            self._send(201, pull)

        def do_PATCH(self) -> None:
            body = self._body()
            self._record(body)
            number = int(self.path.rsplit("/", 1)[-1])
            pull = state.pulls[number - 1]
            pull.update(title=body["title"], body=body["body"])
            self._send(200, pull)

    with serving(Handler) as state.url:
        yield state


@dataclass
class Origin:
    """A bare repository playing GitHub's side, and the release job's clone of it."""

    bare: Path
    clone: Path

    def env(self, github: FakeGitHub) -> dict[str, str]:
        return {"GITHUB_API_URL": github.url, "GITHUB_REPOSITORY": "labs/percolate", "PERCOLATE_GIT_PAT": "test-pat"}


@pytest.fixture
def origin(monorepo, tmp_path: Path) -> Origin:
    """The monorepo (with the golden stack file) pushed to a bare origin, and a fresh clone of it."""
    shutil.copy(GOLDEN, monorepo.root / "Pulumi.prod.yaml")
    monorepo.commit_all("the prod stack")
    bare = tmp_path / "origin.git"
    monorepo.git("clone", "--quiet", "--bare", str(monorepo.root), str(bare))
    clone = tmp_path / "release-job"
    monorepo.git("clone", "--quiet", str(bare), str(clone))
    return Origin(bare, clone)
