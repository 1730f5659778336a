"""`wheels check-unpublished` against a real package index: pypiserver on loopback, files uploaded with twine.

pypiserver, like PyPI, refuses a second upload under a name it already holds, so the failure the check
prevents is real here: an RC whose files are (partly) on the index cannot take a new build's files.
Before a build the check refuses any file of the version, naming the next rc; right before an upload
(`--files`) it lets through exactly the run's own bytes and refuses rebuilt ones. The control: a rule by
name only (twine's `--skip-existing` on PyPI: skip the names the index holds, upload the rest) lets a
rebuilt set through, and the index ends up mixing two builds, which the hash comparison refuses.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.wheels.conftest import OUTSIDE_A_CHECKOUT

RC1 = "0.2.0rc1"
UPLOADED_FIRST = ("manylinux-x86_64", "manylinux-aarch64", "sdist")  # an upload that stopped half-way


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check(cli, url: str, *args: str, version: str = RC1):
    return cli("wheels", "check-unpublished", "percolate-rocks", version, "--index", url, *args, cwd=OUTSIDE_A_CHECKOUT)


def twine_upload(url: str, files: list[Path], *extra: str) -> subprocess.CompletedProcess[str]:
    """The upload the publish action makes (twine), to pypiserver's legacy upload endpoint."""
    return subprocess.run(
        [sys.executable, "-m", "twine", "upload", "--non-interactive", "--disable-progress-bar",
         "--repository-url", url.removesuffix("simple/"), "-u", "ci", "-p", "ci", *extra, *map(str, files)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def rebuilt(path: Path, into: Path) -> Path:
    """The same file built again: every member the same, other timestamps, so other bytes (as a rebuild gives)."""
    into.mkdir(parents=True, exist_ok=True)
    target = into / path.name
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy:
            for info in source.infolist():
                info.date_time = (2030, 1, 2, 3, 4, 6)
                copy.writestr(info, source.read(info))
    else:
        target.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()), mtime=1_900_000_000))
    assert sha256(target) != sha256(path)
    return target


@pytest.fixture
def partly_uploaded(rc_sets, pypiserver):
    """rc1 on the index as an upload that stopped half-way leaves it: three of its six files."""
    url, served = pypiserver
    files = rc_sets.full_set(RC1)
    uploaded = twine_upload(url, [files[name] for name in UPLOADED_FIRST])
    assert uploaded.returncode == 0, uploaded.stdout + uploaded.stderr
    assert {p.name for p in served.iterdir()} == {files[name].name for name in UPLOADED_FIRST}
    return url, files


def test_an_index_without_the_project_lets_the_build_go(cli, pypiserver):
    url, _ = pypiserver
    result = check(cli, url, "--json")
    assert result.code == 0, result.stderr
    assert result.json()["published"] == []


def test_other_versions_on_the_index_let_the_build_go(cli, rc_sets, pypiserver):
    url, _ = pypiserver
    assert twine_upload(url, list(rc_sets.full_set("0.2.0rc2").values())).returncode == 0
    result = check(cli, url)
    assert result.code == 0, result.stderr
    assert "no file of percolate-rocks 0.2.0rc1" in result.stdout


def test_files_of_the_version_on_the_index_refuse_the_build_and_name_the_next_rc(cli, partly_uploaded):
    url, files = partly_uploaded
    result = check(cli, url, "--json")
    assert result.code == 1
    report = result.json()
    assert report["cause"] == "refused"
    assert report["error"].startswith("Version already exists:")
    for name in UPLOADED_FIRST:
        assert files[name].name in report["error"]
    assert "percolate-rocks-v0.2.0-rc2" in report["hint"] and "tag next-rc percolate-rocks" in report["hint"]
    assert "Re-run failed jobs" in report["hint"]
    assert "hint: push the next release candidate, percolate-rocks-v0.2.0-rc2" in result.stderr


def test_what_the_refusal_prevents_a_rebuilt_upload_fails_after_everything_was_built(
    partly_uploaded, pypiserver, tmp_path
):
    """Without the check: the rebuilt files cannot be uploaded (the index holds those names)."""
    url, files = partly_uploaded
    _, served = pypiserver
    again = twine_upload(url, [rebuilt(path, tmp_path / "rebuilt") for path in files.values()])
    assert again.returncode != 0
    assert "Bad Request" in again.stdout  # pypiserver's answer to a name it holds (PyPI: "File already exists")
    assert {p.name: sha256(p) for p in served.iterdir()} == {files[n].name: sha256(files[n]) for n in UPLOADED_FIRST}


