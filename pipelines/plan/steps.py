"""The plan for a tag: every step the workflow will take, and the artifacts and tags it will produce.

`make_plan` is a pure function of the tag, the version-file check, the commit, the
run number and the time; the CLI gathers those from git and the environment. The
workflows read `plan --json`; people read its text form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipelines.core.calver import make_build_tag
from pipelines.core.catalog import (
    PRODUCTION_ENVIRONMENT,
    PULUMI_STACK,
    STACK_CONFIG_FILE,
    STAGING_APPLICATION_SUFFIX,
    STAGING_ENVIRONMENT,
    Project,
    get_project,
)
from pipelines.core.tags import ReleaseTag, Stage
from pipelines.core.version_check import VersionCheck


@dataclass(frozen=True)
class Step:
    id: str
    description: str


@dataclass(frozen=True)
class Artifact:
    """Something the run produces: an image reference, an index, or a file name (a glob where tags vary)."""

    kind: str
    platform: str | None
    name: str


@dataclass(frozen=True)
class Plan:
    tag: ReleaseTag
    commit: str
    run_number: int
    environment: str | None
    version_check: VersionCheck
    artifacts: tuple[Artifact, ...]
    steps: tuple[Step, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag.name,
            "project": self.tag.project,
            "version": self.tag.version.release,
            "rc": self.tag.rc,
            "stage": self.tag.stage.value,
            "package_version": self.tag.package_version.pep440(),
            "commit": self.commit,
            "run_number": self.run_number,
            "environment": self.environment,
            "version_check": self.version_check.to_dict(),
            "artifacts": [vars(artifact) for artifact in self.artifacts],
            "steps": [vars(step) for step in self.steps],
        }


_Parts = tuple[list[Artifact], list[Step]]

BUILD_CACHE_TAG_PREFIX = "buildcache-"  # `{repository}:buildcache-{arch}`: the RC builds' registry layer cache


def environment_for(project: Project, stage: Stage) -> str | None:
    """The GitHub environment a tag's run deploys to: RC image builds deploy nowhere."""
    if stage is Stage.RELEASE:
        return PRODUCTION_ENVIRONMENT
    return STAGING_ENVIRONMENT if project.ships_wheels else None


def build_cache_reference(repository: str, arch: str) -> str:
    """Where the RC build keeps its layer cache of `arch`: a tag of the image repository itself, read and
    written by every RC build of that platform whatever its tag (a `type=gha` cache is scoped to the git
    ref, and a new RC tag is a new ref, so it never hit). It can be taken for no other tag of the
    repository: CalVer build tags, build indexes and release tags start with a digit, referrers and
    staging record tags with `sha256-` (tests/workflows/test_layer_cache.py asks each reader)."""
    return f"{repository}:{BUILD_CACHE_TAG_PREFIX}{arch}"


def wheel_file_stem(distribution: str, version: str) -> str:
    """`percolate_rocks-0.2.0rc1`: the normalised name and version every file name of a release starts with."""
    return f"{re.sub(r'[-_.]+', '_', distribution).lower()}-{version}"


def _check_step(project: Project, check: VersionCheck) -> Step:
    files = ", ".join(reading.path for reading in check.readings)
    verdict = "ok" if check.ok else f"FAILED: {len(check.problems)} problem(s)"
    return Step("check-versions", f"check that the tag's version {check.expected} equals {files} ({verdict})")


def _image_build(
    project: Project, tag: ReleaseTag, commit: str, run_number: int, at: datetime, registry: str
) -> _Parts:
    repository = project.image_repository(registry)
    artifacts: list[Artifact] = []
    steps: list[Step] = []
    for arch in project.platforms:
        build_tag = make_build_tag(version=tag.version.release, sha=commit, arch=arch, build=run_number, at=at)
        reference = f"{repository}:{build_tag.tag}"
        artifacts.append(Artifact("image", arch, reference))
        steps += [
            Step(
                f"build-{arch}",
                f"build {project.directory}/Dockerfile for linux/{arch} with the registry layer cache "
                f"{build_cache_reference(repository, arch)} (read, then written with every stage: mode=max; "
                "shared by every RC of the project, so only the first build of a platform starts cold)",
            ),
            Step(f"test-{arch}", "start the container and pass its health check"),
            Step(f"scan-{arch}", "Trivy scan: fail on fixable critical or high vulnerabilities"),
            Step(f"push-{arch}", f"push {reference}"),
        ]
    steps.append(Step("metadata", "keep the build metadata JSON (tag, commit, run, image digests) as an artifact"))
    stem = build_tag.tag.removesuffix(f"-{build_tag.arch}")
    application = f"{project.argocd_application}{STAGING_APPLICATION_SUFFIX}"
    steps += [
        Step("build-index", f"write the build's multi-arch index {repository}:{stem} (every platform present)"),
        Step("staging-deploy", f"pulumi up --stack staging in environment {STAGING_ENVIRONMENT}: pin {application}"),
        Step("staging-gate", f"wait until Argo CD application {application} is Synced and Healthy with the index"),
        Step("staging-tests", f"run {project.directory}/tests/integration against the staging URL (JUnit report)"),
        Step("staging-record", "record the result in the registry (subject: the build index), signed with cosign"),
    ]
    return artifacts, steps


