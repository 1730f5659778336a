"""`wheels promote` on real wheels: built at 0.2.0rc3 from a C extension, promoted, installed and run.

The set holds this machine's real wheel re-tagged for each catalog platform (file
name and WHEEL Tag lines only, by `wheel tags`) plus the real sdist; see conftest.py.
"""

from __future__ import annotations

import email.parser
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from email.message import Message
from pathlib import Path

import pytest

RC, FINAL = "0.2.0rc3", "0.2.0"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def zip_members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def tar_members(path: Path) -> dict[str, tuple[int, bytes | None]]:
    with tarfile.open(path) as archive:
        members = {}
        for member in archive.getmembers():
            content = archive.extractfile(member) if member.isfile() else None
            members[member.name] = (member.mode, content.read() if content else None)
        return members


def headers(data: bytes) -> Message:
    return email.parser.BytesParser().parsebytes(data)


def final_name(member: str) -> str:
    """Where a member of the RC archive lands in the release archive."""
    top, slash, rest = member.partition("/")
    return top.replace(f"-{RC}", f"-{FINAL}") + slash + rest


@pytest.fixture
def rc_folder(rc_sets, tmp_path) -> Path:
    rc_sets.lay_out(RC, tmp_path / "rc")
    return tmp_path / "rc"


@pytest.fixture
def promote(cli, tmp_path):
    def run(source: Path, *extra: str, to: Path | None = None):
        return cli(
            "wheels",
            "promote",
            "--from",
            str(source),
            "--to",
            str(to or tmp_path / "release"),
            "--version",
            FINAL,
            *extra,
        )

    return run


def test_promoted_files_keep_every_payload_byte(rc_folder, promote, tmp_path):
    before = {p.name: sha256(p) for p in rc_folder.iterdir()}
    result = promote(rc_folder, "--json")
    assert result.code == 0, result.stderr
    report = result.json()
    assert (report["version"], report["from_version"], report["rc"]) == (FINAL, RC, 3)
    release = tmp_path / "release"
    assert sorted(p.name for p in release.iterdir()) == sorted(f["filename"] for f in report["files"])
    assert len(report["files"]) == len(before)
    for entry in report["files"]:
        promoted = release / entry["filename"]
        source = rc_folder / entry["source"]["filename"]
        assert entry["filename"] == entry["source"]["filename"].replace(RC, FINAL)
        assert (entry["sha256"], entry["size"]) == (sha256(promoted), promoted.stat().st_size)
        assert entry["source"]["sha256"] == before[source.name]
        if entry["kind"] == "wheel":
            old, new = zip_members(source), zip_members(promoted)
            assert list(new) == [final_name(m) for m in old]
            rewritten = {m for m in old if m.endswith(("/METADATA", "/RECORD"))}
            assert sorted(entry["rewritten_members"]) == sorted(final_name(m) for m in rewritten)
            for member, data in old.items():
                if member not in rewritten:
                    assert new[final_name(member)] == data, member
            assert any(m.endswith(".so") for m in old)
            (metadata,) = [m for m in rewritten if m.endswith("METADATA")]
            old_headers, new_headers = headers(old[metadata]), headers(new[final_name(metadata)])
            assert (old_headers["Version"], new_headers["Version"]) == (RC, FINAL)
            del old_headers["Version"], new_headers["Version"]
            assert old_headers.items() == new_headers.items()
            assert old_headers.get_payload() == new_headers.get_payload()
            assert entry["unchanged_members"] == len(old) - 2
    # The inputs are untouched.
    assert {p.name: sha256(p) for p in rc_folder.iterdir()} == before


