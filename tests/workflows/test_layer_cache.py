"""The RC build's layer cache is a registry cache that every RC tag shares (issue 22, item 3).

`cache-from/cache-to: type=gha` is scoped to the git ref: a run restores its own ref's entries or the default
branch's, a new RC tag is a new ref, and nothing on main builds images, so every RC built cold. The build
now reads and writes `{image repository}:buildcache-{arch}` (`type=registry`, `mode=max`), one per project and
architecture. That tag lives beside the CalVer build tags, the build indexes, the release tags and the
staging record tags, so every reader of the tag list must pass it over: checked here through the readers
themselves (promote's and staging's choice, the CalVer, stem, release and record parsers), with controls
that a tag mistakable for one of theirs is caught.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipelines.core.calver import check_build_stem, make_build_tag, order_build_tags, parse_build_tag
from pipelines.core.catalog import IMAGE_PLATFORMS, image_projects
from pipelines.core.errors import CheckFailed, InputError
from pipelines.core.tags import parse_tag
from pipelines.core.versions import parse_release
from pipelines.images.rules import choose_build
from pipelines.plan.steps import build_cache_reference
from pipelines.staging.record import record_tags
from pipelines.staging.target import choose_staging_build
from tests.workflows import runner
from tests.workflows.stand_ins import run_as_step

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD = "_build-image.yml"
BUILD_PUSH = "docker/build-push-action"
LOGIN = "docker/login-action"
CACHE_FROM = "type=registry,ref=${{ steps.calver.outputs.cache }}"
CACHE_TO = "type=registry,ref=${{ steps.calver.outputs.cache }},mode=max"
SHA = "abc1234def5678abc1234def5678abc1234def56"
AT = datetime(2025, 10, 25, 14, 30, tzinfo=UTC)


def _build_step(job: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
    for index, step in enumerate(job.get("steps") or []):
        if str(step.get("uses", "")).startswith(f"{BUILD_PUSH}@"):
            return index, step
    return None


def cache_problems(workflows: dict[str, Any], actions: dict[tuple[str, str], runner.Action]) -> list[str]:
    problems = []
    for name, data in workflows.items():
        for job_id, job in (data.get("jobs") or {}).items():
            for step in job.get("steps") or []:
                for key, value in (step.get("with") or {}).items():
                    if "cache" in key and "type=gha" in str(value):
                        problems.append(f"{name} {job_id}: {key} is a type=gha cache, scoped to the git ref")
    build = workflows[BUILD]["jobs"]["build"]
    found = _build_step(build)
    if found is None:
        return [*problems, f"{BUILD} build: no {BUILD_PUSH} step"]
    index, step = found
    inputs = step.get("with") or {}
    name, ref = step["uses"].split("@")
    declared = actions[(name, ref)].inputs
    for key in ("cache-from", "cache-to"):
        if key not in declared:
            problems.append(f"{BUILD} build: {name} declares no input {key}")
    if inputs.get("cache-from") != CACHE_FROM:
        problems.append(f"{BUILD} build: cache-from is {inputs.get('cache-from')!r}, not the registry cache")
    if inputs.get("cache-to") != CACHE_TO:
        problems.append(f"{BUILD} build: cache-to is {inputs.get('cache-to')!r}, not the registry cache in mode=max")
    if inputs.get("push") is not False or inputs.get("load") is not True:
        problems.append(f"{BUILD} build: the build pushes (only the push job may, from the tested archive)")
    if build.get("permissions") != {"contents": "read", "packages": "write"}:
        problems.append(f"{BUILD} build: holds {build.get('permissions')}; the cache needs packages: write, no more")
    logins = [i for i, s in enumerate(build["steps"]) if str(s.get("uses", "")).startswith(f"{LOGIN}@")]
    if not logins or min(logins) > index:
        problems.append(f"{BUILD} build: no registry login before the build reads the cache")
    else:
        login = build["steps"][min(logins)].get("with") or {}
        if login.get("registry") != "${{ steps.calver.outputs.registry }}" or login.get("password") != (
            "${{ github.token }}"
        ):
            problems.append(f"{BUILD} build: the login is not the run's token at the cache's registry")
    for other_id, other in workflows[BUILD]["jobs"].items():
        for s in other.get("steps") or [] if other_id != "build" else []:
            if any("cache" in key and str(v).lower() != "false" for key, v in (s.get("with") or {}).items()):
                problems.append(f"{BUILD} {other_id}: a job other than build uses a cache")
    return problems


@pytest.fixture(scope="module")
def ours() -> dict[str, Any]:
    return {path.name: runner.load_yaml(path) for path in sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))}


@pytest.fixture(scope="module")
def actions() -> dict[tuple[str, str], runner.Action]:
    return runner.load_actions()


def test_the_build_reads_and_writes_a_registry_cache_with_only_the_permission_it_needs(ours, actions):
    assert cache_problems(ours, actions) == []


def _build(w: dict[str, Any]) -> dict[str, Any]:
    return w[BUILD]["jobs"]["build"]


def _inputs(w: dict[str, Any]) -> dict[str, Any]:
    found = _build_step(_build(w))
    assert found is not None
    return found[1]["with"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        # The cache as it was.
        (
            lambda w: _inputs(w).update({"cache-from": "type=gha,scope=percolate-amd64"}),
            "cache-from is a type=gha cache",
        ),
        (lambda w: _inputs(w).update({"cache-to": CACHE_TO.replace(",mode=max", "")}), "not the registry cache in"),
        (lambda w: _inputs(w).update({"push": True}), "the build pushes"),
        (lambda w: _build(w)["permissions"].update({"id-token": "write"}), "holds {"),
        (lambda w: _build(w)["permissions"].pop("packages"), "holds {"),
        (
            lambda w: _build(w).update(
                steps=[s for s in _build(w)["steps"] if not s.get("uses", "").startswith(LOGIN)]
            ),
            "no registry login",
        ),
        (
            lambda w: w[BUILD]["jobs"]["push"]["steps"][0]["with"].update({"cache-from": CACHE_FROM}),
            "push: a job other than build uses a cache",
        ),
    ],
)
def test_the_cache_check_rejects_its_controls(ours, actions, change, problem):
    broken = copy.deepcopy(ours)
    change(broken)
    problems = cache_problems(broken, actions)
    assert any(problem in line for line in problems), problems


def test_an_input_the_action_does_not_declare_is_caught(ours, actions):
    """Control: the check reads the inputs docker/build-push-action v7.3.0 declares, from its own action.yml."""
    step = _build_step(ours[BUILD]["jobs"]["build"])
    assert step is not None
    name, ref = step[1]["uses"].split("@")
    meta = copy.deepcopy(dict(actions[(name, ref)].meta))
    meta["inputs"] = {k: v for k, v in meta["inputs"].items() if k != "cache-to"}
    changed = {**actions, (name, ref): runner.Action(name, ref, "v7.3.0", ref, meta)}
    assert f"{BUILD} build: {name} declares no input cache-to" in cache_problems(ours, changed)


# ---- the cache reference the workflow computes is the one the plan prints -------------------------


def calver_step(ours: dict[str, Any]) -> dict[str, Any]:
    [step] = [s for s in ours[BUILD]["jobs"]["build"]["steps"] if s.get("id") == "calver"]
    return step


def run_calver_step(script: str, folder: Path, project: str, arch: str) -> dict[str, str]:
    """The calver step's own script under bash, with the real CLI: the step outputs it writes."""
    output = folder / "output"
    output.touch()
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_SHA": SHA,
        "GITHUB_RUN_NUMBER": "57",
        "PROJECT": project,
        "VERSION": "0.2.0",
        "BUILT_AT": "2025-10-25T14:30:00Z",
        "ARCH": arch,
    }
    result = run_as_step(script, env, cwd=folder)
    assert result.returncode == 0, result.stderr
    return dict(line.split("=", 1) for line in output.read_text().splitlines())


