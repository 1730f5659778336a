"""The write-back: the stack config file on disk, its images subtree read, and one project's entry written back.

`Pulumi.prod.yaml` belongs to people; the pipelines own only
`config.percolate-platform:images.<project>`. A write-back edits the text in place:
PyYAML's node positions locate the entry, scalar values are replaced where they
stand (so comments on those lines survive), and only where the entry's structure
changes is the entry re-rendered. Every byte outside the entry stays as it was,
which is verified by parsing the result before the atomic rename, and the written
file is read back and validated after it. Every reader of a stack file, here and elsewhere, parses it with
`stack_document`, which refuses anchors and aliases before anything is composed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipelines.core.catalog import STACK_CONFIG_FILE
from pipelines.core.errors import Corrupt, InputError, RuleRefused
from pipelines.deploy.pins import IMAGES_KEY, ImagePin, StackConfigError, parse_image_pin, parse_images
from pipelines.edges.files import atomic_write_text, check_writable, load_plain_yaml, locked, read_text

INDENT = 2
# A stack file is a few kB; anything beyond this is refused before YAML sees it (parsing is slow and hungry).
MAX_STACK_FILE_BYTES = 1 << 20
LOCK_TIMEOUT = 30.0


@dataclass(frozen=True)
class _Edit:
    start: int
    end: int
    text: str


def _find(mapping: yaml.Node | None, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    if not isinstance(mapping, yaml.MappingNode):
        return None
    for key_node, value_node in mapping.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return key_node, value_node
    return None


def _node_at(root: yaml.Node | None, *keys: str) -> tuple[yaml.Node, yaml.Node] | None:
    """The (key, value) nodes at a path of mapping keys, or None."""
    found: tuple[yaml.Node, yaml.Node] | None = None
    node = root
    for key in keys:
        found = _find(node, key)
        if found is None:
            return None
        node = found[1]
    return found


def _last_scalar(node: yaml.Node) -> yaml.Node:
    """The node whose end is the true end of `node`'s content (block collections end at the next token)."""
    if isinstance(node, yaml.MappingNode) and node.value and not node.flow_style:
        return _last_scalar(node.value[-1][1])
    if isinstance(node, yaml.SequenceNode) and node.value and not node.flow_style:
        return _last_scalar(node.value[-1])
    return node


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_end(text: str, index: int) -> int:
    end = text.find("\n", index)
    return len(text) if end == -1 else end + 1


def _scalar(value: str, like: yaml.ScalarNode | None = None) -> str:
    """`value` as a YAML scalar: plain where it reads back as the same string, else double-quoted."""
    style = like.style if like is not None else None
    if style in (None, "") and yaml.safe_load(value) == value and "#" not in value and ": " not in value:
        return value
    if style == "'" and "'" not in value:
        return f"'{value}'"
    return json.dumps(value)


def _render(key: str, value: Any, indent: int) -> str:
    """YAML lines for `key: value` at `indent` spaces: mappings as blocks, lists in flow style."""
    pad = " " * indent
    if isinstance(value, dict):
        return f"{pad}{key}:\n" + "".join(_render(k, v, indent + INDENT) for k, v in value.items())
    if isinstance(value, list):
        return f"{pad}{key}: [{', '.join(_scalar(str(item)) for item in value)}]\n"
    return f"{pad}{key}: {_scalar(str(value))}\n"


def _key_span(text: str, key_node: yaml.Node, value_node: yaml.Node) -> tuple[int, int]:
    """The whole lines from a key to the end of its value."""
    return _line_start(text, key_node.start_mark.index), _line_end(text, _last_scalar(value_node).end_mark.index)


def _mapping_edits(text: str, node: yaml.Node, entry: dict[str, Any]) -> list[_Edit] | None:
    """Edits that make a block mapping equal `entry`: scalars replaced where they stand (their comments
    stay), changed collections re-rendered, missing keys appended; None when keys must go."""
    if not isinstance(node, yaml.MappingNode) or node.flow_style or not node.value:
        return None
    present = {k.value: (k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)}
    if len(present) != len(node.value) or set(present) - set(entry):
        return None
    column = node.value[0][0].start_mark.column
    edits = []
    for key, value in entry.items():
        if key not in present:
            continue
        key_node, value_node = present[key]
        nested = _mapping_edits(text, value_node, value) if isinstance(value, dict) else None
        if nested is not None:
            edits += nested
        elif isinstance(value, str) and isinstance(value_node, yaml.ScalarNode) and value_node.tag.endswith(":str"):
            edits.append(_Edit(value_node.start_mark.index, value_node.end_mark.index, _scalar(value, value_node)))
        else:
            start, end = _key_span(text, key_node, value_node)
            edits.append(_Edit(start, end, _render(key, value, column)))
    missing = "".join(_render(key, value, column) for key, value in entry.items() if key not in present)
    if missing:
        end = _line_end(text, _last_scalar(node).end_mark.index)
        edits.append(_Edit(end, end, missing))
    return edits