def test_promoted_wheels_pass_independent_checks(rc_folder, promote, tmp_path):
    assert promote(rc_folder).code == 0
    release = tmp_path / "release"
    for wheel in sorted(release.glob("*.whl")):
        # `wheel unpack` checks every member against RECORD's hash.
        unpacked = subprocess.run(
            [sys.executable, "-m", "wheel", "unpack", "-d", str(tmp_path / "unpacked"), str(wheel)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert unpacked.returncode == 0, unpacked.stderr
    twine = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, sorted(release.iterdir()))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert twine.returncode == 0, twine.stdout + twine.stderr
    assert twine.stdout.count("PASSED") == len(list(release.iterdir()))


def test_promoted_wheel_installs_in_a_fresh_venv_and_its_extension_runs(
    rc_sets, rc_folder, promote, tmp_path, installable_target
):
    assert promote(rc_folder).code == 0
    rc_wheel = rc_sets.full_set(RC)[installable_target].name
    wheel = tmp_path / "release" / rc_wheel.replace(RC, FINAL)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    environment = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-index", "--no-deps", str(wheel)],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    package = rc_wheel.split("-", 1)[0]
    probe = (
        "import importlib.metadata as m, sys; "
        f"import {package}; from {package} import _core; "
        f"print(m.version(sys.argv[1]), {package}.add(40, 2), _core.__file__.endswith('.so'))"
    )
    ran = subprocess.run([str(python), "-c", probe, package], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.split() == [FINAL, "42", "True"]
    # The renamed .data folder was found by the installer.
    assert (venv / "share" / package / "README.md").is_file()


def test_promoted_sdist_carries_the_final_version_and_builds_it(rc_sets, rc_folder, promote, tmp_path):
    assert promote(rc_folder).code == 0
    source = rc_sets.full_set(RC)["sdist"]
    promoted = tmp_path / "release" / source.name.replace(RC, FINAL)
    old, new = tar_members(source), tar_members(promoted)
    assert list(new) == [final_name(m) for m in old]
    rewritten = {m for m in old if m.endswith(("/PKG-INFO", "/pyproject.toml"))}
    assert len(rewritten) == 3  # PKG-INFO, setuptools' egg-info/PKG-INFO, pyproject.toml
    for member, (mode, data) in old.items():
        assert new[final_name(member)][0] == mode
        if member not in rewritten:
            assert new[final_name(member)][1] == data, member
    for member in rewritten:
        if member.endswith("PKG-INFO"):
            assert headers(new[final_name(member)][1])["Version"] == FINAL
    (pyproject,) = [m for m in rewritten if m.endswith("pyproject.toml")]
    old_text, new_text = old[pyproject][1].decode(), new[final_name(pyproject)][1].decode()
    assert tomllib.loads(new_text)["project"]["version"] == FINAL
    assert new_text == old_text.replace(f'version = "{RC}"', f'version = "{FINAL}"')
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--no-index",
         "-w", str(tmp_path / "from-sdist"), str(promoted)],
        capture_output=True, text=True, env={**os.environ, "PIP_CONFIG_FILE": os.devnull}, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp_path / "from-sdist").glob("*.whl")
    assert wheel.name.split("-")[1] == FINAL


def test_text_output_for_people_and_progress_on_stderr(rc_folder, promote):
    result = promote(rc_folder)
    assert result.code == 0
    assert result.stdout.startswith(f"promoted percolate-rocks {RC} -> {FINAL}")
    assert "members byte for byte" in result.stdout
    assert "re-versioning" in result.stderr and "re-versioning" not in result.stdout


def rewrite_zip(source: Path, target: Path, change: dict[str, bytes]) -> None:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            new.writestr(info, change.get(info.filename, old.read(info)))


def test_a_wheel_whose_record_does_not_match_is_refused_and_nothing_is_written(rc_folder, promote, tmp_path):
    wheel = sorted(rc_folder.glob("*.whl"))[-1]
    members = zip_members(wheel)
    (init,) = [m for m in members if m.endswith("__init__.py")]
    tampered = tmp_path / "tampered.whl"
    rewrite_zip(wheel, tampered, {init: members[init] + b"import os\n"})
    tampered.replace(wheel)
    result = promote(rc_folder, "--json")
    assert result.code == 1
    assert "RECORD does not match" in result.json()["error"] and init in result.json()["error"]
    assert not (tmp_path / "release").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".release")]


