"""Loopback stand-ins for `preflight`: GitHub's REST API, two Kubernetes API servers, the real local registry.

GitHub's API and a Kubernetes API server cannot run here, so each stand-in answers the requests preflight
makes with the shapes GitHub and Kubernetes document:

- `FakeGitHub`: environments (`{"total_count", "environments": [{"id", "name"}]}`), environment, repository
  and organization secrets (`{"total_count", "secrets": [{"name", "created_at", "updated_at"}]}`), a team
  (`{"id", "slug", "name"}`), a repository (`{"id", "full_name", "default_branch"}`) and a folder's contents
  (a list of `{"type", "name", "path"}`); 401 `{"message": "Bad credentials"}` for a token it does not know,
  404 `{"message": "Not Found"}` for what that token may not see. It serves at most two names per page, so
  every listing is read across pages. With `echo`, every refusal quotes the token it was sent.
- `FakeKube`: `GET /apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}`, answering the upstream
  CRDs of tests/support/crds verbatim, 404 Status for one it does not hold, 401 Status for a wrong token
  (with `echo`, quoting the token).
- the registry: Debian's docker-registry (kit/registry.py) behind its FaultProxy, which
  demands Bearer tokens from its token service for the registry credentials below.

`Setup` puts them together with a temp root holding copies of the stack files and workflows, the
environment preflight reads, and `run(...)`, the CLI in-process.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import yaml

from kit.loopback import reply, serving
from kit.registry import FaultProxy, LocalRegistry
from tests.conftest import REPO_ROOT
from tests.support.crd_schema import CRDS

# Credentials of random letters: the output boundary masks every run of 8 characters of a secret, so a
# secret spelt of words would mask those words wherever they appear.
ADMIN_TOKEN = "ghp_Zq8vT3kX9mWb2LcR7yNd4HsJ6pFa1UeG0oKi"
PAT = "github_pat_11AB2CD3EF0qW9eR8tY7uI6oP5aS4dF3gH2jK1lZ0xC"
KUBE_TOKEN = "eyJhbGciOiJSUzI1NiJ9.kT8pQ2vXw5Mn7Bc3"
STAGING_KUBE_TOKEN = "eyJhbGciOiJSUzI1NiJ9.Hq4Vy6Rt1Lz9Dj2S"
REGISTRY_USER = "preflight"
REGISTRY_PASSWORD = "Rv7q2Lx9Kp4Wz8NmTf3Y"
REPOSITORY = "percolation-labs/percolate"
MANIFESTS = "percolation-labs/percolate-cloud"
ARGOCD_CRDS = {"applications.argoproj.io", "appprojects.argoproj.io"}
ROLLOUTS_CRDS = {"rollouts.argoproj.io", "analysistemplates.argoproj.io"}
APPLICATIONS = ("percolate-api", "percolate-reading")
PAGE_CAP = 2
_CONTENTS = re.compile(r"/repos/([^/]+/[^/]+)/contents/(.+)")


def _upstream_crds() -> dict[str, Any]:
    documents = (yaml.safe_load(path.read_text()) for path in sorted(CRDS.glob("*.yaml")))
    return {document["metadata"]["name"]: document for document in documents}


UPSTREAM_CRDS = _upstream_crds()


@dataclass
class FakeGitHub:
    """What the stand-in's GitHub holds and who may read what; `sent` keeps every body it answered."""

    environments: dict[str, set[str]] = field(
        default_factory=lambda: {
            "production": {"KUBECONFIG", "INFRA_GITHUB_TOKEN"},
            "staging": {"STAGING_KUBECONFIG"},
            "github-pages": set(),
        }
    )
    repository_secrets: set[str] = field(default_factory=lambda: {"PERCOLATE_GIT_PAT", "SLACK_WEBHOOK_URL"})
    organization_secrets: set[str] = field(default_factory=set)
    teams: dict[str, int] = field(default_factory=dict)
    folders: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (repository:path, ref) -> names
    readable_with_pat: set[str] = field(default_factory=lambda: {MANIFESTS})
    echo: bool = False
    url: str = ""
    seen: list[tuple[str, str]] = field(default_factory=list)
    sent: list[bytes] = field(default_factory=list)

    def answer(self, path: str, query: dict[str, list[str]], token: str) -> tuple[int, Any]:
        if token not in (ADMIN_TOKEN, PAT):
            return 401, {"message": "Bad credentials" + (f": {token}" if self.echo else "")}
        missing = 404, {"message": "Not Found" + (f" for {token}" if self.echo else "")}
        if token == PAT:
            match = _CONTENTS.fullmatch(path)
            repository = match.group(1) if match else path.removeprefix("/repos/")
            if repository not in self.readable_with_pat:
                return missing
            if match is None:
                return 200, {"id": 1, "full_name": repository, "default_branch": "main"}
            names = self.folders.get((f"{repository}:{unquote(match.group(2))}", query.get("ref", [""])[0]))
            if names is None:
                return missing
            return 200, [{"type": "file", "name": name, "path": f"{match.group(2)}/{name}"} for name in names]
        prefix = f"/repos/{REPOSITORY}"
        if path == f"{prefix}/environments":
            return self.page(query, "environments", [{"id": i, "name": n} for i, n in enumerate(self.environments)])
        if path.startswith(f"{prefix}/environments/") and path.endswith("/secrets"):
            held = self.environments.get(unquote(path.split("/")[5]))
            return missing if held is None else self.page(query, "secrets", self.secrets(held))
        if path == f"{prefix}/actions/secrets":
            return self.page(query, "secrets", self.secrets(self.repository_secrets))
        if path == f"{prefix}/actions/organization-secrets":
            return self.page(query, "secrets", self.secrets(self.organization_secrets))
        if path.startswith("/orgs/percolation-labs/teams/"):
            slug = path.rsplit("/", 1)[1]
            return (200, {"id": self.teams[slug], "slug": slug, "name": slug}) if slug in self.teams else missing
        return missing

    @staticmethod
    def secrets(names: set[str]) -> list[dict[str, str]]:
        stamp = "2025-10-25T14:30:00Z"
        return [{"name": name, "created_at": stamp, "updated_at": stamp} for name in sorted(names)]

    @staticmethod
    def page(query: dict[str, list[str]], field: str, items: list[Any]) -> tuple[int, Any]:
        size = min(int(query.get("per_page", ["30"])[0]), PAGE_CAP)
        start = (int(query.get("page", ["1"])[0]) - 1) * size
        return 200, {"total_count": len(items), field: items[start : start + size]}