def _entry_edits(
    text: str,
    images: tuple[yaml.Node, yaml.Node] | None,
    config: tuple[yaml.Node, yaml.Node] | None,
    root: yaml.Node | None,
    project: str,
    entry: dict[str, Any],
) -> list[_Edit]:
    """The edits that make `config.<images>.<project>` equal `entry` and touch nothing else."""
    if images is not None and isinstance(images[1], yaml.MappingNode) and not images[1].flow_style:
        found = _find(images[1], project)
        if found is not None:
            key_node, value_node = found
            in_place = _mapping_edits(text, value_node, entry)
            if in_place is not None:
                return in_place
            start, end = _key_span(text, key_node, value_node)
            return [_Edit(start, end, _render(project, entry, key_node.start_mark.column))]
        column = images[1].value[0][0].start_mark.column
        end = _line_end(text, _last_scalar(images[1]).end_mark.index)
        return [_Edit(end, end, _render(project, entry, column))]
    if images is not None:
        if not (isinstance(images[1], yaml.ScalarNode) and images[1].tag.endswith(":null")):
            raise InputError(
                f"{IMAGES_KEY} is not a block mapping",
                hint="write it as a block mapping of project to image, or remove it",
            )
        key_node = images[0]
        start = _line_start(text, key_node.start_mark.index)
        end = _line_end(text, max(key_node.end_mark.index, images[1].end_mark.index))
        return [_Edit(start, end, _render(IMAGES_KEY, {project: entry}, key_node.start_mark.column))]
    if config is not None and isinstance(config[1], yaml.MappingNode) and not config[1].flow_style and config[1].value:
        column = config[1].value[0][0].start_mark.column
        end = _line_end(text, _last_scalar(config[1]).end_mark.index)
        return [_Edit(end, end, _render(IMAGES_KEY, {project: entry}, column))]
    if config is None and (root is None or (isinstance(root, yaml.MappingNode) and not root.flow_style)):
        prefix = "" if not text or text.endswith("\n") else "\n"
        return [_Edit(len(text), len(text), prefix + _render("config", {IMAGES_KEY: {project: entry}}, 0))]
    raise InputError("the file's config is not a block mapping", hint="write `config:` as a block mapping")


def stack_document(text: str, where: str, *, positions: bool = False) -> tuple[Any, yaml.Node | None]:
    """The one parse of a stack file's text, which every reader of one goes through (`StackFile`, the
    dashboard's history, the Pulumi program's render, trusted-publishers): plain YAML, so an anchor or an
    alias, a repeated key or nesting beyond MAX_NESTING is an InputError naming `where` and the line. A stack
    file has no use for anchors and aliases, and a short chain of them expands exponentially in whatever
    walks it. The document, and its node tree (PyYAML's own, with character positions, with `positions`)."""
    return load_plain_yaml(text, where, hint_end="nothing was written", positions=positions)


def _uses_crlf(text: str) -> bool:
    return "\r\n" in text and text.count("\r\n") == text.count("\n")


