"""One form of each release verification command: the docs show what pipelines/notes/verification.py makes.

The release notes print the commands that verify a release (`changelog`), the dashboard shows their
signature checks, and the docs show them too. Three hand-written forms had drifted apart (different
identity regexps, one without the workflow ref, one without the commit). Now each doc block of them
is marked `<!-- verification: notes|dashboard TAG -->` and must equal the module's output for TAG
(repository percolation-labs/percolate, no promotion record, `<commit>` for the tag's commit); and no
`cosign verify` of `_release-image.yml` or `sigstore verify identity` of `release-rocks.yml` may stand
outside such a block. Controls: the former hand-written block of releasing.md, and a generated block
with one flag dropped.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipelines.core.tags import parse_tag
from pipelines.notes.verification import verification_of

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
REPOSITORY = "percolation-labs/percolate"
MARKED = re.compile(r"<!-- verification: (notes|dashboard) (\S+) -->\n```sh\n(.*?)\n```", re.DOTALL)
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
# A release verification command: of the images' signatures (the release workflow's identity) or the wheels'.
RELEASE_CHECK = re.compile(
    r"cosign verify(?:-attestation)?\b[^\n]*(?:\\\n[^\n]*)*_release-image|sigstore verify identity"
)


def generated(kind: str, tag: str) -> str:
    checks = verification_of(parse_tag(tag), REPOSITORY, None)
    assert checks is not None, f"{tag} is an RC: it has no verification"
    return "\n".join(checks.signature_commands if kind == "dashboard" else checks.commands)


def problems(name: str, text: str) -> list[str]:
    found = []
    marked = []
    for block in MARKED.finditer(text):
        kind, tag, shown = block.groups()
        marked.append(block.span(3))
        if shown != generated(kind, tag):
            found.append(f"{name}: the {kind} verification of {tag} is not what pipelines/notes/verification.py makes")
    for block in FENCE.finditer(text):
        inside = any(start <= block.start(1) < end for start, end in marked)
        if not inside and RELEASE_CHECK.search(block.group(1)):
            line = text.count("\n", 0, block.start()) + 1
            found.append(f"{name}:{line}: a release verification command outside a generated block")
    return found


def test_every_verification_block_of_the_docs_is_the_generators():
    found = [line for path in SOURCES for line in problems(path.name, path.read_text(encoding="utf-8"))]
    assert found == []


def test_the_docs_show_each_kind():
    shown = {
        (kind, parse_tag(tag).project)
        for path in SOURCES
        for kind, tag, _ in MARKED.findall(path.read_text(encoding="utf-8"))
    }
    assert shown >= {("notes", "percolate"), ("notes", "percolate-rocks"), ("dashboard", "percolate")}


FORMER = """```sh
cosign verify ghcr.io/percolation-labs/percolate@sha256:<index or platform digest> \\
  --certificate-identity-regexp '^https://github\\.com/percolation-labs/percolate/\\.github/workflows/_release-image\\.yml@(refs/tags/percolate-v0\\.2\\.0|<commit>)$' \\
  --certificate-github-workflow-sha <commit> \\
  --certificate-oidc-issuer https://token.actions.githubusercontent.com
```
"""  # noqa: E501


def test_control_the_former_hand_written_block_is_rejected():
    assert problems("releasing.md", FORMER) == [
        "releasing.md:1: a release verification command outside a generated block"
    ]


def test_control_a_generated_block_changed_by_hand_is_rejected():
    block = generated("notes", "percolate-v0.2.0")
    edited = block.replace(" \\\n  --certificate-github-workflow-ref refs/tags/percolate-v0.2.0", "", 1)
    assert edited != block
    text = f"<!-- verification: notes percolate-v0.2.0 -->\n```sh\n{edited}\n```\n"
    assert problems("release-notes.md", text) == [
        "release-notes.md: the notes verification of percolate-v0.2.0 is not what pipelines/notes/verification.py makes"
    ]


@pytest.mark.parametrize("tag", ["percolate-v0.2.0", "percolate-rocks-v0.2.0"])
def test_control_an_unmarked_copy_of_the_generated_commands_is_rejected(tag):
    text = f"```sh\n{generated('notes', tag)}\n```\n"
    assert problems("wheels.md", text) and "outside a generated block" in problems("wheels.md", text)[0]
