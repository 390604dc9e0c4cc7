"""Reading an experiment file's YAML before it is validated: duplicate keys, nesting and alias expansion refused
with the file and line, ``${ENV_VAR}`` secret references expanded, and the line of a key path for messages."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from fs1.errors import InputError


def read_experiment_yaml(path: Path) -> tuple[str, dict[str, Any]]:
    """The text of the experiment file ``path`` and its mapping, secret references expanded; every problem an
    ``InputError`` naming the file (and the line where YAML knows it)."""
    if not path.exists():
        raise InputError(f"{path}: no such experiment file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    try:
        check_nesting(text)
        raw = yaml.load(text, Loader=UniqueKeyLoader) or {}
    except DuplicateKeyError as exc:
        raise InputError(f"{path}:{exc.line}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise InputError(f"{path}{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    except TooDeepError as exc:
        raise InputError(f"{path}:{exc.line}: invalid YAML (nested too deeply to read)") from None
    if not isinstance(raw, dict):
        raise InputError(f"{path}: the experiment file must be a YAML mapping")
    check_expansion(raw, path)
    raw = expand_secret_refs(raw, path)
    return text, raw


def line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """Best-effort YAML line of a key path, for error messages."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == str(part)), None)
            if match is None:
                key = next((k for k, _ in node.value if k.value == str(part)), None)
                return key.start_mark.line + 1 if key else node.start_mark.line + 1
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
    return node.start_mark.line + 1 if node is not None else None


class DuplicateKeyError(yaml.YAMLError):
    """A mapping that gives one key twice (YAML's default is to keep the last silently)."""

    def __init__(self, key: str, line: int, first: int) -> None:
        super().__init__(f"key {key!r} given twice (first on line {first})")
        self.line = line


# Deeper than any experiment (they nest a handful of levels). PyYAML builds collections by recursion, so without
# a cap of its own the outcome of ``[[[[…`` would depend on Python's recursion limit and on the caller's stack.
MAX_YAML_DEPTH = 100


class TooDeepError(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(f"nested more than {MAX_YAML_DEPTH} levels deep")
        self.line = line


def check_nesting(text: str) -> None:
    """Raise ``TooDeepError`` (with its line) where the YAML ``text`` nests collections beyond ``MAX_YAML_DEPTH``;
    read from PyYAML's event stream, which its parser produces without recursion."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise TooDeepError(event.start_mark.line + 1 if event.start_mark else 0)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


class UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.safe_load`` that refuses duplicate keys instead of letting the last one win."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise DuplicateKeyError(str(key), line, seen[key])
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


# Fields that may name a secret through the environment: ``kg: sparql:https://me:${SPARQL_PASSWORD}@host/sparql``.
SECRET_REF_FIELDS = ("kg", "base_url")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_secret_refs(raw: Any, path: Path) -> Any:
    """``raw`` with every ``${VAR}`` in a ``kg`` or ``base_url`` value replaced by the environment variable: the
    secret stays out of the file (and of the run's copy of it, which cluster jobs read), the jobs take it from their
    own environment. An unset variable is an ``InputError`` naming it."""
    if isinstance(raw, list):
        return [expand_secret_refs(item, path) for item in raw]
    if not isinstance(raw, dict):
        return raw
    out = {}
    for key, value in raw.items():
        if key in SECRET_REF_FIELDS and isinstance(value, str):
            missing = [name for name in _ENV_REF.findall(value) if name not in os.environ]
            if missing:
                raise InputError(f"{path}: {key}: ${{{missing[0]}}} is not set in the environment")
            value = _ENV_REF.sub(lambda m: os.environ[m.group(1)], value)
        out[key] = expand_secret_refs(value, path)
    return out


# Far more values than any experiment has; YAML aliases (``*a``) reuse a collection, so a few lines can stand for
# billions of values that every walk over the loaded file would visit.
MAX_YAML_VALUES = 100_000


def check_expansion(raw: Any, path: Path) -> None:
    """Refuse a loaded YAML document whose aliases expand it beyond ``MAX_YAML_VALUES`` values or make a collection
    hold itself; counted with each collection's size remembered, so the count costs what the file's text does."""
    sizes: dict[int, int] = {}

    def size(value: Any) -> int:
        if not isinstance(value, (dict, list)):
            return 1
        if id(value) in sizes:
            if sizes[id(value)] < 0:
                raise InputError(f"{path}: invalid YAML (an alias makes a collection contain itself)")
            return sizes[id(value)]
        sizes[id(value)] = -1  # being counted: meeting it again below is a cycle
        items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        total = 1 + sum(size(item) for item in items)
        if total > MAX_YAML_VALUES:
            raise InputError(
                f"{path}: invalid YAML (its aliases expand it to more than {MAX_YAML_VALUES} values)"
            )
        sizes[id(value)] = total
        return total

    try:
        size(raw)
    except RecursionError:
        raise InputError(f"{path}: invalid YAML (nested too deeply to read)") from None
