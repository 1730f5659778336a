"""pipelines.wheels.reversion on edge cases of real wheels: compression kept, weak or signed RECORDs refused."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

import pytest

from pipelines.core.errors import CheckFailed
from pipelines.wheels.reversion import record_hash, rewrite_wheel
from pipelines.wheels.select import parse_wheel_filename

RC, FINAL = "0.2.0rc3", "0.2.0"


@pytest.fixture
def wheel(rc_sets, tmp_path) -> Path:
    build = rc_sets.build(RC)
    target = tmp_path / "in" / build.wheel.name
    target.parent.mkdir()
    target.write_bytes(build.wheel.read_bytes())
    return target


def repack(wheel: Path, *, stored: str = "", record_edit=None, extra: dict[str, bytes] | None = None) -> None:
    """Rewrite `wheel` in place: members ending in `stored` uncompressed, RECORD passed through `record_edit`."""
    with zipfile.ZipFile(wheel) as old:
        members = [(info, old.read(info)) for info in old.infolist()]
    with zipfile.ZipFile(wheel, "w") as new:
        for info, original in members:
            if stored and info.filename.endswith(stored):
                info.compress_type = zipfile.ZIP_STORED
            edited = record_edit and info.filename.endswith(".dist-info/RECORD")
            new.writestr(info, record_edit(original) if edited else original)
        for name, data in (extra or {}).items():
            new.writestr(name, data)


def promote(wheel: Path, out: Path):
    out.mkdir(exist_ok=True)
    name = parse_wheel_filename(wheel.name)
    return rewrite_wheel(wheel, out, name, name.with_version(FINAL))


def test_record_hash_is_urlsafe_base64_without_padding():
    digest = hashlib.sha256(b"payload").digest()
    assert record_hash(b"payload") == "sha256=" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def test_each_members_compression_is_kept(wheel, tmp_path):
    repack(wheel, stored=".so")
    report = promote(wheel, tmp_path / "out")
    with zipfile.ZipFile(tmp_path / "out" / report.target) as promoted:
        kinds = {info.filename.rsplit("/", 1)[-1]: info.compress_type for info in promoted.infolist()}
    assert {kind for name, kind in kinds.items() if name.endswith(".so")} == {zipfile.ZIP_STORED}
    assert kinds["METADATA"] == zipfile.ZIP_DEFLATED


def test_a_crlf_record_stays_crlf(wheel, tmp_path):
    repack(wheel, record_edit=lambda data: data.replace(b"\n", b"\r\n"))
    report = promote(wheel, tmp_path / "out")
    with zipfile.ZipFile(tmp_path / "out" / report.target) as promoted:
        (record,) = [promoted.read(n) for n in promoted.namelist() if n.endswith("RECORD")]
    assert record.count(b"\r\n") == record.count(b"\n") > 0


def edit_first_row(edit):
    """A RECORD edit applying `edit(path, hash, size) -> row` to the first row."""

    def apply(data: bytes) -> bytes:
        first, *rest = data.decode().splitlines()
        return "\n".join([edit(*first.split(",")), *rest]).encode() + b"\n"

    return apply


def test_md5_record_hashes_are_refused(wheel, tmp_path):
    repack(wheel, record_edit=edit_first_row(lambda path, _, size: f"{path},md5=AAAA,{size}"))
    with pytest.raises(CheckFailed, match="no sha256"):
        promote(wheel, tmp_path / "out")
    assert not list((tmp_path / "out").iterdir())


def test_a_signed_record_is_refused(wheel, tmp_path):
    dist_info = f"percolate_rocks-{RC}.dist-info"
    repack(wheel, extra={f"{dist_info}/RECORD.jws": b"{}"})
    with pytest.raises(CheckFailed, match="signed RECORD"):
        promote(wheel, tmp_path / "out")


def test_a_wrong_size_in_record_is_refused(wheel, tmp_path):
    repack(wheel, record_edit=edit_first_row(lambda path, digest, size: f"{path},{digest},{int(size) + 1}"))
    with pytest.raises(CheckFailed, match="RECORD says"):
        promote(wheel, tmp_path / "out")


def test_a_file_that_is_not_a_zip_is_refused(tmp_path):
    bogus = tmp_path / f"percolate_rocks-{RC}-cp311-cp311-win_amd64.whl"
    bogus.write_bytes(b"not a zip")
    with pytest.raises(CheckFailed, match="not a readable zip"):
        promote(bogus, tmp_path / "out")
