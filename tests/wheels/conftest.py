"""Fixtures of the wheels area: real RC wheels and sdists built from a tiny C extension, and package indexes.

The catalog's wheel project is built in Rust with maturin, which cannot be fetched
here; a tiny setuptools package with a C extension stands in for it, under the
catalog's distribution name, compiled by the machine's gcc. One real wheel is built
per version (this machine's platform); the other platform files of a set are copies
re-tagged with `wheel tags` (file name and WHEEL Tag lines only, RECORD updated by
that tool), so a set covers every wheel target of the catalog.

For `--require-staging`: GitHub's releases API on loopback (`releases`), answering with the
documented shapes, and a Sigstore instance of the tests' own (`sigstore`, tests/support/sigstore_kit.py)
whose trusted root (`trusted_root`) the real sigstore-python verifier takes instead of the public-good one.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from kit.loopback import free_port, reply, serving, wait_until_serving
from pipelines.core.catalog import PROJECTS, Project
from pipelines.staging.wheel_record import RECORD_ASSET, WORKFLOW_UPLOADER
from pipelines.staging.wheel_signature import SIGNATURE_ASSET
from tests.support.sigstore_kit import GitHubClaims, LocalSigstore

# One concrete platform tag per catalog wheel target (checked against the target's glob below).
PLATFORM_TAGS = {
    "manylinux-x86_64": "manylinux_2_17_x86_64.manylinux2014_x86_64",
    "manylinux-aarch64": "manylinux_2_17_aarch64.manylinux2014_aarch64",
    "macos-x86_64": "macosx_10_12_x86_64",
    "macos-arm64": "macosx_11_0_arm64",
    "windows-x64": "win_amd64",
}
# The re-tagged copy of this machine's wheel that pip here can install.
INSTALLABLE_TARGET = "manylinux-x86_64"

CORE_C = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
    return PyLong_FromLong(a + b);
}

static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "Add two integers."}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_core", NULL, -1, methods};

PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&module); }
"""

PYPROJECT = """\
[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "{version}"  # set by versions set-rc in a real RC build
description = "Stand-in for the Rust core: one C extension"
readme = "README.md"
requires-python = ">=3.9"

[tool.setuptools]
package-dir = {{"" = "src"}}
packages = ["{package}"]
ext-modules = [{{ name = "{package}._core", sources = ["src/core.c"] }}]
# Gives the wheel a .data folder, which promotion renames too.
data-files = {{ "share/{package}" = ["README.md"] }}
"""


def wheel_project() -> Project:
    (project,) = [p for p in PROJECTS if p.ships_wheels]
    return project


@dataclass(frozen=True)
class Build:
    """The real wheel and sdist of one version of the stand-in package."""

    version: str
    wheel: Path
    sdist: Path


