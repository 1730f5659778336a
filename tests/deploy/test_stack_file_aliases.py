"""Anchors and aliases in a stack file (issue 21, item 6): a chain of aliases a few hundred bytes long expands
to 9^9 nodes in whatever walks the document, so every reader of a stack file refuses any anchor or alias,
found in the parser's event stream before anything is composed: exit 2 naming the file and the line, at once.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from pipelines.core.errors import InputError
from pipelines.dashboard.history import stack_history
from pipelines.deploy import write_back
from pipelines.deploy.write_back import StackFile
from pipelines.edges.git_history import FileVersion
from tests.support.special_files import run_guarded

GOLDEN = Path(__file__).parent / "data" / "Pulumi.prod.golden.yaml"
DIGEST = "sha256:" + "a" * 64


def alias_chain(levels: int = 9) -> str:
    """The golden stack file with one more key: a list of nine scalars, and `levels` lists of nine aliases of
    the one before (9^(levels+1) scalars once expanded). Its first anchor is on line CHAIN_LINE."""
    lines = ["  percolate-platform:notes:", "    l0: &l0 [a, a, a, a, a, a, a, a, a]"]
    lines += [f"    l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, levels + 1)]
    return GOLDEN.read_text() + "\n".join(lines) + "\n"


CHAIN_LINE = len(GOLDEN.read_text().splitlines()) + 2


@pytest.fixture
def chain(tmp_path) -> Path:
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(alias_chain())
    return path


def refused(result, path: Path) -> None:
    """Exit 2 naming the file, the line of the first anchor and the fix; no traceback."""
    assert result.code == 2, (result.code, result.stderr)
    assert "Traceback" not in result.stderr
    assert f"{path}: line {CHAIN_LINE}: an anchor &l0" in result.stderr
    assert "write the values out in full" in result.stderr


def reader_commands(path: Path, tmp_path: Path, promotion: dict) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Every command that reads a stack file given as --stack-config: (module, arguments)."""
    record = tmp_path / "promotion.json"
    record.write_text(json.dumps(promotion))
    return {
        "stack-config show": ("pipelines", ("stack-config", "show", "--stack-config", str(path))),
        "stack-config set-image": (
            "pipelines",
            ("stack-config", "set-image", "percolate", "--promotion", str(record), "--stack-config", str(path)),
        ),
        "promote": (
            "pipelines",
            ("promote", "percolate-v0.1.0", "--registry", "127.0.0.1:9/x", "--stack-config", str(path)),
        ),
        "rollback": ("pipelines", ("rollback", "percolate", "--stack-config", str(path))),
        "wait-healthy": (
            "pipelines",
            ("wait-healthy", "percolate-reading", "--digest", DIGEST, "--stack-config", str(path), "--timeout", "1"),
        ),
        "trusted-publishers": (
            "pipelines",
            ("trusted-publishers", "--stack-config", str(path), "--root", str(tmp_path)),
        ),
        "infra render": ("infra", ("render", "--stack-config", str(path))),
    }


READERS = ("stack-config show", "stack-config set-image", "promote", "rollback", "wait-healthy")
READERS += ("trusted-publishers", "infra render")


@pytest.mark.parametrize("command", READERS)
def test_every_reader_refuses_an_alias_chain_at_once(chain, tmp_path, command, make_pin, promotion_record):
    module, args = reader_commands(chain, tmp_path, promotion_record(make_pin("percolate", "0.2.0")))[command]
    before = chain.read_bytes()
    refused(run_guarded(*args, module=module, cwd=tmp_path), chain)
    assert chain.read_bytes() == before


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("config:\n  a: &x 1\n", 2, "an anchor &x"),  # an anchor alone is refused too
        ("config:\n  a: [1]\n  b: !!str &y 2\n", 3, "an anchor &y"),
        ("config:\n  a: &z {k: v}\n  b: *z\n", 2, "an anchor &z"),
        ("config:\n  ? &k key\n  : 1\n", 2, "an anchor &k"),
    ],
)
def test_a_single_anchor_anywhere_is_refused_with_its_line(tmp_path, text, line, what):
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(text)
    result = run_guarded("stack-config", "show", "--stack-config", str(path))
    assert result.code == 2 and f"{path}: line {line}: {what}" in result.stderr


