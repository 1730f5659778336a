"""`python -m infra`: its parser, and the render command: read the stack file, render it offline
(`infra.render`), run the policy checks when asked, and print the result for people or as JSON."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from infra.render import ROOT, Rendering, offline_answers, read_stack_file, run_program, with_registry
from pipelines.core.catalog import PULUMI_STACK
from pipelines.core.errors import PipelineError
from pipelines.output import emit, guarded_output, progress, report_error


def _describe(rendering: Rendering, stack: str, source: Path, report: Any) -> str:
    import yaml

    lines = [
        f"stack {stack} ({source}), rendered offline under Pulumi's mocks: {len(rendering.resources)} resources",
        "",
    ]
    for resource in rendering.resources:
        head = f"{resource.type}  {resource.name}"
        lines.append(head + (f"    (in {resource.parent})" if resource.parent else ""))
        if resource.retain_on_delete:
            lines.append("    retainOnDelete: kept in the cluster when the program stops declaring it")
        if resource.inputs:
            dumped = yaml.safe_dump(resource.inputs, sort_keys=True, default_flow_style=False, width=120)
            lines += [f"    {line}" for line in dumped.splitlines()]
        lines.append("")
    lines.append("stack outputs:")
    lines += [f"    {line}" for line in yaml.safe_dump(rendering.outputs, sort_keys=False, width=120).splitlines()]
    lines.append("offline answers to provider lookups (ids are placeholders; digests are the configured ones):")
    for lookup in rendering.lookups:
        answer = json.dumps(lookup.answer, sort_keys=True)
        lines.append(f"    {lookup.token} {json.dumps(lookup.args, sort_keys=True)} -> {answer}")
    lines += [f"warning: {warning}" for warning in rendering.warnings]
    if report is not None:
        lines.append("")
        lines += report.describe()
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m infra",
        description="Offline review of the Pulumi program: run it under Pulumi's mocks with a stack's config and\n"
        "print every declared resource (type, name, inputs; secrets masked). No credentials, no network.",
        epilog="Exit codes: 0 success, 1 a policy check failed, 2 bad usage or config.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    render = commands.add_parser(
        "render",
        help="print the desired state of a stack, rendered offline",
        description="Run the program under Pulumi's unit-test mocks with the config of Pulumi.<stack>.yaml and print\n"
        "every declared resource: type, name, parent and inputs, with secrets masked. GitHub user and team\n"
        "lookups get placeholder ids and registry lookups get the configured digests (listed in the output).\n"
        "--check also runs the policy checks (no plain-text secret, images pinned by digest, admins included\n"
        "on main, production reviewers without admin bypass, release tags protected, fork PR workflows off,\n"
        "required checks are real job names in .github/workflows, every action the workflows use is allowed)\n"
        "and exits 1 when one fails.",
        epilog="examples:\n  python -m infra render --stack prod\n"
        "  python -m infra render --check --json > desired-state.json\n"
        "  python -m infra render --stack-config /tmp/Pulumi.prod.yaml --check",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    render.add_argument("--stack", default=PULUMI_STACK, metavar="NAME", help=f"the stack (default: {PULUMI_STACK})")
    render.add_argument(
        "--stack-config", type=Path, metavar="FILE", help="the stack file (default: ROOT/Pulumi.<stack>.yaml)"
    )
    render.add_argument(
        "--root",
        type=Path,
        default=ROOT,
        metavar="DIR",
        help="the project root with Pulumi.yaml and .github/ (default: this checkout)",
    )
    render.add_argument(
        "--registry",
        metavar="HOST[:PORT]/NS",
        help="the staging stack only: read the RC builds from this registry instead of the file's "
        "percolate-platform:registry (e.g. a local registry, 127.0.0.1:5000/percolation-labs)",
    )
    render.add_argument("--check", action="store_true", help="run the policy checks; exit 1 when one fails")
    render.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Render a stack; everything printed, usage errors included, passes the CLI's output boundary."""
    with guarded_output():
        return _render(argv)


def _render(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    source = args.stack_config or args.root / f"Pulumi.{args.stack}.yaml"
    try:
        config = read_stack_file(source)
        if args.registry is not None:
            config = with_registry(config, args.registry)
        progress(f"rendering stack {args.stack} from {source} under Pulumi's mocks")
        rendering = run_program(config, offline_answers(config), stack=args.stack)
        report = None
        from infra.staging import is_staging

        if args.check and is_staging(config.values):
            from infra.policy import evaluate_staging

            report = evaluate_staging(rendering.resources)
        elif args.check:
            from infra.policy import evaluate
            from pipelines.wheels.trusted_publishers import WORKFLOWS_DIR, WorkflowFiles

            report = evaluate(rendering.resources, WorkflowFiles(args.root / WORKFLOWS_DIR).all())
    except PipelineError as error:
        return report_error(error, args.json)
    data = {
        "stack": args.stack,
        "stack_config": str(source),
        "resources": [resource.to_dict() for resource in rendering.resources],
        "outputs": rendering.outputs,
        "warnings": list(rendering.warnings),
        "lookups": [vars(lookup) for lookup in rendering.lookups],
    }
    if report is not None:
        data["policy"] = report.to_dict()
    emit(args.json, data, _describe(rendering, args.stack, source, report))
    return 1 if report is not None and not report.ok else 0
