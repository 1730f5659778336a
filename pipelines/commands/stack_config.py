"""`stack-config show|set-image`: read the images subtree of the stack config, or write one project's pin.

Also what the other deployment commands (`deploy-pr`, `rollback`) share of it: the
`--stack-config` option, the promotion record and how a pin is shown to people.
"""

from __future__ import annotations

import argparse
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.commands.arguments import add_command, add_group, add_root_option
from pipelines.commands.checkout import resolve_root
from pipelines.core.catalog import STACK_CONFIG_FILE, Project, get_image_project
from pipelines.core.errors import InputError
from pipelines.deploy.pins import IMAGES_KEY, ImagePin, parse_image_pin
from pipelines.deploy.rules import apply_release, release_pin
from pipelines.deploy.write_back import StackFile
from pipelines.edges.files import read_json_object
from pipelines.output import emit


@dataclass(frozen=True)
class ShowRequest:
    stack_config: Path | None
    root: Path | None
    json: bool


@dataclass(frozen=True)
class SetImageRequest:
    project: str
    promotion: Path | None
    version: str | None
    digest: str | None
    platform: list[str] | None
    source: str | None
    repository: str | None
    dry_run: bool
    stack_config: Path | None
    root: Path | None
    json: bool


def stack_file_of(stack_config: Path | None, root: Path | None) -> StackFile:
    """--stack-config FILE, else Pulumi.prod.yaml at the monorepo's root (--root)."""
    return StackFile(stack_config if stack_config else resolve_root(root) / STACK_CONFIG_FILE)


def read_promotion(path: Path) -> ImagePin:
    return release_pin(read_json_object(path, "promotion record", "python -m pipelines promote TAG --json"))


def pin_fields(pin: ImagePin) -> dict[str, Any]:
    return {"project": pin.project, **pin.to_dict()}


def describe_pin(pin: ImagePin) -> str:
    if not pin.pinned:
        return f"{pin.project}: {pin.repository} (not released yet)" + (
            f", blocked {', '.join(pin.blocked)}" if pin.blocked else ""
        )
    lines = [f"{pin.project} {pin.version}: {pin.reference}", f"  source  {pin.source}"]
    lines += [f"  {arch:<7} {digest}" for arch, digest in pin.platforms]
    if pin.blocked:
        lines.append(f"  blocked {', '.join(pin.blocked)}")
    return "\n".join(lines)


def add_stack_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stack-config",
        type=Path,
        metavar="FILE",
        help=f"the stack config file (default: {STACK_CONFIG_FILE} at the monorepo's root)",
    )
    add_root_option(parser)


def _show(request: ShowRequest) -> int:
    pins = stack_file_of(request.stack_config, request.root).images()
    emit(request.json, [pin_fields(pin) for pin in pins.values()], "\n".join(describe_pin(p) for p in pins.values()))
    return 0


def _requested_pin(request: SetImageRequest, project: Project) -> ImagePin:
    """The pin `set-image` was asked for: from a promotion record, or spelt out in options."""
    if request.promotion:
        pin = read_promotion(request.promotion)
        if pin.project != project.name:
            raise InputError(
                f"the promotion record is of {pin.project}, not {project.name}", hint="pass the right record"
            )
        return pin
    missing = [
        option
        for option, value in (
            ("--version", request.version),
            ("--digest", request.digest),
            ("--platform", request.platform),
            ("--source", request.source),
        )
        if not value
    ]
    if missing:
        raise InputError(f"missing {', '.join(missing)}", hint="pass --promotion FILE, or every one of those options")
    platforms = {}
    for item in request.platform or []:  # not empty: checked above
        arch, separator, digest = item.partition("=")
        if not separator:
            raise InputError(f"--platform {item!r} is not ARCH=DIGEST", hint="e.g. --platform amd64=sha256:…")
        platforms[arch] = digest
    entry = {
        "repository": request.repository or project.image_repository(),
        "version": request.version,
        "digest": request.digest,
        "platforms": platforms,
        "source": request.source,
    }
    return parse_image_pin(project.name, entry, key="options")


def _set_image(request: SetImageRequest) -> int:
    project = get_image_project(request.project)
    stack = stack_file_of(request.stack_config, request.root)
    requested = _requested_pin(request, project)
    with nullcontext() if request.dry_run else stack.locked():  # read, change and write as one
        pin = apply_release(stack.pin(project.name), requested)
        changed = stack.write_pin(pin, dry_run=request.dry_run)
    verb = ("would write" if request.dry_run else "wrote") if changed else "unchanged:"
    emit(
        request.json,
        {"file": str(stack.path), "changed": changed, "dry_run": request.dry_run, **pin_fields(pin)},
        f"{verb} {IMAGES_KEY}.{pin.project} in {stack.path}\n{describe_pin(pin)}",
    )
    return 0


def register(subcommands: Any) -> None:
    group = add_group(subcommands, "stack-config", summary="read and write the images subtree of the stack config")
    show = add_command(
        group,
        "show",
        summary="print the images the stack config pins",
        request=ShowRequest,
        run=_show,
        description=f"Print {IMAGES_KEY} of the stack config: per image project its version, index digest,\n"
        "platform digests, source RC build and blocked versions, validated against the contract.",
        examples="  python -m pipelines stack-config show --json",
    )
    add_stack_option(show)
    set_image = add_command(
        group,
        "set-image",
        summary="write one project's image pin (only that entry changes)",
        request=SetImageRequest,
        run=_set_image,
        description=f"Write {IMAGES_KEY}.PROJECT in the stack config. Only that entry changes: every other\n"
        "byte of the file, comments included, stays. The write is atomic, read back and validated.\n"
        "A version listed in the entry's `blocked` is refused (exit 1) until a person removes it.",
        examples="  python -m pipelines stack-config set-image percolate --promotion promote.json\n"
        "  python -m pipelines stack-config set-image percolate --version 0.2.0 --digest sha256:… \\\n"
        "      --platform amd64=sha256:… --platform arm64=sha256:… --source 2025.10.25.1430-build.123-v0.2.0-abc1234",
    )
    set_image.add_argument("project", metavar="PROJECT", help="an image project")
    set_image.add_argument("--promotion", type=Path, metavar="FILE", help="the JSON `promote TAG --json` printed")
    set_image.add_argument("--version", help="the released version X.Y.Z")
    set_image.add_argument("--digest", help="the multi-arch index digest")
    set_image.add_argument(
        "--platform", action="append", metavar="ARCH=DIGEST", help="a platform manifest digest (repeat)"
    )
    set_image.add_argument("--source", help="the promoted RC build (CalVer tag without -ARCH)")
    set_image.add_argument("--repository", help="the image repository (default: the catalog's under ghcr.io)")
    set_image.add_argument("--dry-run", action="store_true", help="validate and print; write nothing")
    add_stack_option(set_image)
