"""docs/config-reference.md names every `percolate-platform:*` key the Pulumi program reads, and which stacks read it.

The keys are not listed here: they are recorded while the program's own validators read a stack config
that sets every section (the committed Pulumi.prod.yaml and Pulumi.staging.yaml, with every optional
secret, a canary with each kind of analysis and the Argo Rollouts gate added). The one reader of a section
(`pipelines.core.config_fields.ConfigObject`) names the fields of each object it reads; the images subtree's
fields are `pipelines.deploy.pins`'s. So a key
the program starts reading is missing from the reference at once, and a key it stops reading is stale
there. Each reference row is `| \\`key\\` | stacks | …`, stacks `prod`, `staging` or `prod, staging`.
Controls: the reference without a row, with a row the program does not read, with the wrong stacks.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import infra.config
from infra.render import read_stack_file
from infra.staging import parse_staging_settings
from pipelines.core.catalog import PULUMI_PROJECT, image_projects
from pipelines.core.config_fields import ConfigObject
from pipelines.deploy.pins import OPTIONAL_FIELDS, PIN_FIELDS

REPO_ROOT = Path(__file__).resolve().parents[2]
REFERENCE = REPO_ROOT / "docs" / "config-reference.md"
ROW = re.compile(r"^\| `([^`]+)` \| ([a-z, ]+) \|", re.MULTILINE)
PREFIX = f"{PULUMI_PROJECT}:"
PROJECTS = "|".join(re.escape(project.name) for project in image_projects())


def normal(path: str) -> str:
    """`percolate-platform:canary.percolate-reading.steps[2].pause` -> `canary.<project>.steps`."""
    key = re.sub(r"\[\d+\]", "[]", path.removeprefix(PREFIX))
    key = re.sub(rf"^(images|canary)\.(?:{PROJECTS})(?=\.|$)", r"\1.<project>", key)
    return key.split(".steps[]", 1)[0]


@contextmanager
def recording() -> Iterator[set[str]]:
    """Every key a validator reads while the block runs (the fields it names for each object it reads)."""
    seen: set[str] = set()
    patch = pytest.MonkeyPatch()

    def note(path: str, fields: tuple[str, ...], separator: str = ".") -> None:
        seen.update(normal(f"{path}{separator}{field}") for field in fields)

    original = ConfigObject.__init__

    def reading(self, data, path, fields, example, *, guide, separator="."):
        note(path, fields, separator)
        original(self, data, path, fields, example, guide=guide, separator=separator)

    patch.setattr(ConfigObject, "__init__", reading)
    try:
        yield seen
    finally:
        patch.undo()


def _with(values: dict[str, str], key: str, change) -> dict[str, str]:
    data = json.loads(values[PREFIX + key])
    change(data)
    return {**values, PREFIX + key: json.dumps(data)}


def keys_read() -> dict[str, set[str]]:
    """Each key the program reads -> the stacks (prod, staging) that read it."""
    stacks: dict[str, set[str]] = defaultdict(set)
    prod = read_stack_file(REPO_ROOT / "Pulumi.prod.yaml")
    secrets = {PREFIX + name for name in infra.config.SECRETS}
    values = {**prod.values, **{key: "[secret]" for key in secrets}}
    prometheus = {"prometheus": {"address": "http://prometheus:9090", "query": "up", "successCondition": "true"}}
    variants = [
        values,
        _with(values, "canary", lambda canary: canary["percolate-reading"].update(analysis=prometheus)),
    ]
    for variant in variants:
        with recording() as seen:
            infra.config.parse_settings(variant, set(prod.secret_keys) | secrets)
        for key in seen:
            stacks[key].add("prod")
    for field in (*PIN_FIELDS, *OPTIONAL_FIELDS):
        stacks[f"images.<project>.{field}"].add("prod")
    staging = read_stack_file(REPO_ROOT / "Pulumi.staging.yaml")
    with recording() as seen:
        parse_staging_settings(staging.values, set(staging.secret_keys))
    for key in seen:
        stacks[key].add("staging")
    return dict(stacks)


def reference_rows(text: str) -> dict[str, set[str]]:
    return {key: {stack.strip() for stack in stacks.split(",")} for key, stacks in ROW.findall(text)}


def problems(read: dict[str, set[str]], rows: dict[str, set[str]]) -> list[str]:
    found = [f"{key}: read by the program ({', '.join(sorted(read[key]))}), not in the reference" for key in read]
    found = [line for line, key in zip(found, read, strict=True) if key not in rows]
    found += [f"{key}: in the reference, read by no stack" for key in sorted(set(rows) - set(read))]
    found += [
        f"{key}: the reference says {', '.join(sorted(rows[key]))}; read by {', '.join(sorted(read[key]))}"
        for key in sorted(set(rows) & set(read))
        if rows[key] != read[key]
    ]
    return found


@pytest.fixture(scope="module")
def read() -> dict[str, set[str]]:
    return keys_read()


def test_the_recording_sees_every_section(read):
    assert {"repository.owner", "releaseManagers.teams[].id", "argocd.retry.limit", "canary.<project>.steps"} <= set(
        read
    )
    assert {"canary.<project>.analysis.prometheus.query", "argoRollouts.gate.kind", "urls.percolate-api"} <= set(read)
    assert read["argocd.basePath"] == {"prod", "staging"} and read["registry"] == {"staging"}


def test_the_reference_names_every_key_for_its_stacks(read):
    assert problems(read, reference_rows(REFERENCE.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda rows: rows.pop("argocd.retry.backoffFactor"), "argocd.retry.backoffFactor: read by the program"),
        (lambda rows: rows.update({"argocd.syncWindow": {"prod"}}), "argocd.syncWindow: in the reference"),
        (lambda rows: rows.update({"registry": {"prod", "staging"}}), "registry: the reference says prod, staging"),
    ],
)
def test_control_a_reference_out_of_step_is_rejected(read, change, problem):
    rows = reference_rows(REFERENCE.read_text(encoding="utf-8"))
    change(rows)
    found = problems(read, rows)
    assert any(line.startswith(problem) for line in found), found
