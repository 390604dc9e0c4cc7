"""Typer options derived from a stage's pydantic schema, so a setting is declared once (the TRL ``HfArgumentParser``
shape): each field becomes ``--field-name`` with the field's type, default, bounds (``ge``/``le``) and description.

``@schema_options(Model, param="config")`` adds those options to a command and hands the command one validated
``Model`` in ``param``; the command's own parameters (inputs, outputs, switches that are not settings) stay as they
are. ``BOUND`` records every binding so a test can walk every field and check the command line and the schema agree.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from pydantic import BaseModel

# Field types an option can carry as they are; lists and tuples travel as comma-separated text.
_PLAIN = (bool, int, float, str, Path)


@dataclass(frozen=True)
class Binding:
    """One schema bound to one command: which fields became which options."""

    command: str
    model: type
    options: dict[str, str] = field(default_factory=dict)  # field name -> primary option name


BOUND: list[Binding] = []


def option_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def schema_options(
    model: type[BaseModel],
    *,
    param: str = "config",
    exclude: tuple[str, ...] = (),
    aliases: dict[str, tuple[str, ...]] | None = None,
    panels: dict[str, str] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a Typer command so that every field of ``model`` (but ``exclude``) is an option of it.

    ``aliases``: extra option names of a field (short flags, names kept from earlier versions); ``panels``: the
    ``--help`` panel of a field. The command receives the validated model as keyword ``param``; a validation error
    propagates (``user_errors`` prints it as one line).
    """
    aliases = aliases or {}
    panels = panels or {}
    # A mapping is an option only where it names one (``json_schema_extra={"cli": "--name"}``): a repeated KEY=VALUE
    # option, such as a model reference's --backend-option; other mappings are Python-only.
    fields = {
        name: info
        for name, info in model.model_fields.items()
        if name not in exclude and (not _is_mapping(info) or _cli_name(info) is not None)
    }

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(func, eval_str=True)
        own = [p for p in signature.parameters.values() if p.name != param]
        clash = {p.name for p in own} & set(fields)
        if clash:
            raise TypeError(
                f"{func.__name__}: parameters {sorted(clash)} are also fields of {model.__name__}"
            )
        added = [
            _parameter(name, info, aliases.get(name, ()), panels.get(name)) for name, info in fields.items()
        ]
        names = {name: _cli_name(info) or option_name(name) for name, info in fields.items()}
        mappings = {name: names[name] for name, info in fields.items() if _is_mapping(info)}
        command = _bound_command(func, model, fields, param, mappings)
        command.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in (*own, *added)}
        BOUND.append(Binding(func.__name__, model, names))
        return command

    return decorate


def _bound_command(
    func: Callable[..., Any], model: type, fields: dict[str, Any], param: str, names: dict[str, str]
) -> Callable[..., Any]:
    """``func`` called with the schema's options validated into one ``model`` in ``param``."""

    @functools.wraps(func)
    def command(**kwargs: Any) -> Any:
        values = {name: _from_cli(kwargs.pop(name), fields[name]) for name in fields}
        from pydantic import ValidationError

        from fs1.cli.app import user_errors
        from fs1.errors import ConfigError, validation_message

        with user_errors():
            try:
                config = model(**values)
            except ValidationError as exc:  # named as the options the user typed
                raise ConfigError(validation_message(exc, names=names)) from None
        return func(**kwargs, **{param: config})

    return command


