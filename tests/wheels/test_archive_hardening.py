"""Wheels and sdists as an attacker would shape them (issue 12): bombs refused before they are inflated,
odd RECORD hashes, corrupt or encrypted members and a WHEEL that contradicts its name end as clean refusals."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from pipelines.core.errors import CheckFailed
from pipelines.wheels.reversion import rewrite
from pipelines.wheels.select import parse_filename

RC, FINAL = "0.2.0rc3", "0.2.0"


def copy_of(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / "in" / source.name
    target.parent.mkdir()
    target.write_bytes(source.read_bytes())
    return target


@pytest.fixture
def wheel(rc_sets, tmp_path) -> Path:
    return copy_of(rc_sets.build(RC).wheel, tmp_path)


@pytest.fixture
def sdist(rc_sets, tmp_path) -> Path:
    return copy_of(rc_sets.build(RC).sdist, tmp_path)


def promote(path: Path, out: Path):
    out.mkdir(exist_ok=True)
    name = parse_filename(path.name)
    return rewrite(path, out, name, name.with_version(FINAL))


def refused(path: Path, tmp_path: Path, match: str) -> None:
    with pytest.raises(CheckFailed, match=match):
        promote(path, tmp_path / "out")
    assert not list((tmp_path / "out").iterdir())


def b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def add_member(wheel: Path, name: str, chunks, *, record: bool = True) -> None:
    """Append member `name` (written from `chunks`, streamed) and, with `record`, its RECORD row."""
    with zipfile.ZipFile(wheel) as old:
        members = [(info, old.read(info)) for info in old.infolist()]
    digest, size = hashlib.sha256(), 0
    # Level 1: deflate's fastest, still 229:1 on zeros (1.5 GiB in 7 MB), far past the ratio of 100 refused.
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as new:
        with new.open(name, "w", force_zip64=True) as handle:  # deflated at the archive's level
            for chunk in chunks:
                handle.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        row = f"{name},sha256={b64(digest.digest())},{size}\n".encode()
        for info, data in members:
            new.writestr(info, data + row if record and info.filename.endswith(".dist-info/RECORD") else data)


def test_a_small_wheel_holding_gigabytes_of_zeros_is_refused_before_it_is_inflated(wheel, tmp_path):
    zeros = bytes(1 << 20)
    add_member(wheel, "percolate_rocks/zeros.bin", (zeros for _ in range(1536)))  # 1.5 GiB
    assert wheel.stat().st_size < 8 << 20
    refused(wheel, tmp_path, "compression ratio|larger than")


def test_an_sdist_holding_gigabytes_of_zeros_is_refused_before_it_is_inflated(sdist, tmp_path):
    with tarfile.open(sdist, "r:gz") as old:
        members = [(m, old.extractfile(m).read() if m.isfile() else None) for m in old.getmembers()]  # type: ignore[union-attr]
    base = members[0][0].name.split("/")[0]

    class Zeros(io.RawIOBase):
        left = 1536 << 20

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
            count = min(len(buffer), self.left)
            buffer[:count] = bytes(count)
            self.left -= count
            return count

    with gzip.open(sdist, "wb", compresslevel=1) as raw, tarfile.open(fileobj=raw, mode="w") as new:
        for member, data in members:
            new.addfile(member, io.BytesIO(data) if data is not None else None)
        bomb = tarfile.TarInfo(f"{base}/zeros.bin")
        bomb.size = Zeros.left
        new.addfile(bomb, io.BufferedReader(Zeros(), 1 << 20))
    assert sdist.stat().st_size < 8 << 20
    refused(sdist, tmp_path, "larger than")


def test_a_record_hash_of_shake_128_is_refused_cleanly(wheel, tmp_path):
    with zipfile.ZipFile(wheel) as old:
        members = [(info, old.read(info)) for info in old.infolist()]
    with zipfile.ZipFile(wheel, "w") as new:
        for info, data in members:
            if info.filename.endswith(".dist-info/RECORD"):
                first, rest = data.split(b"\n", 1)
                path, _, size = first.decode().split(",")
                new.writestr(info, f"{path},shake_128=AAAA,{size}\n".encode() + rest)
            else:
                new.writestr(info, data)
    refused(wheel, tmp_path, "no sha256")


def corrupt_first_deflated_member(wheel: Path, flip_encryption: bool = False) -> None:
    data = bytearray(wheel.read_bytes())
    with zipfile.ZipFile(wheel) as archive:
        info = next(i for i in archive.infolist() if i.compress_type == zipfile.ZIP_DEFLATED and i.compress_size > 20)
    offset = info.header_offset
    name_length = int.from_bytes(data[offset + 26 : offset + 28], "little")
    extra_length = int.from_bytes(data[offset + 28 : offset + 30], "little")
    start = offset + 30 + name_length + extra_length
    if flip_encryption:
        data[offset + 6] |= 1  # the local header's flag
        central = bytes(data).find(b"PK\x01\x02")
        while central != -1:
            if int.from_bytes(data[central + 42 : central + 46], "little") == offset:
                data[central + 8] |= 1
                break
            central = bytes(data).find(b"PK\x01\x02", central + 4)
    else:
        data[start : start + 8] = b"\xff" * 8
    wheel.write_bytes(bytes(data))


def test_corrupt_deflate_data_is_refused_cleanly(wheel, tmp_path):
    corrupt_first_deflated_member(wheel)
    refused(wheel, tmp_path, "not a readable zip|does not match")


def test_an_encrypted_member_is_refused_cleanly(wheel, tmp_path):
    corrupt_first_deflated_member(wheel, flip_encryption=True)
    refused(wheel, tmp_path, "encrypted|not a readable zip")


def test_a_wheel_whose_tag_disagrees_with_its_file_name_is_refused(wheel, tmp_path):
    with zipfile.ZipFile(wheel) as old:
        members = [(info, old.read(info)) for info in old.infolist()]
    with zipfile.ZipFile(wheel, "w") as new:
        for info, data in members:
            if info.filename.endswith(".dist-info/WHEEL"):
                lines = [line for line in data.decode().splitlines() if not line.startswith("Tag:")]
                new.writestr(info, ("\n".join([*lines, "Tag: py3-none-any"]) + "\n").encode())
            else:
                new.writestr(info, data)
    # the RECORD hash of WHEEL no longer matches either: the tag check must speak first
    refused(wheel, tmp_path, "Tag")