def _build(root: Path, version: str) -> Build:
    project = wheel_project()
    distribution = project.distribution or project.name
    package = distribution.replace("-", "_")
    source = root / f"src-{version}"
    (source / "src" / package).mkdir(parents=True)
    (source / "pyproject.toml").write_text(PYPROJECT.format(name=distribution, version=version, package=package))
    (source / "README.md").write_text(f"# {distribution}\n\nA stand-in package for release tests.\n")
    (source / "src" / "core.c").write_text(CORE_C)
    (source / "src" / package / "__init__.py").write_text("from ._core import add\n")
    out = root / f"dist-{version}"
    out.mkdir()
    # The PEP 517 hooks themselves, one per process, without build isolation (nothing can be fetched).
    for hook in ("build_wheel", "build_sdist"):
        result = subprocess.run(
            [sys.executable, "-c", f"import setuptools.build_meta as b, sys; b.{hook}(sys.argv[1])", str(out)],
            cwd=source,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    (wheel,) = out.glob("*.whl")
    (sdist,) = out.glob("*.tar.gz")
    return Build(version, wheel, sdist)


def retag(wheel: Path, platform_tag: str, into: Path) -> Path:
    """A copy of `wheel` in `into` carrying `platform_tag`, made by the `wheel tags` tool."""
    scratch = into / f".retag-{platform_tag}"
    scratch.mkdir()
    copy = scratch / wheel.name
    shutil.copyfile(wheel, copy)
    result = subprocess.run(
        [sys.executable, "-m", "wheel", "tags", "--remove", "--platform-tag", platform_tag, str(copy)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (made,) = [p for p in scratch.iterdir()]
    target = into / made.name
    made.rename(target)
    scratch.rmdir()
    return target


class RcSets:
    """Builds each version once per session and lays out sets of its files on demand."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.builds: dict[str, Build] = {}
        self.sets: dict[str, dict[str, Path]] = {}
        targets = {t.name: t.platform_tag_glob for t in wheel_project().wheel_targets}
        assert set(targets) == set(PLATFORM_TAGS), "a catalog wheel target has no platform tag in PLATFORM_TAGS"
        for name, tag in PLATFORM_TAGS.items():
            assert any(fnmatch.fnmatchcase(t, targets[name]) for t in tag.split(".")), (name, tag)

    def build(self, version: str) -> Build:
        if version not in self.builds:
            self.builds[version] = _build(self.root, version)
        return self.builds[version]

    def full_set(self, version: str) -> dict[str, Path]:
        """Every platform wheel and the sdist of `version`, by target name (and "sdist"), made once."""
        if version not in self.sets:
            build = self.build(version)
            folder = self.root / f"set-{version}"
            folder.mkdir()
            files = {name: retag(build.wheel, tag, folder) for name, tag in PLATFORM_TAGS.items()}
            files["sdist"] = Path(shutil.copyfile(build.sdist, folder / build.sdist.name))
            self.sets[version] = files
        return self.sets[version]

    def lay_out(self, version: str, into: Path, *, without: tuple[str, ...] = ()) -> dict[str, Path]:
        """Copies of the full set of `version` in `into`, minus the targets (or "sdist") named."""
        into.mkdir(parents=True, exist_ok=True)
        return {
            name: Path(shutil.copyfile(path, into / path.name))
            for name, path in self.full_set(version).items()
            if name not in without
        }


@pytest.fixture(scope="session")
def platform_tags() -> dict[str, str]:
    return dict(PLATFORM_TAGS)


@pytest.fixture(scope="session")
def installable_target() -> str:
    return INSTALLABLE_TARGET


@pytest.fixture(scope="session")
def rc_sets(tmp_path_factory: pytest.TempPathFactory) -> RcSets:
    return RcSets(tmp_path_factory.mktemp("builds"))


@pytest.fixture(scope="session")
def pypiserver_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """One real pypiserver per session (per xdist worker) on a loopback port, serving a temp folder."""
    # Without watchdog pypiserver lists its folder on every request; with it, it would cache the listing and a
    # test would see the files of the one before.
    assert importlib.util.find_spec("watchdog") is None, "pypiserver would cache its listing: uninstall watchdog"
    folder = tmp_path_factory.mktemp("index-files")
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "pypiserver", "run",
            "--host", "127.0.0.1", "--port", str(port),
            "--authenticate", ".", "--passwords", ".",
            "--disable-fallback", "--hash-algo", "sha256",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/simple/", process)
        yield f"http://127.0.0.1:{port}/simple/", folder
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def pypiserver(pypiserver_process: tuple[str, Path]) -> tuple[str, Path]:
    """The session's pypiserver, empty for this test: (simple URL, folder)."""
    url, folder = pypiserver_process
    for entry in folder.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    return url, folder


@dataclass
class JsonIndex:
    """A PEP 691 index on loopback: project pages in the spec's JSON shape, files under /files/.

    `files` maps a file name to its path; `sha256` overrides the hash announced for a
    file; `yanked` holds yank reasons; `api_version` is what meta.api-version says.
    """

    url: str = ""
    files: dict[str, Path] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)
    yanked: dict[str, str] = field(default_factory=dict)
    api_version: str = "1.1"
    requests_seen: list[tuple[str, str]] = field(default_factory=list)

    def page(self) -> dict[str, object]:
        entries = []
        for name, path in sorted(self.files.items()):
            data = path.read_bytes()
            entries.append(
                {
                    "filename": name,
                    # Relative, as the spec allows: resolved against the page URL.
                    "url": f"../../files/{name}",
                    "hashes": {"sha256": self.sha256.get(name, hashlib.sha256(data).hexdigest())},
                    "requires-python": ">=3.9",
                    "yanked": self.yanked.get(name, False),
                    "size": len(data),
                }
            )
        project = wheel_project()
        return {
            "meta": {"api-version": self.api_version},
            "name": project.distribution,
            "files": entries,
            "versions": [],
        }


@pytest.fixture
def json_index() -> Iterator[JsonIndex]:
    index = JsonIndex()
    project_path = f"/simple/{wheel_project().distribution}/"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            index.requests_seen.append((self.path, self.headers.get("Accept", "")))
            if self.path == project_path and "application/vnd.pypi.simple.v1+json" in self.headers.get("Accept", ""):
                reply(
                    self,
                    200,
                    json.dumps(index.page()).encode(),
                    {"Content-Type": "application/vnd.pypi.simple.v1+json"},
                )
            elif self.path.startswith("/files/") and self.path[len("/files/") :] in index.files:
                reply(
                    self,
                    200,
                    index.files[self.path[len("/files/") :]].read_bytes(),
                    {"Content-Type": "application/octet-stream"},
                )
            else:
                reply(self, 404, b"not found", {"Content-Type": "text/plain"})

    with serving(Handler) as url:
        index.url = f"{url}/simple/"
        yield index


REPOSITORY = "percolation-labs/percolate"
OUTSIDE_A_CHECKOUT = Path(tempfile.gettempdir())
RC2 = "percolate-rocks-v0.2.0-rc2"
RC2_BUILD = GitHubClaims(REPOSITORY, "build-rocks.yml", f"refs/tags/{RC2}")  # the staging-record job of rc2's build


@dataclass
class Releases:
    """GitHub's releases API on loopback for REPOSITORY: the assets attached to each tag's release."""

    url: str = ""
    assets: dict[str, dict[str, tuple[bytes, str]]] = field(default_factory=dict)  # tag -> name -> (content, login)
    authorizations: list[str | None] = field(default_factory=list)
    ids: list[tuple[str, str]] = field(default_factory=list)  # asset id - 1 -> (tag, name)

    def attach(self, tag: str, name: str, content: bytes, uploader: str = WORKFLOW_UPLOADER) -> None:
        """Upload `name` to the release of `tag` (`gh release upload --clobber`: a second upload replaces it)."""
        self.assets.setdefault(tag, {})[name] = (content, uploader)
        if (tag, name) not in self.ids:
            self.ids.append((tag, name))

    def environment(self) -> dict[str, str]:
        return {"GITHUB_API_URL": self.url, "GITHUB_REPOSITORY": REPOSITORY, "GITHUB_TOKEN": "ghs_sampletoken"}


@pytest.fixture
def releases() -> Iterator[Releases]:
    state = Releases()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.authorizations.append(self.headers.get("Authorization"))
            prefix, assets = f"/repos/{REPOSITORY}/releases/tags/", f"/repos/{REPOSITORY}/releases/assets/"
            if self.path.startswith(prefix) and self.path[len(prefix) :] in state.assets:
                tag = self.path[len(prefix) :]
                listed = [{"id": 0, "name": "build-metadata.json", "url": f"{state.url}/nowhere", "uploader": {}}]
                for number, (at, name) in enumerate(state.ids, 1):
                    login = state.assets[at][name][1]
                    if at == tag:
                        listed.append(
                            {
                                "id": number,
                                "name": name,
                                "url": f"{state.url}{assets}{number}",
                                "uploader": {"login": login, "type": "Bot" if login.endswith("[bot]") else "User"},
                            }
                        )
                reply(
                    self,
                    200,
                    json.dumps({"tag_name": tag, "assets": listed}).encode(),
                    {"Content-Type": "application/json"},
                )
            elif self.path.startswith(assets):
                # GitHub answers an asset download with a redirect to its storage.
                assert self.headers.get("Accept") == "application/octet-stream"
                reply(self, 302, b"", {"Location": f"{state.url}/storage/{self.path.rsplit('/', 1)[1]}"})
            elif self.path.startswith("/storage/"):
                tag, name = state.ids[int(self.path.rsplit("/", 1)[1]) - 1]
                reply(self, 200, state.assets[tag][name][0], {"Content-Type": "application/octet-stream"})
            else:
                reply(self, 404, b'{"message": "Not Found"}', {"Content-Type": "application/json"})

    with serving(Handler) as state.url:
        yield state


@pytest.fixture(scope="session")
def sigstore() -> LocalSigstore:
    return LocalSigstore()


@pytest.fixture
def trusted_root(sigstore: LocalSigstore, tmp_path: Path) -> Path:
    return sigstore.write_trusted_root(tmp_path / "trusted_root.json")


@pytest.fixture
def published(rc_sets, json_index):
    """rc1 and rc2 complete on the index."""
    files = {**rc_sets.full_set("0.2.0rc1"), **{f"2-{k}": v for k, v in rc_sets.full_set("0.2.0rc2").items()}}
    json_index.files = {path.name: path for path in files.values()}
    return json_index


def record(cli, index_url: str, version: str, result: str, out: Path) -> bytes:
    """`wheels staging-record` of `version` as the index serves it: the record's bytes."""
    written = cli(
        "wheels", "staging-record", "percolate-rocks", version, "--result", result, "--index", index_url,
        "--out", str(out), "--run-url", "https://github.com/percolation-labs/percolate/actions/runs/7", "--json",
    )  # fmt: skip
    assert written.code == 0, written.stderr
    return out.read_bytes()


def attach_signed(
    releases: Releases, sigstore: LocalSigstore, content: bytes, uploader: str = WORKFLOW_UPLOADER
) -> None:
    """What rc2's staging-record job does: sign the record, upload it and its bundle to the pre-release."""
    releases.attach(RC2, RECORD_ASSET, content, uploader)
    releases.attach(RC2, SIGNATURE_ASSET, sigstore.sign(content, RC2_BUILD))


def find_rc(cli, index_url: str, to: Path, releases: Releases, trusted_root: Path):
    """`wheels find-rc --require-staging` of 0.2.0, trusting the tests' Sigstore instance."""
    return cli(
        "wheels", "find-rc", "percolate-rocks", "0.2.0", "--index", index_url, "--to", str(to),
        "--require-staging", "--sigstore-trusted-root", str(trusted_root), "--json",
        cwd=OUTSIDE_A_CHECKOUT, env=releases.environment(),
    )  # fmt: skip
