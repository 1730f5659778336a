"""Trusted publishing: which publishers PyPI and TestPyPI must trust, and whether our workflows match them.

PyPI has no API for trusted publishers: a person enters them on PyPI's form. This
module is the one data definition of what to enter (`expected_publishers`), which
the Pulumi program also exports as stack outputs, and the rules that check a
workflow file can really publish under it: the file exists, the publishing step runs
in a job of the publisher's environment, and `id-token: write` is granted to no other
job of that environment nor to the whole workflow. It also reads what workflow files
say about their jobs (`Workflow`), which the branch protection's required checks rest on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.core.catalog import (
    PRODUCTION_ENVIRONMENT,
    PROJECTS,
    PYPI,
    STAGING_ENVIRONMENT,
    TESTPYPI,
    Project,
    PublishingIndex,
)
from pipelines.core.errors import InputError
from pipelines.edges.files import read_yaml

WORKFLOWS_DIR = ".github/workflows"
PUBLISH_ACTION = "pypa/gh-action-pypi-publish"


def workflow_file(stage: str, project: Project) -> str:
    """`build-rocks.yml` / `release-rocks.yml`: workflows are named by stage and the project's short name."""
    short = project.name.split("-", 1)[1] if "-" in project.name else project.name
    return f"{stage}-{short}.yml"


@dataclass(frozen=True)
class TrustedPublisher:
    """One publisher as PyPI's form asks for it, and the index it is entered on."""

    index: PublishingIndex
    project: str
    owner: str
    repository: str
    workflow: str
    environment: str

    def form(self) -> dict[str, str]:
        """The fields of PyPI's "Add a new publisher" form (GitHub tab), in its order."""
        return {
            "PyPI Project Name": self.project,
            "Owner": self.owner,
            "Repository name": self.repository,
            "Workflow name": self.workflow,
            "Environment name": self.environment,
        }

    @property
    def settings_url(self) -> str:
        return f"https://{self.index.host}/manage/project/{self.project}/settings/publishing/"

    @property
    def pending_url(self) -> str:
        """Where a publisher is added before the project's first upload (a "pending" publisher)."""
        return f"https://{self.index.host}/manage/account/publishing/"

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index.name,
            "host": self.index.host,
            "project": self.project,
            "owner": self.owner,
            "repository": self.repository,
            "workflow": self.workflow,
            "environment": self.environment,
            "settings_url": self.settings_url,
            "pending_url": self.pending_url,
            "form": self.form(),
        }


def expected_publishers(owner: str, repository: str) -> tuple[TrustedPublisher, ...]:
    """Every trusted publisher of the monorepo `owner/repository`: TestPyPI for RC builds, PyPI for releases."""
    publishers = []
    for project in PROJECTS:
        if not project.ships_wheels:
            continue
        distribution = str(project.distribution)
        publishers += [
            TrustedPublisher(
                PYPI, distribution, owner, repository, workflow_file("release", project), PRODUCTION_ENVIRONMENT
            ),
            TrustedPublisher(
                TESTPYPI, distribution, owner, repository, workflow_file("build", project), STAGING_ENVIRONMENT
            ),
        ]
    return tuple(publishers)


def _environment_name(value: Any) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("name")
    return value if isinstance(value, str) else None


def grants_id_token(permissions: Any) -> bool:
    """Whether a `permissions:` value lets the job mint an OIDC token."""
    if permissions == "write-all":
        return True
    return isinstance(permissions, Mapping) and permissions.get("id-token") == "write"


@dataclass(frozen=True)
class PublishStep:
    repository_url: str | None
    has_password: bool


@dataclass(frozen=True)
class Job:
    """What one workflow job says about where it runs, what it may do and whether it publishes."""

    id: str
    name: str | None
    environment: str | None
    permissions: Any
    publish_steps: tuple[PublishStep, ...]
    uses: tuple[str, ...] = ()  # every action and reusable workflow the job runs

    @property
    def check_name(self) -> str:
        """The status check name GitHub reports for this job: its `name`, else its id."""
        return self.name if self.name else self.id

    @property
    def grants_id_token(self) -> bool:
        return grants_id_token(self.permissions)


@dataclass(frozen=True)
class Workflow:
    file: str
    permissions: Any
    jobs: tuple[Job, ...]