def test_rollback_skips_a_historic_version_with_an_alias_chain_with_a_note(monorepo, make_pin):
    path = monorepo.root / "Pulumi.prod.yaml"
    shutil.copy(GOLDEN, path)
    stack = StackFile(path)
    stack.write_pin(make_pin("percolate", "0.2.0"))
    monorepo.commit_all("deploy 0.2.0")
    path.write_text(path.read_text() + alias_chain().removeprefix(GOLDEN.read_text()))
    monorepo.commit_all("someone's anchors")
    shutil.copy(GOLDEN, path)
    StackFile(path).write_pin(make_pin("percolate", "0.3.0"))
    monorepo.commit_all("deploy 0.3.0")

    result = run_guarded("rollback", "percolate", "--json", cwd=monorepo.root)

    assert result.code == 0, result.stderr
    assert result.json()["version"] == "0.2.0"
    assert "skipping Pulumi.prod.yaml at" in result.stderr and "does not parse" in result.stderr


def test_the_dashboard_notes_a_stack_file_version_with_anchors_and_goes_on(monorepo, tmp_path):
    path = monorepo.root / "Pulumi.prod.yaml"
    path.write_text(alias_chain())
    monorepo.commit_all("anchors")
    shutil.copy(GOLDEN, path)
    monorepo.commit_all("written out")
    out = tmp_path / "site"

    result = run_guarded("dashboard", "--out", str(out), "--root", str(monorepo.root))

    assert result.code == 0, result.stderr
    assert "anchor &l0" in result.stderr
    notes = json.loads((out / "dashboard.json").read_text())["notes"]
    assert [note for note in notes if "anchor &l0" in note and "does not parse" in note] == notes != []


def test_history_refuses_the_version_with_anchors_and_keeps_the_others():
    at = datetime(2025, 1, 1, tzinfo=UTC)
    versions = [
        FileVersion("a" * 40, at, "anchors", alias_chain()),
        FileVersion("b" * 40, at + timedelta(hours=1), "ok", GOLDEN.read_text()),
    ]
    history = stack_history(versions, "Pulumi.prod.yaml")
    assert [d.version for d in history.deploys["percolate"]] == ["0.1.0"]
    assert len(history.notes) == 1 and history.notes[0].startswith("Pulumi.prod.yaml at aaaaaaa does not parse")


# --- the property: exactly the texts with an anchor or an alias are refused, in both parsers

keys = st.text(alphabet="abcdefghij-_", min_size=1, max_size=6)
scalars = st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=10)
trees = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=3),
    max_leaves=12,
)
containers = st.lists(scalars, max_size=3) | st.dictionaries(keys, scalars, max_size=3)


@st.composite
def stack_texts(draw) -> tuple[str, str | None]:
    """(text, how it uses anchors: None, "shared" (an anchored container and its aliases, as PyYAML writes an
    object that appears twice) or "anchor" (an anchored scalar and no alias))."""
    config = draw(st.dictionaries(keys, trees, max_size=4))
    how = draw(st.sampled_from([None, "shared", "anchor"]))
    flow = how != "anchor" and draw(st.booleans())  # a key is appended to the block mapping
    if how == "shared":
        shared = draw(containers)
        config["SHARED1"], config["SHARED2"] = shared, shared
    text = yaml.safe_dump({"config": config}, default_flow_style=flow, allow_unicode=True)
    if how == "anchor":
        name = draw(st.text(alphabet="abcxyz019", min_size=1, max_size=5))
        value = draw(st.sampled_from(["1", "word", "[a, b]", "{k: v}", '"q"', "''"]))
        text += f"ANCHORED: &{name} {value}\n"
    return text, how


@given(stack_texts(), st.booleans())
def test_the_reader_refuses_exactly_the_texts_with_anchors_or_aliases(case, positions):
    text, how = case
    if how is None:
        data, _ = write_back.stack_document(text, "P.yaml", positions=positions)
        assert data == yaml.safe_load(text)
    else:
        with pytest.raises(InputError) as caught:
            write_back.stack_document(text, "P.yaml", positions=positions)
        assert "an anchor &" in caught.value.message or "an alias *" in caught.value.message
        assert caught.value.message.startswith("P.yaml: line ")


@given(st.text(alphabet="&*[]{}:,-? \n!abx1'\"#|>", max_size=60), st.booleans())
def test_any_text_is_a_document_without_aliases_or_a_clean_input_error(text, positions):
    loader = yaml.SafeLoader if positions else yaml.CSafeLoader
    try:
        data, _ = write_back.stack_document(text, "P.yaml", positions=positions)
    except InputError:
        return
    assert data == yaml.load(text, Loader=loader)
    assert not any(getattr(event, "anchor", None) for event in yaml.parse(text, Loader=loader))