class StackFile:
    """One Pulumi stack config file, e.g. Pulumi.prod.yaml.

    Writes lock the file (`.NAME.lock` beside it) and refuse when the file changed since this object last
    read it; a symlink is written through to its target; line endings (LF or CRLF) are kept.
    """

    def __init__(self, path: Path, *, lock_timeout: float = LOCK_TIMEOUT) -> None:
        self.path = path
        self.lock_timeout = lock_timeout
        self._seen: str | None = None
        self._lock_depth = 0

    @property
    def target(self) -> Path:
        """The file a write replaces: the path itself, or the file a symlink points to."""
        return Path(os.path.realpath(self.path))

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the file's lock (re-entrant within this object) for a whole read, change and write."""
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        self._validated(self._read())  # an invalid stack file is refused before a lock file is made
        check_writable(self.target)
        with locked(self.target, timeout=self.lock_timeout):
            self._lock_depth = 1
            try:
                yield
            finally:
                self._lock_depth = 0

    def check_writable(self) -> None:
        """Refuse before any other work when a write-back could not happen: the file missing, a folder,
        read-only, in a read-only folder, or not a valid stack file."""
        self.images()
        check_writable(self.target)

    def _read(self) -> str:
        return read_text(
            self.path,
            limit=MAX_STACK_FILE_BYTES,
            what="stack config",
            fix="pass --stack-config FILE: a UTF-8 stack file of at most 1 MiB; nothing was written",
        )

    def _text(self) -> str:
        self._seen = self._read()
        return self._seen

    def document(self) -> Any:
        """The file's YAML document as `stack_document` reads it, without the images contract (for readers of
        other keys: the Pulumi program's render, trusted-publishers)."""
        return stack_document(self._read(), str(self.path))[0]

    def _at(self, root: yaml.Node | None, error: InputError) -> InputError:
        """`error` with the file and the line of the deepest node its key names."""
        found = None
        if isinstance(error, StackConfigError) and error.key.startswith(IMAGES_KEY):
            keys = [part for part in error.key.removeprefix(IMAGES_KEY).split(".") if part]
            for depth in range(len(keys), -1, -1):
                found = _node_at(root, "config", IMAGES_KEY, *[k.split("[")[0] for k in keys[:depth]])
                if found:
                    break
        where = f"line {found[0].start_mark.line + 1}: " if found else ""
        message = error.message.removeprefix(f"{STACK_CONFIG_FILE}: ")
        return InputError(f"{self.path}: {where}{message}", hint=error.hint)

    def _validated(self, text: str) -> tuple[Any, yaml.Node | None, dict[str, ImagePin]]:
        """The decoded file, its node tree, and its images subtree checked against the contract."""
        data, root = stack_document(text, str(self.path), positions=True)
        if data is not None and not isinstance(data, dict):
            raise InputError(
                f"{self.path}: line 1: the file is not a mapping", hint="a stack file maps config: to keys"
            )
        config = (data or {}).get("config")
        if config is not None and not isinstance(config, dict):
            line = _node_at(root, "config")
            where = f"line {line[0].start_mark.line + 1}: " if line else ""
            raise InputError(f"{self.path}: {where}config is not a mapping", hint="write config: as a mapping")
        images = (config or {}).get(IMAGES_KEY)
        if images is not None and not isinstance(images, dict):
            try:
                parse_images(images)
            except InputError as error:
                raise self._at(root, error) from None
        pins = {}
        for name, value in (images or {}).items():
            try:
                pins[str(name)] = parse_image_pin(str(name), value)
            except InputError as error:
                raise self._at(root, error) from None
        return data, root, pins

    def pins_from_text(self, text: str) -> dict[str, ImagePin]:
        """The validated images subtree of another version of this file (from git history, say)."""
        return self._validated(text)[2]

    def images(self) -> dict[str, ImagePin]:
        """The validated images subtree (projects without an entry are absent)."""
        return self._validated(self._text())[2]

    def config_value(self, key: str) -> Any:
        """The value of one config key (e.g. percolate-platform:canary) of the validated file, None if absent."""
        data = self._validated(self._text())[0]
        return ((data or {}).get("config") or {}).get(key)

    def pin(self, project: str) -> ImagePin | None:
        return self.images().get(project)

    def render_with(self, text: str, pin: ImagePin) -> str:
        """`text` with the entry of `pin.project` replaced by `pin`, every other byte unchanged."""
        data, root, _ = self._validated(text)
        entry = pin.to_dict()
        config = _node_at(root, "config")
        images = _node_at(root, "config", IMAGES_KEY)
        edits = _entry_edits(text, images, config, root, pin.project, entry)
        new_text = text
        for edit in sorted(edits, key=lambda e: e.start, reverse=True):
            new_text = new_text[: edit.start] + edit.text + new_text[edit.end :]
        expected = dict(data or {})
        expected["config"] = dict(expected.get("config") or {})
        expected["config"][IMAGES_KEY] = {**(expected["config"].get(IMAGES_KEY) or {}), pin.project: entry}
        written, _, pins = self._validated(new_text)
        if written != expected or pins.get(pin.project) != pin:
            raise RuleRefused(
                f"the write-back to {self.path} would change more than {IMAGES_KEY}.{pin.project}; nothing was written",
                hint="simplify the file's layout around the images subtree and re-run",
            )
        return new_text

    def write_pin(self, pin: ImagePin, *, dry_run: bool = False) -> bool:
        """Write `pin` as the project's entry; returns whether the file changed. Locked, refused when the file
        changed since this object read it, atomic, read back and validated."""
        if dry_run:
            text = self._read()
            base = text.replace("\r\n", "\n") if _uses_crlf(text) else text
            return self.render_with(base, pin) != base
        with self.locked():
            seen, text = self._seen, self._read()
            if seen is not None and text != seen:
                raise RuleRefused(
                    f"{self.path} changed since it was read (another run or a person wrote it); nothing was written",
                    hint="re-run the command: it reads the file again",
                )
            crlf = _uses_crlf(text)
            new_text = self.render_with(text.replace("\r\n", "\n") if crlf else text, pin)
            if crlf:
                new_text = new_text.replace("\n", "\r\n")
            if new_text == text:
                return False
            atomic_write_text(self.target, new_text)
            if self.pin(pin.project) != pin:
                raise Corrupt(f"{self.path} did not read back as written", hint="check the disk and re-run")
            return True