def test_resuming_with_the_runs_own_files_skips_those_on_the_index_and_uploads_the_rest(cli, partly_uploaded):
    url, files = partly_uploaded
    folder = next(iter(files.values())).parent
    result = check(cli, url, "--files", str(folder), "--json")
    assert result.code == 0, result.stderr
    report = result.json()
    assert {f["filename"] for f in report["already_published"]} == {files[n].name for n in UPLOADED_FIRST}
    to_upload = {f["filename"] for f in report["to_upload"]}
    assert to_upload == {p.name for n, p in files.items() if n not in UPLOADED_FIRST}
    assert all(f["sha256"] == sha256(folder / f["filename"]) for f in report["to_upload"])
    # What the publish job then uploads completes the RC with one build's bytes only.
    assert twine_upload(url, [folder / name for name in sorted(to_upload)]).returncode == 0
    done = check(cli, url, "--files", str(folder), "--json")
    assert done.code == 0 and done.json()["to_upload"] == []
    assert {f["filename"]: f["sha256"] for f in done.json()["published"]} == {p.name: sha256(p) for p in files.values()}


def test_resuming_with_rebuilt_files_is_refused(cli, partly_uploaded, tmp_path):
    url, files = partly_uploaded
    for path in files.values():
        rebuilt(path, tmp_path / "dist")
    result = check(cli, url, "--files", str(tmp_path / "dist"), "--json")
    assert result.code == 1
    report = result.json()
    assert "holds other bytes under the names of this run's files" in report["error"]
    assert all(files[name].name in report["error"] for name in UPLOADED_FIRST)
    assert report["hint"].startswith("push the next release candidate, percolate-rocks-v0.2.0-rc2")


def test_control_a_check_by_name_only_lets_a_rebuilt_set_mix_with_the_uploaded_one(
    cli, partly_uploaded, pypiserver, tmp_path
):
    """A check by name only (what twine's --skip-existing does on PyPI) uploads the rebuilt files whose names
    the index lacks: they go up next to the first build's, and the RC on the index is two builds."""
    url, files = partly_uploaded
    _, folder = pypiserver
    again = [rebuilt(path, tmp_path / "dist") for path in files.values()]
    refused = check(cli, url, "--files", str(tmp_path / "dist"))
    assert refused.code == 1 and "holds other bytes" in refused.stderr
    mixed = twine_upload(url, [path for path in again if not (folder / path.name).exists()])
    assert mixed.returncode == 0, mixed.stdout + mixed.stderr
    served = {p.name: sha256(p) for p in folder.iterdir()}
    first_build = {p.name for p in files.values() if served[p.name] == sha256(p)}
    second_build = {p.name for p in again if served[p.name] == sha256(p)}
    assert first_build == {files[name].name for name in UPLOADED_FIRST}
    assert second_build == {p.name for n, p in files.items() if n not in UPLOADED_FIRST}


def test_a_file_of_the_version_that_the_run_did_not_build_is_refused(cli, partly_uploaded, tmp_path):
    url, files = partly_uploaded
    mine = tmp_path / "dist"
    mine.mkdir()
    for name, path in files.items():
        if name != "manylinux-aarch64":  # on the index, from another build
            shutil.copyfile(path, mine / path.name)
    result = check(cli, url, "--files", str(mine))
    assert result.code == 1
    assert f"that this run did not build: {files['manylinux-aarch64'].name}" in result.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["percolate", RC1], "ships no wheels"),
        (["percolate-rocks", "0.2"], "cannot be expressed in both PEP 440 and Cargo"),
        (["percolate-rocks", RC1, "--files", "/nonexistent-folder"], "is not a folder"),
        (["percolate-rocks", RC1, "--index", "http://example.invalid/simple/"], "is not an https URL"),
    ],
)
def test_bad_input_is_exit_2(cli, args, needle):
    result = cli("wheels", "check-unpublished", *args, cwd=OUTSIDE_A_CHECKOUT)
    assert result.code == 2, result.stderr
    assert needle in result.stderr
    assert "Traceback" not in result.stderr


def test_files_of_another_version_in_the_folder_are_bad_input(cli, rc_sets, pypiserver, tmp_path):
    url, _ = pypiserver
    rc_sets.lay_out(RC1, tmp_path / "dist")
    rc_sets.lay_out("0.2.0rc2", tmp_path / "dist", without=("sdist",))
    result = check(cli, url, "--files", str(tmp_path / "dist"))
    assert result.code == 2
    assert "holds files that are not of this version" in result.stderr


def test_help_shows_examples(cli):
    result = cli("wheels", "check-unpublished", "--help")
    assert result.code == 0
    assert "examples:" in result.stdout and "--files dist --json" in result.stdout