@pytest.mark.parametrize("project", [p.name for p in image_projects()])
@pytest.mark.parametrize("arch", IMAGE_PLATFORMS)
def test_the_cache_is_per_project_and_architecture_and_named_as_the_plan_says(ours, tmp_path, project, arch):
    """The calver step's `cache` output is the name the plan prints, under the project's own repository."""
    written = run_calver_step(calver_step(ours)["run"], tmp_path, project, arch)
    repository = next(p for p in image_projects() if p.name == project).image_repository()
    assert written["cache"] == build_cache_reference(repository, arch)
    assert written["registry"] == "ghcr.io"
    plan = subprocess.run(
        [sys.executable, "-m", "pipelines", "plan", f"{project}-v0.1.0-rc1", "--root", "examples/monorepo", "--json"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    [build_step] = [s for s in json.loads(plan.stdout)["steps"] if s["id"] == f"build-{arch}"]
    assert written["cache"] in build_step["description"] and "mode=max" in build_step["description"]
    assert "type=gha" not in build_step["description"]


def test_a_cache_shared_by_the_architectures_is_caught(ours, tmp_path):
    """Control: one cache tag for both architectures (each build's mode=max export would evict the other's)."""
    script = calver_step(ours)["run"].replace(":buildcache-$ARCH", ":buildcache")
    written = run_calver_step(script, tmp_path, "percolate", "arm64")
    assert written["cache"] != build_cache_reference("ghcr.io/percolation-labs/percolate", "arm64")


# ---- the cache tag is no build, stem, release or record tag ----------------------------------------


def mistaken_as(tag: str) -> list[str]:
    """The readers of a repository's tag list that would take `tag` for one of theirs (none, for a cache tag)."""
    taken = []
    try:
        parse_build_tag(tag)
        taken.append("a CalVer build tag")
    except InputError:
        pass
    try:
        check_build_stem(tag)
        taken.append("a build index (CalVer stem)")
    except InputError:
        pass
    for candidate in (tag, tag.rsplit("-", 1)[0]):
        try:
            parse_release(candidate)
            taken.append(f"a release tag ({candidate})")
        except InputError:
            pass
    try:
        parse_tag(tag)
        taken.append("a git release or RC tag")
    except (InputError, CheckFailed):
        pass
    if tag.startswith("sha256-"):
        taken.append("a referrers or staging record tag")
    return taken


def complete_build(version: str = "0.2.0", build: int = 57) -> list[str]:
    tags = [make_build_tag(version=version, sha=SHA, arch=arch, build=build, at=AT).tag for arch in IMAGE_PLATFORMS]
    return [*tags, tags[0].removesuffix(f"-{IMAGE_PLATFORMS[0]}")]


def cache_tags() -> list[str]:
    return [
        build_cache_reference(project.image_repository(), arch).rsplit(":", 1)[1]
        for project in image_projects()
        for arch in IMAGE_PLATFORMS
    ]


@pytest.mark.parametrize("tag", sorted(set(cache_tags())))
def test_the_cache_tag_is_taken_for_nothing_and_changes_no_choice(tag):
    assert mistaken_as(tag) == []
    ordered = order_build_tags([tag])
    assert ordered.tags == () and [u.tag for u in ordered.unparsed] == [tag]
    build = complete_build()
    version = parse_release("0.2.0")
    without = choose_build(build, version, IMAGE_PLATFORMS)
    with_cache = choose_build([*build, *cache_tags()], version, IMAGE_PLATFORMS)
    assert with_cache == without
    assert choose_staging_build([*build, *cache_tags()], IMAGE_PLATFORMS) == choose_staging_build(
        build, IMAGE_PLATFORMS
    )
    only_cache = choose_staging_build(cache_tags(), IMAGE_PLATFORMS)
    assert only_cache.build is None and only_cache.passed_over == ()  # no build, and nothing "passed over"
    subject = "sha256:" + "ab" * 32
    assert record_tags([*cache_tags(), tag], subject) == ()


@pytest.mark.parametrize(
    "tag",
    [
        "2025.10.25.1430-build.57-v0.2.0-abc1234-amd64",  # a CalVer-shaped cache tag
        "2025.10.25.1430-build.57-v0.2.0-abc1234",  # a stem-shaped one
        "0.2.0-amd64",  # a release-shaped one
        "0.2.0",
        "sha256-" + "ab" * 32 + ".buildcache",
    ],
)
def test_the_check_catches_a_cache_tag_mistakable_for_another(tag):
    """Controls: names a cache could have been given, each of which some reader would take for its own."""
    assert mistaken_as(tag) != []