def _uses(body: Mapping[str, Any]) -> tuple[str, ...]:
    listed = body.get("steps")
    steps: list[Any] = listed if isinstance(listed, list) else []
    found = [body.get("uses")] + [step.get("uses") for step in steps if isinstance(step, Mapping)]
    return tuple(uses for uses in found if isinstance(uses, str))


def _publish_steps(steps: Any) -> tuple[PublishStep, ...]:
    found = []
    for step in steps if isinstance(steps, list) else []:
        uses = step.get("uses") if isinstance(step, Mapping) else None
        if isinstance(uses, str) and uses.split("@", 1)[0] == PUBLISH_ACTION:
            inputs = step.get("with") if isinstance(step.get("with"), Mapping) else {}
            url = inputs.get("repository-url") or inputs.get("repository_url")
            found.append(PublishStep(str(url) if url else None, "password" in inputs))
    return tuple(found)


def parse_workflow(file: str, document: Any) -> Workflow:
    """The jobs of a loaded workflow document (`file` is its name, for messages)."""
    if not isinstance(document, Mapping) or not isinstance(document.get("jobs"), Mapping):
        raise InputError(f"{WORKFLOWS_DIR}/{file} has no jobs mapping", hint="a workflow needs `jobs:`")
    jobs = []
    for job_id, listed in document["jobs"].items():
        body = listed if isinstance(listed, Mapping) else {}
        name = body.get("name")
        jobs.append(
            Job(
                id=str(job_id),
                name=name if isinstance(name, str) else None,
                environment=_environment_name(body.get("environment")),
                permissions=body.get("permissions"),
                publish_steps=_publish_steps(body.get("steps")),
                uses=_uses(body),
            )
        )
    return Workflow(file, document.get("permissions"), tuple(jobs))


def check_publisher(publisher: TrustedPublisher, workflow: Workflow | None) -> list[str]:
    """Every reason the workflow cannot publish, or may publish too widely, under `publisher`; empty when fine."""
    where = f"{WORKFLOWS_DIR}/{publisher.workflow}"
    if workflow is None:
        return [f"{where} does not exist"]
    problems = []
    if grants_id_token(workflow.permissions):
        problems.append(f"{where}: the workflow-level permissions grant id-token: write to every job")
    publishing = [job for job in workflow.jobs if job.publish_steps]
    if not publishing:
        problems.append(f"{where}: no job uses {PUBLISH_ACTION}")
    for job in publishing:
        if job.environment != publisher.environment:
            problems.append(
                f"{where}: job {job.id} publishes in environment {job.environment or '(none)'}, "
                f"not {publisher.environment}"
            )
        if not job.grants_id_token:
            problems.append(f"{where}: job {job.id} publishes without permissions: id-token: write")
        for step in job.publish_steps:
            url = step.repository_url or PYPI.upload_url
            if url.rstrip("/") != publisher.index.upload_url.rstrip("/"):
                problems.append(f"{where}: job {job.id} uploads to {url}, not {publisher.index.upload_url}")
            if step.has_password:
                problems.append(f"{where}: job {job.id} passes a password (API token) instead of trusted publishing")
    for job in workflow.jobs:
        if job.grants_id_token and not job.publish_steps and job.environment == publisher.environment:
            problems.append(
                f"{where}: job {job.id} runs in environment {publisher.environment} with id-token: write "
                "but does not publish: it could mint a token PyPI accepts"
            )
    return problems


class WorkflowFiles:
    """Reads workflow files from a folder (the edge; the rules above take parsed `Workflow`s)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def read(self, file: str) -> Workflow | None:
        path = self.directory / file
        if not path.is_file():
            return None
        return parse_workflow(file, read_yaml(path, fix="fix the workflow file's YAML"))

    def all(self) -> list[Workflow]:
        if not self.directory.is_dir():
            return []
        files = sorted(p.name for p in self.directory.iterdir() if p.suffix in {".yml", ".yaml"})
        return [workflow for workflow in map(self.read, files) if workflow is not None]


def job_check_names(workflows: list[Workflow]) -> set[str]:
    """Every status check name the workflows' jobs report."""
    return {job.check_name for workflow in workflows for job in workflow.jobs}
