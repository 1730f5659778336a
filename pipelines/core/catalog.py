"""The catalog: the monorepo's three projects and every name that belongs to them.

This module is the one place that spells project names, version files, image
repositories, platforms, wheel targets and Argo CD application names. `infra`, the
CLI and the tests read it; workflow YAML is checked against it by the tests.
"""

from __future__ import annotations

from enum import Enum

from pipelines.core.errors import InputError
from pipelines.core.values import Value

DEFAULT_REGISTRY = "ghcr.io/percolation-labs"
PULUMI_PROJECT = "percolate-platform"
PULUMI_STACK = "prod"
# The monorepo on GitHub (as Pulumi.prod.yaml's `repository`): release notes link its pull requests and commits.
GITHUB_REPOSITORY = "percolation-labs/percolate"
STACK_CONFIG_FILE = "Pulumi.prod.yaml"
# The stack config key of that repository's `{owner, name}` object.
REPOSITORY_KEY = f"{PULUMI_PROJECT}:repository"
# GitHub deployment environments: TestPyPI publishing runs in staging; PyPI and deploys in production.
STAGING_ENVIRONMENT = "staging"
PRODUCTION_ENVIRONMENT = "production"
# The staging stack's Argo CD Applications are the prod ones' names with this suffix.
STAGING_APPLICATION_SUFFIX = "-staging"


class ArtifactKind(str, Enum):
    WHEELS = "wheels"
    IMAGE = "image"


class PublishingIndex(Value):
    """A package index the wheel project publishes to: TestPyPI for RC builds, PyPI for releases."""

    name: str
    host: str
    upload_url: str
    simple_url: str


PYPI = PublishingIndex("pypi", "pypi.org", "https://upload.pypi.org/legacy/", "https://pypi.org/simple/")
TESTPYPI = PublishingIndex(
    "testpypi", "test.pypi.org", "https://test.pypi.org/legacy/", "https://test.pypi.org/simple/"
)


class WheelTarget(Value):
    """One platform a wheel is built for: the Actions runner that builds it, and the glob its platform tag matches."""

    name: str
    build_runner: str
    platform_tag_glob: str


class Project(Value):
    """One independently versioned project of the monorepo."""

    name: str
    directory: str
    artifact: ArtifactKind
    # Paths relative to the monorepo root; the first one is the version of record.
    version_files: tuple[str, ...]
    image_name: str | None = None
    platforms: tuple[str, ...] = ()
    wheel_targets: tuple[WheelTarget, ...] = ()
    distribution: str | None = None
    argocd_application: str | None = None
    # Folders outside `directory` whose commits belong to this project's release notes too.
    extra_paths: tuple[str, ...] = ()
    # The Argo Rollouts `Rollout` its manifests hold instead of a Deployment: only such a project can
    # roll out by canary steps (percolate-platform:canary).
    argocd_rollout: str | None = None
    # Benchmarks the RC build runs (pytest-benchmark) and the slowdown of a median, in percent, that fails it.
    benchmarks_dir: str | None = None
    benchmark_threshold_pct: float | None = None

    @property
    def ships_images(self) -> bool:
        return self.artifact is ArtifactKind.IMAGE

    @property
    def ships_wheels(self) -> bool:
        return self.artifact is ArtifactKind.WHEELS

    def image_repository(self, registry: str = DEFAULT_REGISTRY) -> str:
        """The full image repository under `registry` (HOST[:PORT]/NAMESPACE)."""
        return f"{registry.rstrip('/')}/{get_image_project(self.name).image_name}"


ROCKS_WHEEL_TARGETS = (
    WheelTarget("manylinux-x86_64", "ubuntu-latest", "manylinux*_x86_64"),
    WheelTarget("manylinux-aarch64", "ubuntu-latest", "manylinux*_aarch64"),
    WheelTarget("macos-x86_64", "macos-15-intel", "macosx_*_x86_64"),
    WheelTarget("macos-arm64", "macos-14", "macosx_*_arm64"),
    WheelTarget("windows-x64", "windows-latest", "win_amd64"),
)

IMAGE_PLATFORMS = ("amd64", "arm64")

PROJECTS: tuple[Project, ...] = (
    Project(
        name="percolate-rocks",
        directory="percolate-rocks",
        artifact=ArtifactKind.WHEELS,
        version_files=("percolate-rocks/Cargo.toml", "percolate-rocks/pyproject.toml"),
        wheel_targets=ROCKS_WHEEL_TARGETS,
        distribution="percolate-rocks",
        benchmarks_dir="percolate-rocks/benches",
        benchmark_threshold_pct=10.0,
    ),
    Project(
        name="percolate-reading",
        directory="percolate-reading",
        artifact=ArtifactKind.IMAGE,
        version_files=("percolate-reading/pyproject.toml",),
        image_name="percolate-reading",
        platforms=IMAGE_PLATFORMS,
        argocd_application="percolate-reading",
        argocd_rollout="percolate-reading",
    ),
    Project(
        name="percolate",
        directory="percolate",
        artifact=ArtifactKind.IMAGE,
        version_files=("percolate/pyproject.toml",),
        image_name="percolate",
        platforms=IMAGE_PLATFORMS,
        argocd_application="percolate-api",
    ),
)

_BY_NAME = {project.name: project for project in PROJECTS}


def project_names() -> tuple[str, ...]:
    return tuple(project.name for project in PROJECTS)


def image_projects() -> tuple[Project, ...]:
    return tuple(project for project in PROJECTS if project.ships_images)


def wheel_projects() -> tuple[Project, ...]:
    return tuple(project for project in PROJECTS if project.ships_wheels)


def get_project(name: str) -> Project:
    """The project called `name`, or an InputError listing the known ones."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise InputError(
            f"unknown project {name!r}",
            hint=f"known projects: {', '.join(project_names())}",
        ) from None


def get_image_project(name: str) -> Project:
    """The image project called `name`, or an InputError naming the image projects."""
    project = get_project(name)
    if not project.ships_images:
        raise InputError(
            f"{project.name} ships no container image",
            hint=f"image projects are: {', '.join(p.name for p in image_projects())}",
        )
    return project


def get_wheel_project(name: str) -> Project:
    """The wheel project called `name`, or an InputError naming the wheel projects."""
    project = get_project(name)
    if not project.ships_wheels:
        raise InputError(
            f"{project.name} ships no wheels", hint=f"wheel projects are: {', '.join(p.name for p in wheel_projects())}"
        )
    return project


def project_for_application(application: str) -> Project:
    """The image project deployed as Argo CD application `application` (or its staging one, `…-staging`)."""
    for project in image_projects():
        if application in (project.argocd_application, f"{project.argocd_application}{STAGING_APPLICATION_SUFFIX}"):
            return project
    known = ", ".join(str(p.argocd_application) for p in image_projects())
    raise InputError(f"unknown Argo CD application {application!r}", hint=f"known applications: {known}")
