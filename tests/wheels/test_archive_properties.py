"""Property tests of the archives promotion reads (issue 12): arbitrary bytes, and real wheels and sdists
with bytes overwritten, end in a clean refusal (a PipelineError naming the file) or a verified rewrite;
nothing is left in the target folder on a refusal."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.core.errors import PipelineError
from pipelines.wheels.reversion import rewrite
from pipelines.wheels.select import parse_filename

RC, FINAL = "0.2.0rc3", "0.2.0"


def overwritten(real: bytes) -> st.SearchStrategy[bytes]:
    """`real` with a few runs of bytes overwritten (headers, compressed data, the central directory)."""
    edit = st.tuples(st.integers(0, max(len(real) - 1, 0)), st.binary(min_size=1, max_size=8))
    return st.lists(edit, min_size=1, max_size=4).map(lambda edits: _apply(real, edits))


def _apply(real: bytes, edits: list[tuple[int, bytes]]) -> bytes:
    data = bytearray(real)
    for offset, chunk in edits:
        data[offset : offset + len(chunk)] = chunk
    return bytes(data[: len(real)])


def promote_bytes(name: str, content: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="archive-property-") as folder:
        source, out = Path(folder) / "in" / name, Path(folder) / "out"
        source.parent.mkdir()
        out.mkdir()
        source.write_bytes(content)
        parsed = parse_filename(name)
        try:
            rewrite(source, out, parsed, parsed.with_version(FINAL))
        except PipelineError as error:
            assert name in str(error)
            assert list(out.iterdir()) == []


@settings(max_examples=60)
@given(data=st.data(), kind=st.sampled_from(["wheel", "sdist"]))
def test_any_bytes_as_a_wheel_or_sdist(rc_sets, data, kind):
    build = rc_sets.build(RC)
    path = build.wheel if kind == "wheel" else build.sdist
    content = data.draw(st.one_of(st.binary(max_size=300), overwritten(path.read_bytes())))
    promote_bytes(path.name, content)
