"""docs/getting-started.md is complete: every name the workflows and the Pulumi program use appears in it.

The names are derived, not listed: secrets and variables from the expressions of every workflow (and
the secrets a reusable workflow declares), the Pulumi teams from the `scope` of each
`pulumi/auth-actions` step, the GitHub environments from every job and from the environments the
program declares (rendered under Pulumi's mocks), the stack outputs from what the workflows read of a
pulumi/actions step and from every `pulumi.export` in infra/, the Actions secrets from the program's
config map. A name counts as present when the guide shows it as code (inline or in a block), as a whole
word. The controls remove one name of each kind from a copy of the guide, and add a secret to a copy of
a workflow: the check must name what is missing.
"""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from infra.config import SECRETS
from infra.render import offline_answers, read_stack_file, run_program
from tests.workflows import runner
from tests.workflows.conftest import REPO_ROOT, WORKFLOWS_DIR
from tests.workflows.test_pulumi_outputs import pulumi_reads

GUIDE = REPO_ROOT / "docs" / "getting-started.md"
DOCS = REPO_ROOT / "docs"
INFRA = REPO_ROOT / "infra"
AUTH_ACTION = "pulumi/auth-actions"
TEAM_TOKEN = "urn:pulumi:token-type:access_token:team"
ENVIRONMENT = "github:index/repositoryEnvironment:RepositoryEnvironment"
CONTEXT = re.compile(r"\b(secrets|vars)\.([A-Za-z_][A-Za-z0-9_]*)")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")


# ---- what the workflows and the program use ----------------------------------------------------------


def _expressions(value: Any, key: str = "") -> Iterator[str]:
    """Every expression of a workflow: `${{ … }}` anywhere (scripts included), and each whole `if:`."""
    if isinstance(value, str):
        yield from runner.EXPRESSION.findall(value)
        if key == "if":
            yield value
    elif isinstance(value, Mapping):
        for name, item in value.items():
            yield from _expressions(item, str(name))
    elif isinstance(value, list):
        for item in value:
            yield from _expressions(item, key)