def test_a_member_missing_from_record_is_refused(rc_folder, promote, tmp_path):
    wheel = sorted(rc_folder.glob("*.whl"))[0]
    tampered = tmp_path / "extra.whl"
    with zipfile.ZipFile(wheel) as old, zipfile.ZipFile(tampered, "w") as new:
        for info in old.infolist():
            new.writestr(info, old.read(info))
        new.writestr("percolate_rocks/extra.py", b"x = 1\n")
    tampered.replace(wheel)
    result = promote(rc_folder)
    assert result.code == 1
    assert "percolate_rocks/extra.py is not in RECORD" in result.stderr


def test_an_sdist_of_another_rc_under_this_rcs_name_is_refused(rc_sets, rc_folder, promote):
    older = rc_sets.full_set("0.2.0rc2")["sdist"]
    (rc_folder / older.name.replace("rc2", "rc3")).write_bytes(older.read_bytes())
    result = promote(rc_folder)
    assert result.code == 1
    assert f"members outside percolate_rocks-{RC}/" in result.stderr


def test_metadata_that_disagrees_with_the_file_name_is_refused(rc_folder, promote, tmp_path):
    (sdist,) = rc_folder.glob("*.tar.gz")
    edited = tmp_path / "edited.tar.gz"
    with tarfile.open(sdist) as old, tarfile.open(edited, "w:gz") as new:
        for member in old.getmembers():
            content = old.extractfile(member) if member.isfile() else None
            data = content.read() if content else b""
            if member.name.endswith(f"-{RC}/PKG-INFO"):
                data = data.replace(f"Version: {RC}".encode(), b"Version: 0.2.0rc2")
                member.size = len(data)
            new.addfile(member, io.BytesIO(data) if content else None)
    edited.replace(sdist)
    result = promote(rc_folder)
    assert result.code == 1
    assert "PKG-INFO says 0.2.0rc2, but the file name says 0.2.0rc3" in result.stderr


@pytest.mark.parametrize(
    ("extra", "code", "needle"),
    [
        ("percolate_reading-0.2.0rc3-py3-none-any.whl", 2, "files of another project"),
        ("percolate_rocks-0.2.0rc2-py3-none-any.whl", 2, "more than one release candidate"),
        ("percolate_rocks-0.2.0-py3-none-any.whl", 2, "not a release candidate of 0.2.0"),
        ("SHA256SUMS", 2, "neither a wheel nor an sdist"),
    ],
)
def test_inputs_other_than_one_rc_of_the_project_are_refused(rc_folder, promote, tmp_path, extra, code, needle):
    (rc_folder / extra).write_bytes(b"")
    result = promote(rc_folder)
    assert result.code == code
    assert needle in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "release").exists()


def test_an_incomplete_set_is_a_failed_check(rc_sets, promote, tmp_path):
    rc_sets.lay_out(RC, tmp_path / "partial", without=("windows-x64",))
    result = promote(tmp_path / "partial")
    assert result.code == 1
    assert "lacks windows-x64" in result.stderr


def test_a_non_empty_target_is_refused_and_left_alone(rc_folder, promote, tmp_path):
    target = tmp_path / "release"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    result = promote(rc_folder, to=target)
    assert result.code == 2
    assert "not an empty folder" in result.stderr
    assert [p.name for p in target.iterdir()] == ["keep.txt"]


def test_an_empty_target_folder_is_filled(rc_folder, promote, tmp_path):
    target = tmp_path / "release"
    target.mkdir()
    assert promote(rc_folder, to=target).code == 0
    assert len(list(target.iterdir())) == len(list(rc_folder.iterdir()))


def test_a_release_version_with_an_rc_is_bad_input(rc_folder, cli, tmp_path):
    result = cli("wheels", "promote", "--from", str(rc_folder), "--to", str(tmp_path / "out"), "--version", RC)
    assert result.code == 2
    assert "pre-release" in result.stderr