def _github_handler(github: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            github.seen.append((self.command, parts.path))
            status, document = github.answer(parts.path, parse_qs(parts.query), token)
            body = json.dumps(document).encode()
            github.sent.append(body)
            reply(self, status, body, {"Content-Type": "application/json; charset=utf-8"})

    return Handler


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}  # fmt: skip


@dataclass
class FakeKube:
    """One cluster's API server: which CRDs it holds, and the token it accepts."""

    token: str
    crds: set[str]
    echo: bool = False
    url: str = ""
    seen: list[str] = field(default_factory=list)
    sent: list[bytes] = field(default_factory=list)

    def answer(self, path: str, authorization: str) -> tuple[int, Any]:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or token != self.token:
            return 401, _status(
                401, "Unauthorized", f"Unauthorized{f': token {token} is not valid' if self.echo else ''}"
            )
        name = path.removeprefix("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/")
        if name in self.crds and name in UPSTREAM_CRDS:
            return 200, UPSTREAM_CRDS[name]
        return 404, _status(404, "NotFound", f'customresourcedefinitions.apiextensions.k8s.io "{name}" not found')


def _kube_handler(kube: FakeKube) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            kube.seen.append(self.path)
            status, document = kube.answer(urlsplit(self.path).path, self.headers.get("Authorization") or "")
            body = json.dumps(document).encode()
            kube.sent.append(body)
            reply(self, status, body, {"Content-Type": "application/json"})

    return Handler


def write_kubeconfig(path: Path, server: str, token: str) -> Path:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "test",
        "clusters": [{"name": "test-cluster", "cluster": {"server": server}}],
        "users": [{"name": "test-user", "user": {"token": token}}],
        "contexts": [{"name": "test", "context": {"cluster": "test-cluster", "user": "test-user"}}],
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def statuses(self) -> dict[str, str]:
        return {check["name"]: check["status"] for check in self.json()}

    def check(self, name: str) -> dict[str, Any]:
        (found,) = [check for check in self.json() if check["name"] == name]
        return dict(found)


