"""`python -m infra render`: the program's desired state, offline, under Pulumi's mocks.

The stack's config is read from `Pulumi.<stack>.yaml` (secure values stay encrypted:
they become masked placeholders), the program runs with Pulumi's unit-test mocks in
place of the engine, and every declared resource is recorded: type, name, parent and
inputs, secrets masked. Provider lookups (GitHub ids, registry digests) get offline
answers, listed in the output. `infra.cli` prints the result, and with `--check` runs
the policy checks on it.
"""

from __future__ import annotations

import json
import logging
import runpy
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.core.catalog import PULUMI_PROJECT, PULUMI_STACK
from pipelines.core.errors import InputError, PipelineError

PROGRAM = Path(__file__).resolve().parent / "__main__.py"
ROOT = PROGRAM.parent.parent
SECRET_MASK = "[secret]"
SECRET_PLACEHOLDER = "[secret value: encrypted in the stack file, not decrypted by render]"
DYNAMIC_PROVIDER_KEY = "__provider"
Answer = Callable[[str, Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class StackConfig:
    """A stack file's config as Pulumi hands it to a program: flat `namespace:key` values and the secret keys."""

    values: dict[str, Any]
    secret_keys: frozenset[str]


def _has_secure(value: Any) -> bool:
    if isinstance(value, Mapping):
        return set(value) == {"secure"} or any(_has_secure(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_secure(item) for item in value)
    return False


def _unseal(value: Any) -> Any:
    if isinstance(value, Mapping):
        return SECRET_PLACEHOLDER if set(value) == {"secure"} else {k: _unseal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unseal(item) for item in value]
    return value


def _flat(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def stack_config(document: Any, path: Path) -> StackConfig:
    """The config of a loaded stack file; structured values become JSON text, as Pulumi passes them."""
    if not isinstance(document, Mapping) or not isinstance(document.get("config", {}), Mapping):
        raise InputError(
            f"{path}: expected a mapping with a `config:` mapping", hint="see docs/infra.md for the file's shape"
        )
    values: dict[str, Any] = {}
    secret_keys = set()
    for key, value in (document.get("config") or {}).items():
        if not isinstance(key, str) or ":" not in key:
            raise InputError(f"{path}: config key {key!r} has no namespace", hint=f"write it as {PULUMI_PROJECT}:{key}")
        if _has_secure(value):
            secret_keys.add(key)
        if value is not None:
            values[key] = _flat(_unseal(value))
    return StackConfig(values, frozenset(secret_keys))


def read_stack_file(path: Path) -> StackConfig:
    """The config of the stack file at `path`, read as every stack file is: plain YAML (`StackFile`)."""
    from pipelines.deploy.write_back import StackFile

    return stack_config(StackFile(path).document(), path)


@dataclass(frozen=True)
class Declared:
    """One resource the program declared: what `pulumi preview` would send to its provider."""

    type: str
    name: str
    parent: str | None
    custom: bool
    inputs: dict[str, Any]
    secrets: tuple[str, ...] = ()  # input paths that held Pulumi secrets (masked in `inputs`)
    provider: str | None = None
    dependencies: tuple[str, ...] = ()  # what the engine creates first (`type::name`), depends_on included
    retain_on_delete: bool = False  # left in place when the program stops declaring it

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "custom": self.custom,
            "inputs": self.inputs,
            "secrets": list(self.secrets),
            "provider": self.provider,
            "dependencies": list(self.dependencies),
            "retain_on_delete": self.retain_on_delete,
        }


@dataclass(frozen=True)
class Lookup:
    """A provider function the program called, and the offline answer it got."""

    token: str
    args: dict[str, Any]
    answer: dict[str, Any]


@dataclass(frozen=True)
class Rendering:
    resources: tuple[Declared, ...]
    outputs: dict[str, Any]
    warnings: tuple[str, ...]
    lookups: tuple[Lookup, ...]

    def of_type(self, type_: str) -> list[Declared]:
        return [resource for resource in self.resources if resource.type == type_]

    def named(self, type_: str, name: str) -> Declared:
        matches = [resource for resource in self.of_type(type_) if resource.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources of type {type_} named {name}")
        return matches[0]


def _mask(value: Any, path: str, secrets: list[str]) -> Any:
    from pulumi.runtime import rpc

    if rpc.is_rpc_secret(value):
        secrets.append(path)
        return SECRET_MASK
    if isinstance(value, Mapping):
        return {k: _mask(v, f"{path}.{k}" if path else str(k), secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(item, f"{path}[{index}]", secrets) for index, item in enumerate(value)]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the protobuf wire has only doubles
    return value


def _urn_resource(urn: str) -> str | None:
    parts = urn.split("::")
    if len(parts) < 4 or parts[2].endswith("pulumi:pulumi:Stack"):
        return None
    return f"{parts[2].split('$')[-1]}::{parts[3]}"


def placeholder_id(name: str) -> int:
    """A stable stand-in for a GitHub user or team id, which render cannot look up offline."""
    return zlib.crc32(name.encode()) % 90_000_000 + 10_000_000


def offline_answers(config: StackConfig) -> Answer:
    """Answers to the lookups the program makes: placeholder ids, and each pinned image's configured digest."""
    from infra.digest_check import release_reference
    from pipelines.deploy.pins import IMAGES_KEY, parse_images

    try:
        pins = parse_images(json.loads(config.values.get(IMAGES_KEY, "{}")))
    except (PipelineError, ValueError):
        pins = {}  # the program reports the config error itself, before any lookup
    digests = {release_reference(pin): pin.digest for pin in pins.values() if pin.pinned}

    def answer(token: str, args: Mapping[str, Any]) -> dict[str, Any]:
        if token == "github:index/getUser:getUser":
            return {"id": str(placeholder_id(args["username"])), "login": args["username"]}
        if token == "github:index/getTeam:getTeam":
            return {"id": str(placeholder_id(args["slug"])), "slug": args["slug"], "name": args["slug"]}
        if token == "docker:index/getRegistryImage:getRegistryImage":
            return {"id": args["name"], "name": args["name"], "sha256Digest": digests.get(args["name"])}
        raise InputError(f"render has no offline answer for {token}", hint="add one to infra.render.offline_answers")

    return answer


def with_registry(config: StackConfig, registry: str) -> StackConfig:
    """The staging stack's config with `percolate-platform:registry` replaced (render --registry)."""
    from infra.staging import is_staging

    if not is_staging(config.values):
        raise InputError("--registry is for the staging stack only", hint="render --stack staging --registry ...")
    return StackConfig({**config.values, f"{PULUMI_PROJECT}:registry": registry}, config.secret_keys)


def run_program(
    config: StackConfig, answer: Answer, *, stack: str = PULUMI_STACK, program: Path = PROGRAM, preview: bool = True
) -> Rendering:
    """Run the Pulumi program under mocks with `config`, answering its lookups with `answer`.

    `preview` is what the program sees as `pulumi.runtime.is_dry_run()`: True as in `pulumi preview`
    (render's default), False as in `pulumi up`.

    Raises the program's own PipelineError (config error, registry mismatch) as is.
    """
    import pulumi
    from pulumi.runtime import mocks, rpc, set_all_config
    from pulumi.runtime.settings import set_root_resource
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    declared: list[Declared] = []
    lookups: list[Lookup] = []
    outputs: dict[str, Any] = {}

    class Answers(mocks.Mocks):
        def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            state = dict(args.inputs)
            if args.typ == "github:index/repository:Repository":
                state.update(repoId=placeholder_id(args.name), nodeId=f"R_{args.name}")
            return f"{args.name}-id", state

        def call(self, args: mocks.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
            result = answer(args.token, args.args)
            lookups.append(Lookup(args.token, dict(args.args), result))
            return result

    class Recorder(mocks.MockMonitor):
        def RegisterResource(self, request: Any) -> Any:
            response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
            if request.type != "pulumi:pulumi:Stack":
                raw = rpc.deserialize_properties(request.object)
                raw.pop(DYNAMIC_PROVIDER_KEY, None)
                secret_paths: list[str] = []
                inputs = _mask(raw, "", secret_paths)
                declared.append(
                    Declared(
                        type=request.type,
                        name=request.name,
                        parent=_urn_resource(request.parent),
                        custom=bool(request.custom),
                        inputs=inputs,
                        secrets=tuple(secret_paths),
                        provider=_urn_resource(request.provider.rsplit("::", 1)[0]) if request.provider else None,
                        dependencies=tuple(sorted(filter(None, map(_urn_resource, request.dependencies)))),
                        retain_on_delete=bool(request.retainOnDelete),
                    )
                )
            return response

    warnings: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                warnings.append(record.getMessage())

    logger = logging.getLogger(f"infra.render.{id(declared)}")
    logger.propagate = False
    logger.addHandler(Collect())
    set_root_resource(None)  # type: ignore[arg-type]  # a fresh stack for every run in this process
    set_all_config(dict(config.values), sorted(config.secret_keys))
    answers = Answers()
    mocks.set_mocks(
        answers, project=PULUMI_PROJECT, stack=stack, preview=preview, logger=logger, monitor=Recorder(answers)
    )

    def program_run() -> None:
        try:
            runpy.run_path(str(program), run_name="__main__")
        except pulumi.RunError as error:
            if isinstance(error.__cause__, PipelineError):
                raise error.__cause__ from None
            raise

    _sync_await(run_pulumi_func(program_run))
    root = pulumi.runtime.get_root_resource()
    for name, value in getattr(root, "outputs", {}).items():
        outputs[name] = _sync_await(pulumi.Output.from_input(value).future())
    declared.sort(key=lambda resource: (resource.parent or "", resource.type, resource.name))
    return Rendering(tuple(declared), outputs, tuple(warnings), tuple(lookups))