def _image_release(project: Project, tag: ReleaseTag, registry: str) -> _Parts:
    repository = project.image_repository(registry)
    version = tag.version.release
    artifacts = [Artifact("image", arch, f"{repository}:{version}-{arch}") for arch in project.platforms]
    artifacts.append(Artifact("image-index", None, f"{repository}:{version}"))
    platforms = ", ".join(project.platforms)
    steps = [
        Step("staging-check", "the build's newest staging record passed; verify its cosign signature"),
        Step("choose-build", f"choose the newest complete RC build of {version} (every platform: {platforms})"),
        Step("check-commit", f"refuse unless that build's commit is the commit of {tag.name}"),
        *(
            Step(f"copy-{arch}", f"copy the {arch} manifest byte for byte to {repository}:{version}-{arch}")
            for arch in project.platforms
        ),
        Step("index", f"copy the build's own index byte for byte to {repository}:{version} (the digest staging ran)"),
        Step("sign", "cosign keyless signature of the index (recursive), SPDX SBOM attestation, both verified"),
        Step(
            "write-back",
            f"write the digests into {STACK_CONFIG_FILE} (images.{project.name}) "
            f"and open pull request deploy/{project.name}-v{version}",
        ),
        Step(
            "deploy",
            f"after review and merge: pulumi up --stack {PULUMI_STACK} in environment {PRODUCTION_ENVIRONMENT}, "
            f"then wait until Argo CD application {project.argocd_application} is Synced and Healthy",
        ),
        Step("github-release", f"GitHub release {tag.name} with the notes"),
    ]
    return artifacts, steps


def _wheel_artifacts(project: Project, version: str) -> list[Artifact]:
    stem = wheel_file_stem(str(project.distribution), version)
    artifacts = [
        Artifact("wheel", target.name, f"{stem}-*-{target.platform_tag_glob}.whl") for target in project.wheel_targets
    ]
    artifacts.append(Artifact("sdist", None, f"{stem}.tar.gz"))
    return artifacts


def _benchmark_step(project: Project) -> list[Step]:
    """The RC's benchmarks against the last release's, where the catalog gives the project benchmarks."""
    if project.benchmarks_dir is None:
        return []
    return [
        Step(
            "benchmarks",
            f"run {project.benchmarks_dir} against the built Linux wheel and compare with the last release's "
            f"results: a slowdown beyond {project.benchmark_threshold_pct:g}% and the runs' noise fails the RC",
        )
    ]


def _wheels_build(project: Project, tag: ReleaseTag) -> _Parts:
    package_version = tag.package_version.pep440()
    artifacts = _wheel_artifacts(project, package_version)
    steps = [
        Step(
            "check-unpublished",
            f"refuse the RC before anything is built when TestPyPI already holds a file of {package_version} "
            '("Version already exists": push the next rc tag; a file name is never taken twice)',
        ),
        Step(
            "set-version",
            f"set {project.directory}/pyproject.toml to {package_version} in the build workspace only "
            f"(the compiled crate keeps {tag.version.release})",
        ),
        Step("cargo-test", "cargo test"),
        *(Step(f"wheel-{t.name}", f"build the {t.name} wheel on {t.build_runner}") for t in project.wheel_targets),
        Step("sdist", f"build the sdist {artifacts[-1].name}"),
        *(
            Step(f"test-{t.name}", f"Python integration tests against the {t.name} wheel")
            for t in project.wheel_targets
        ),
        *_benchmark_step(project),
        Step(
            "publish",
            f"publish to TestPyPI by trusted publishing in environment {STAGING_ENVIRONMENT}: only the files "
            "TestPyPI lacks, after checking that those it has are this run's very bytes",
        ),
        Step("metadata", "keep the build metadata JSON (tag, commit, run, files with sha256); GitHub pre-release"),
        *(
            Step(
                f"staging-{t.name}",
                f"install {project.distribution}=={package_version} from TestPyPI on a clean "
                f"{t.name} runner and run {project.directory}/tests/integration",
            )
            for t in project.wheel_targets
        ),
        Step("staging-record", "attach the staging record (result, sha256 of each file) to the GitHub pre-release"),
    ]
    return artifacts, steps


def _wheels_release(project: Project, tag: ReleaseTag) -> _Parts:
    version = tag.version.release
    artifacts = _wheel_artifacts(project, version)
    steps = [
        Step(
            "find-rc",
            f"find the newest {version}rcN with every wheel and the sdist on TestPyPI, checking sha256; "
            "refuse it unless its staging record passed for exactly those files",
        ),
        Step("promote", f"re-version those files to {version} without rebuilding (compiled payload byte-identical)"),
        Step("sbom", "an SPDX SBOM of the release files (the package, and the crates its Cargo.lock compiles in)"),
        Step("sign", "sigstore signatures of every file and the SBOM, verified against this workflow"),
        Step(
            "publish",
            f"publish to PyPI by trusted publishing with attestations in environment {PRODUCTION_ENVIRONMENT} "
            "(after a reviewer's approval; the one step that cannot be undone)",
        ),
        Step("github-release", f"GitHub release {tag.name} with the files and notes"),
    ]
    return artifacts, steps


def make_plan(
    tag: ReleaseTag, check: VersionCheck, *, commit: str, run_number: int, at: datetime, registry: str
) -> Plan:
    """Everything the workflow for `tag` will do, given the version check and where and when it runs."""
    project = get_project(tag.project)
    if project.ships_images:
        artifacts, steps = (
            _image_build(project, tag, commit, run_number, at, registry)
            if tag.stage is Stage.BUILD
            else _image_release(project, tag, registry)
        )
    else:
        artifacts, steps = _wheels_build(project, tag) if tag.stage is Stage.BUILD else _wheels_release(project, tag)
    return Plan(
        tag=tag,
        commit=commit,
        run_number=run_number,
        environment=environment_for(project, tag.stage),
        version_check=check,
        artifacts=tuple(artifacts),
        steps=(_check_step(project, check), *steps),
    )
