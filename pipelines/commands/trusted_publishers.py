"""`trusted-publishers`: the exact values to enter on PyPI's form, and a check of the workflows behind them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.commands.arguments import add_command, add_root_option
from pipelines.commands.checkout import resolve_root
from pipelines.core.catalog import REPOSITORY_KEY, STACK_CONFIG_FILE
from pipelines.core.errors import InputError
from pipelines.core.names import GITHUB_SLUG
from pipelines.output import emit
from pipelines.wheels.trusted_publishers import (
    PUBLISH_ACTION,
    WORKFLOWS_DIR,
    TrustedPublisher,
    WorkflowFiles,
    check_publisher,
    expected_publishers,
)


@dataclass(frozen=True)
class TrustedPublishersRequest:
    repository: str | None
    stack_config: Path | None
    workflows: Path | None
    root: Path | None
    json: bool


def _slug(text: str) -> tuple[str, str]:
    match = GITHUB_SLUG.fullmatch(text)
    if not match:
        raise InputError(f"{text!r} is not OWNER/NAME", hint="e.g. --repository percolation-labs/percolate")
    return match["owner"], match["name"]


def _repository_from_stack(path: Path) -> tuple[str, str]:
    """owner and name from the stack config's `percolate-platform:repository` object."""
    from pipelines.deploy.write_back import StackFile  # YAML, only when the stack file is read

    document = StackFile(path).document()
    config = document.get("config") if isinstance(document, dict) else None
    repository = config.get(REPOSITORY_KEY) if isinstance(config, dict) else None
    owner = repository.get("owner") if isinstance(repository, dict) else None
    name = repository.get("name") if isinstance(repository, dict) else None
    if not isinstance(owner, str) or not isinstance(name, str):
        raise InputError(
            f"{path}: {REPOSITORY_KEY} has no owner and name",
            hint="set them (see docs/infra.md), or pass --repository OWNER/NAME",
        )
    return _slug(f"{owner}/{name}")


def _describe(publisher: TrustedPublisher, problems: list[str]) -> str:
    lines = [
        f"{publisher.index.host}: {publisher.settings_url}",
        f"  (before the project's first upload, add it as a pending publisher at {publisher.pending_url})",
    ]
    width = max(len(field) for field in publisher.form())
    lines += [f"  {field.ljust(width)}  {value}" for field, value in publisher.form().items()]
    if problems:
        lines.append("  check: FAILED")
        lines += [f"    - {problem}" for problem in problems]
    else:
        lines.append(f"  check: ok ({publisher.workflow} publishes only from environment {publisher.environment})")
    return "\n".join(lines)


def _run(request: TrustedPublishersRequest) -> int:
    root = resolve_root(request.root)
    if request.repository:
        owner, name = _slug(request.repository)
    else:
        owner, name = _repository_from_stack(request.stack_config or root / STACK_CONFIG_FILE)
    workflows = WorkflowFiles(request.workflows or root / WORKFLOWS_DIR)
    results: list[tuple[TrustedPublisher, list[str]]] = [
        (publisher, check_publisher(publisher, workflows.read(publisher.workflow)))
        for publisher in expected_publishers(owner, name)
    ]
    ok = not any(problems for _, problems in results)
    data: dict[str, Any] = {
        "ok": ok,
        "publishers": [{**publisher.to_dict(), "problems": problems} for publisher, problems in results],
    }
    text = "PyPI has no API for trusted publishers: enter these on each index's publishing page.\n\n" + "\n\n".join(
        _describe(publisher, problems) for publisher, problems in results
    )
    if not ok:
        text += "\n\nfix the workflow files above, then run this command again"
    emit(request.json, data, text)
    return 0 if ok else 1


def register(subcommands: Any) -> None:
    parser = add_command(
        subcommands,
        "trusted-publishers",
        summary="the trusted publishers to enter on PyPI and TestPyPI, checked against the workflows",
        description="Print the exact values to enter on PyPI's and TestPyPI's trusted-publisher forms (PyPI has no\n"
        "API for them), and check each named workflow file: it exists, publishes with\n"
        f"{PUBLISH_ACTION} from a job in the publisher's environment to the right index, and\n"
        "grants id-token: write neither workflow-wide nor to another job of that environment.\n"
        "The same publishers are exported by the Pulumi program as the stack output trustedPublishers.\n"
        "Exit 1 when a check fails, 2 for bad input.",
        request=TrustedPublishersRequest,
        run=_run,
        examples="  python -m pipelines trusted-publishers\n"
        "  python -m pipelines trusted-publishers --repository percolation-labs/percolate --json",
    )
    parser.add_argument(
        "--repository",
        metavar="OWNER/NAME",
        help=f"the GitHub repository (default: {REPOSITORY_KEY} in the stack config)",
    )
    parser.add_argument(
        "--stack-config",
        type=Path,
        metavar="FILE",
        help=f"the stack config to read the repository from (default: ROOT/{STACK_CONFIG_FILE})",
    )
    parser.add_argument(
        "--workflows", type=Path, metavar="DIR", help=f"the workflow folder to check (default: ROOT/{WORKFLOWS_DIR})"
    )
    add_root_option(parser)