@dataclass
class Setup:
    """One preflight world: a root with the stack files and workflows, GitHub, two clusters and a registry."""

    root: Path
    github: FakeGitHub
    prod: FakeKube
    staging: FakeKube
    registry: str
    kubeconfigs: dict[str, Path]
    capsys: Any

    def stack_file(self, stack: str) -> Path:
        return self.root / f"Pulumi.{stack}.yaml"

    def edit_yaml(self, relative: str, change: Callable[[Any], None]) -> None:
        """Change a copied stack file or workflow as data (its comments go; it stays plain YAML)."""
        path = self.root / relative
        document = yaml.safe_load(path.read_text())
        change(document)
        path.write_text(yaml.safe_dump(document, sort_keys=False))

    def edit_config(self, stack: str, key: str, change: Callable[[Any], None]) -> None:
        self.edit_yaml(f"Pulumi.{stack}.yaml", lambda document: change(document["config"][f"percolate-platform:{key}"]))

    def run(self, *extra: str, json_output: bool = True, kubeconfigs: bool = True) -> Result:
        """`python -m pipelines preflight` in this process, against the stand-ins (and their kubeconfigs)."""
        from pipelines.cli import main

        clusters = [
            "--kubeconfig",
            str(self.kubeconfigs["prod"]),
            "--staging-kubeconfig",
            str(self.kubeconfigs["staging"]),
        ]
        arguments = [
            "preflight",
            "--root", str(self.root),
            "--registry", self.registry,
            *(clusters if kubeconfigs else []),
            "--timeout", "10",
            *(["--json"] if json_output else []),
            *extra,
        ]  # fmt: skip
        self.capsys.readouterr()
        code = main(arguments)
        out, err = self.capsys.readouterr()
        return Result(code, out, err)


def _teams_of(stack_file: Path) -> dict[str, int]:
    config = yaml.safe_load(stack_file.read_text())["config"]
    teams = {}
    for key in ("percolate-platform:releaseManagers", "percolate-platform:productionReviewers"):
        for team in (config.get(key) or {}).get("teams") or []:
            teams[team["slug"]] = team["id"]
    return teams


def _folders(stack_file: Path) -> dict[tuple[str, str], list[str]]:
    argocd = yaml.safe_load(stack_file.read_text())["config"]["percolate-platform:argocd"]
    where = (argocd["basePath"], argocd["targetRevision"])
    return {(f"{MANIFESTS}:{where[0]}/{app}", where[1]): ["kustomization.yaml", "service.yaml"] for app in APPLICATIONS}


@pytest.fixture(scope="session")
def registry_proxy(local_registry: LocalRegistry) -> Iterator[FaultProxy]:
    """The registry behind a proxy that demands Bearer tokens for REGISTRY_USER and REGISTRY_PASSWORD."""
    proxy = FaultProxy(local_registry.host, credentials=(REGISTRY_USER, REGISTRY_PASSWORD)).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any, registry_proxy: FaultProxy) -> Iterator[Setup]:
    root = tmp_path / "repo"
    (root / ".github").mkdir(parents=True)
    shutil.copytree(REPO_ROOT / ".github" / "workflows", root / ".github" / "workflows")
    for stack in ("prod", "staging"):
        shutil.copy(REPO_ROOT / f"Pulumi.{stack}.yaml", root / f"Pulumi.{stack}.yaml")
    folders = _folders(root / "Pulumi.prod.yaml") | _folders(root / "Pulumi.staging.yaml")
    github = FakeGitHub(teams=_teams_of(root / "Pulumi.prod.yaml"), folders=folders)
    prod = FakeKube(KUBE_TOKEN, ARGOCD_CRDS | ROLLOUTS_CRDS)
    staging = FakeKube(STAGING_KUBE_TOKEN, set(ARGOCD_CRDS))
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "REGISTRY_", "KUBE")) or name in ("STAGING_KUBECONFIG", "PERCOLATE_GIT_PAT"):
            monkeypatch.delenv(name)
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.kube/config, no ~/.docker/config.json
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.setenv("GITHUB_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("PERCOLATE_GIT_PAT", PAT)
    monkeypatch.setenv("REGISTRY_USERNAME", REGISTRY_USER)
    monkeypatch.setenv("REGISTRY_PASSWORD", REGISTRY_PASSWORD)
    with ExitStack() as stack:
        github.url = stack.enter_context(serving(_github_handler(github)))
        prod.url = stack.enter_context(serving(_kube_handler(prod)))
        staging.url = stack.enter_context(serving(_kube_handler(staging)))
        monkeypatch.setenv("GITHUB_API_URL", github.url)
        kubeconfigs = {
            "prod": write_kubeconfig(tmp_path / "kubeconfig-prod", prod.url, KUBE_TOKEN),
            "staging": write_kubeconfig(tmp_path / "kubeconfig-staging", staging.url, STAGING_KUBE_TOKEN),
        }
        yield Setup(root, github, prod, staging, f"{registry_proxy.host}/percolation-labs", kubeconfigs, capsys)