def _parameter(name: str, info: Any, extra: tuple[str, ...], panel: str | None) -> inspect.Parameter:
    """The Typer option of one schema field."""
    annotation, optional = _unwrap_optional(info.annotation)
    annotation = _unannotated(annotation)
    default = info.get_default(call_default_factory=True)
    # Bounds stay with the schema, which checks them and names the option in a one-line message.
    kwargs: dict[str, Any] = {"help": _help(info), "rich_help_panel": panel}
    # A mapping's other names stay YAML-only: its one option already reads as its name.
    extra = (*([] if _is_mapping(info) else _alias_options(name, info)), *extra)
    long_aliases = [alias for alias in extra if alias.startswith("--")]
    if long_aliases:  # the option column of --help is narrow; the help text names them in full
        kwargs["help"] += f" Also: {', '.join(long_aliases)}."
    names: list[str] = [_cli_name(info) or option_name(name), *extra]
    if _is_mapping(info):  # repeated KEY=VALUE; the schema checks names and values
        kwargs["help"] += " KEY=VALUE, repeatable."
        option = typer.Option(None, *names, **kwargs)
        return inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=list[str] | None
        )
    if annotation is bool:
        # A switch that is off by default is a plain flag; one that is on (or decided later, None) can be negated.
        if default is not False:
            names = [f"{option_name(name)}/--no-{name.replace('_', '-')}", *extra]
        cli_type: Any = bool
    elif typing.get_origin(annotation) in (list, tuple):
        cli_type, default = str, None if default is None else ",".join(str(v) for v in default)
    elif annotation in _PLAIN:
        cli_type = annotation
    else:  # Literal vocabularies travel as text; the schema checks the value and names the choices
        cli_type = str
    if optional or default is None:
        cli_type = cli_type | None
    if info.is_required():
        default = ...
    option = typer.Option(default, *names, **kwargs)
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=cli_type)


def _help(info: Any) -> str:
    """The field's description, with its bounds (the schema enforces them)."""
    bounds = []
    for meta in (*info.metadata, *_annotated_metadata(info.annotation)):
        for attr, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if getattr(meta, attr, None) is not None:
                bounds.append(f"{sign} {getattr(meta, attr)}")
    return (info.description or "") + (f" [{', '.join(bounds)}]" if bounds else "")


def _unannotated(annotation: Any) -> Any:
    """``Annotated[X, ...]`` -> ``X`` (a shared type such as ``fs1.config.TopP``); anything else as it is."""
    return typing.get_args(annotation)[0] if typing.get_origin(annotation) is typing.Annotated else annotation


def _annotated_metadata(annotation: Any) -> list[Any]:
    """The constraints a shared type carries inside ``X | None`` (pydantic keeps them off the field there)."""
    inner, _ = _unwrap_optional(annotation)
    if typing.get_origin(inner) is not typing.Annotated:
        return []
    return [meta for extra in typing.get_args(inner)[1:] for meta in getattr(extra, "metadata", [extra])]


def _alias_options(name: str, info: Any) -> tuple[str, ...]:
    """Options for the schema's own alternative names (``AliasChoices``): one alias list serves YAML and CLI."""
    choices = getattr(info.validation_alias, "choices", None) or ()
    return tuple(option_name(alias) for alias in choices if isinstance(alias, str) and alias != name)


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    """``X | None`` -> ``(X, True)``; anything else -> ``(annotation, False)``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _is_mapping(info: Any) -> bool:
    return typing.get_origin(_unwrap_optional(info.annotation)[0]) is dict


def _cli_name(info: Any) -> str | None:
    """The option name a field declares for itself (``json_schema_extra={"cli": ...}``), if any."""
    extra = info.json_schema_extra
    name = extra.get("cli") if isinstance(extra, dict) else None
    return name if isinstance(name, str) else None


def key_values(items: list[str] | None, option: str) -> dict[str, str]:
    """``["timeout=120"]`` -> ``{"timeout": "120"}``; the schema validates names and values."""
    pairs: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint=option)
        pairs[key.strip()] = value.strip()
    return pairs


def _from_cli(value: Any, info: Any) -> Any:
    """Comma-separated text back into the list a ``list[int]`` field takes, KEY=VALUE items into a mapping; other
    values (a tuple of names is split by its schema) pass through."""
    if _is_mapping(info):
        return key_values(value, _cli_name(info) or "")
    inner, _ = _unwrap_optional(info.annotation)
    if typing.get_origin(inner) is list and _item_type(inner) is int and isinstance(value, str):
        try:
            return [int(x) for x in value.split(",") if x.strip()]
        except ValueError:
            raise typer.BadParameter(f"expected comma-separated integers, got {value!r}") from None
    return value


def _item_type(list_type: Any) -> Any:
    """The item type of ``list[X]`` or ``list[Annotated[X, ...]]``."""
    (item,) = typing.get_args(list_type)
    return typing.get_args(item)[0] if typing.get_origin(item) is typing.Annotated else item