def workflow_names(workflows: Mapping[str, Any]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {"secret": set(), "variable": set(), "team": set(), "environment": set()}
    for data in workflows.values():
        for expression in _expressions(data):
            for context, name in CONTEXT.findall(expression):
                found["secret" if context == "secrets" else "variable"].add(name)
        found["secret"] |= set(runner.workflow_call(data).get("secrets") or {})
    for workflow, job_id, job in runner.jobs(workflows):
        environment = job.get("environment")
        if environment is not None:
            found["environment"].add(environment["name"] if isinstance(environment, Mapping) else environment)
        for step in runner.steps(job):
            parsed = runner.split_uses(step.get("uses", "./"))
            if parsed and parsed[0] == AUTH_ACTION:
                given = step.get("with") or {}
                assert given.get("requested-token-type") == TEAM_TOKEN, f"{workflow} job {job_id}: not a team token"
                kind, _, team = str(given["scope"]).partition(":")
                assert kind == "team", f"{workflow} job {job_id}: scope {given['scope']!r}"
                found["team"].add(team)
    found["output"] = {read.output for read in pulumi_reads(workflows, runner.load_actions())}
    return found


def infra_exports() -> set[str]:
    """The names every `pulumi.export("name", …)` in infra/ gives, whichever stack runs it."""
    names = set()
    for path in sorted(INFRA.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "export"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                names.add(str(node.args[0].value))
    return names


def infra_names() -> dict[str, set[str]]:
    config = read_stack_file(REPO_ROOT / "Pulumi.prod.yaml")
    rendering = run_program(config, offline_answers(config))
    return {
        "secret": set(SECRETS.values()),
        "environment": {str(r.inputs["environment"]) for r in rendering.of_type(ENVIRONMENT)},
        "output": infra_exports(),
    }


def load_workflows() -> dict[str, Any]:
    return {path.name: runner.load_yaml(path) for path in sorted(WORKFLOWS_DIR.glob("*.yml"))}


# ---- what the guide shows -----------------------------------------------------------------------------


def code_of(text: str) -> str:
    """The guide's code, blocks and inline spans, one piece a line."""
    blocks = FENCE.findall(text)
    prose = FENCE.sub("", text)
    return "\n".join([*blocks, *INLINE.findall(prose)])


def shows(code: str, name: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", code) is not None


def missing(text: str, names: Mapping[str, set[str]]) -> list[str]:
    code = code_of(text)
    return [f"{kind} {name}" for kind in sorted(names) for name in sorted(names[kind]) if not shows(code, name)]


def without(text: str, name: str) -> str:
    return re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", "REMOVED", text)


@pytest.fixture(scope="module")
def workflows() -> dict[str, Any]:
    return load_workflows()


@pytest.fixture(scope="module")
def names(workflows) -> dict[str, set[str]]:
    merged: dict[str, set[str]] = {}
    for source in (workflow_names(workflows), infra_names()):
        for kind, found in source.items():
            merged.setdefault(kind, set()).update(found)
    return merged


@pytest.fixture(scope="module")
def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def test_the_derivation_finds_what_the_setup_is_made_of(names):
    """A derivation that quietly found nothing would pass any guide."""
    assert names["secret"] >= {"KUBECONFIG", "STAGING_KUBECONFIG", "INFRA_GITHUB_TOKEN", "PERCOLATE_GIT_PAT"}
    assert names["secret"] >= {"SLACK_WEBHOOK_URL", "DISCORD_WEBHOOK_URL", "PYPI_API_TOKEN", "TEST_PYPI_API_TOKEN"}
    assert names["variable"] == {"PULUMI_ORGANIZATION"}
    assert names["team"] == {"platform-preview", "platform-deploy", "platform-staging"}
    assert names["environment"] >= {"production", "staging", "github-pages"}
    assert names["output"] >= {"argocdImages", "stagingBuilds", "trustedPublishers", "repository"}


def test_every_name_the_workflows_and_the_program_use_is_in_the_guide(guide, names):
    assert missing(guide, names) == []


@pytest.mark.parametrize("kind", ["secret", "variable", "team", "environment", "output"])
def test_control_a_name_removed_from_the_guide_is_reported(guide, names, kind):
    name = sorted(names[kind])[0]
    assert missing(without(guide, name), names) == [f"{kind} {name}"]


def test_control_a_name_in_prose_only_does_not_count(guide, names):
    name = "STAGING_KUBECONFIG"
    prose_only = without(guide, name) + f"\nThe staging secret is called {name}.\n"
    assert missing(prose_only, names) == [f"secret {name}"]


def test_control_a_secret_a_workflow_starts_using_must_be_in_the_guide(guide, workflows, names):
    changed = copy.deepcopy(workflows)
    [step] = [s for s in changed["deploy.yml"]["jobs"]["deploy"]["steps"] if s.get("id") == "up"]
    step["env"]["ARGOCD_AUTH_TOKEN"] = "${{ secrets.ARGOCD_AUTH_TOKEN }}"
    found = workflow_names(changed)
    assert "ARGOCD_AUTH_TOKEN" in found["secret"]
    assert missing(guide, {**names, "secret": names["secret"] | found["secret"]}) == ["secret ARGOCD_AUTH_TOKEN"]


# ---- its links ------------------------------------------------------------------------------------------


def anchors(text: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#{1,6} (.+)$", FENCE.sub("", text), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-") for heading in headings}


def broken_links(document: Path) -> list[str]:
    problems = []
    for target in LINK.findall(FENCE.sub("", document.read_text(encoding="utf-8"))):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        linked = (document.parent / path).resolve() if path else document
        if not linked.is_file():
            problems.append(f"{document.name}: {target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked.read_text(encoding="utf-8")):
            problems.append(f"{document.name}: {target}: no such heading")
    return problems


def test_the_guides_links_and_the_links_into_it_resolve():
    linking = [path for path in DOCS.glob("*.md") if "getting-started.md" in path.read_text(encoding="utf-8")]
    problems = broken_links(GUIDE)
    for path in linking:
        problems += [p for p in broken_links(path) if "getting-started.md" in p]
    assert problems == []
    assert {path.name for path in linking} >= {"infra.md", "canary.md", "deployment.md"}


def test_control_a_link_to_a_heading_that_does_not_exist_is_reported(tmp_path):
    document = tmp_path / "guide.md"
    document.write_text("## 5. The first `pulumi up`\n[ok](#5-the-first-pulumi-up) [gone](#6-the-second)\n")
    assert broken_links(document) == ["guide.md: #6-the-second: no such heading"]
