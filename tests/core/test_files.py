"""Files: atomic replacement, hashing, and reading back the JSON records commands leave."""

from __future__ import annotations

import hashlib

import pytest

from pipelines.core.errors import InputError
from pipelines.edges.files import atomic_write_text, file_sha256, read_json_object


def test_atomic_write_replaces_keeps_the_mode_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("old")
    path.chmod(0o600)
    atomic_write_text(path, "new ✓\n")
    assert path.read_text(encoding="utf-8") == "new ✓\n"
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_file_sha256_reads_large_files_in_chunks(tmp_path):
    data = b"x" * (3 << 20) + b"tail"
    (tmp_path / "big").write_bytes(data)
    assert file_sha256(tmp_path / "big") == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "record {path} not found"), ("{", "is not JSON"), ("[1]", "is not a record"), (b"\xff", "is not JSON")],
)
def test_read_json_object_names_the_problem(tmp_path, content, message):
    path = tmp_path / "r.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(InputError) as caught:
        read_json_object(path, "record", "python -m pipelines x --json")
    assert message.format(path=path) in caught.value.message
    assert "python -m pipelines x --json" in str(caught.value.hint)
    path.write_text('{"a": 1}')
    assert read_json_object(path, "record", "x") == {"a": 1}
