"""The component's flows and checkpoints, registered by the decorators at
import time, and the manifest (`describe`) generated from them: the same
records, in the same order, as the Rust SDK's."""

from __future__ import annotations

import dataclasses
import inspect
import json
import typing
from typing import Any, Callable

from ._errors import BuildError, ContextError
from ._types import decode, encode, is_optional, type_name

#: The version `describe` reports: the Python SDK's, like the Rust SDK's
#: crate version.
SDK_VERSION = "0.1.0"

MAX_RETRIES = 100
MAX_NAME_LEN = 128
MAX_DOC_LEN = 4096
MAX_PARAMS = 256


@dataclasses.dataclass(frozen=True)
class Param:
    """One parameter of a flow or checkpoint."""

    name: str
    annotation: Any
    type_name: str
    optional: bool
    default: Any


@dataclasses.dataclass
class Entry:
    """One `@flow` or `@checkpoint`: what `describe` says of it and how to
    run it."""

    what: str  # "flow" or "checkpoint"
    name: str
    func: Callable[..., Any]
    params: list[Param]
    returns: Any
    doc: str | None
    retries: int
    cache: bool | None
    kind: str | None = None
    runtime: str = "inline"
    fuel: int | None = None
    memory: int | None = None
    timeout_ms: int | None = None
    #: The function's signature, read once: binding a call's arguments to
    #: it is on every call's path.
    sig: inspect.Signature | None = None


class BadInput(Exception):
    """The input JSON does not match the parameters."""


_flows: dict[str, Entry] = {}
_checkpoints: dict[str, Entry] = {}


def flows() -> dict[str, Entry]:
    """The registered flows, by name."""
    return _flows


def checkpoints() -> dict[str, Entry]:
    """The registered checkpoints, by name."""
    return _checkpoints


def register(entry: Entry) -> None:
    """Adds `entry`; a second flow or checkpoint of one name is a build
    error (the host would refuse the component)."""
    table = _flows if entry.what == "flow" else _checkpoints
    other = _checkpoints if entry.what == "flow" else _flows
    previous = table.get(entry.name) or other.get(entry.name)
    if previous is not None:
        raise BuildError(
            f"two entries are named `{entry.name}`: the {previous.what} in {_where(previous.func)} "
            f"and the {entry.what} in {_where(entry.func)}; names must be unique within a component"
        )
    table[entry.name] = entry


def _where(func: Callable[..., Any]) -> str:
    code = getattr(func, "__code__", None)
    if code is None:
        return getattr(func, "__module__", "?")
    return f"{code.co_filename}:{code.co_firstlineno}"


def check_name(what: str, name: str) -> None:
    """The host's rule for names: 1 to 128 ASCII letters, digits, `_`, `-`
    or `.`, starting with a letter or `_`."""
    ok = (
        0 < len(name) <= MAX_NAME_LEN
        and name.isascii()
        and (name[0].isalpha() or name[0] == "_")
        and all(c.isalnum() or c in "_-." for c in name)
    )
    if not ok:
        raise BuildError(
            f"{what} name {name!r} is not a Cairn name: 1 to {MAX_NAME_LEN} ASCII letters, "
            "digits, `_`, `-` or `.`, starting with a letter or `_`"
        )


def signature(what: str, func: Callable[..., Any]) -> tuple[list[Param], Any, inspect.Signature]:
    """The parameters and return annotation of `func`, refusing what a JSON
    object of named parameters cannot carry (`*args`, `**kwargs`,
    positional-only parameters)."""
    name = getattr(func, "__name__", "?")
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError) as e:
        raise BuildError(f"{what} `{name}`: cannot read its signature: {e}") from None
    try:
        hints = typing.get_type_hints(func, include_extras=False)
    except Exception as e:  # an annotation that names something undefined
        raise BuildError(f"{what} `{name}`: cannot resolve its annotations: {e}") from None
    params = []
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            raise BuildError(
                f"{what} `{name}` takes `*{p.name}`: a {what}'s input is a JSON object of named "
                "parameters, so every parameter needs a name (use a `list` parameter instead)"
            )
        if p.kind is p.VAR_KEYWORD:
            raise BuildError(
                f"{what} `{name}` takes `**{p.name}`: a {what}'s input is a JSON object of named "
                "parameters, so each must be declared (use a `dict` parameter instead)"
            )
        if p.kind is p.POSITIONAL_ONLY:
            raise BuildError(f"{what} `{name}`: parameter `{p.name}` is positional-only; Cairn passes parameters by name")
        check_name(f"parameter of `{name}`:", p.name)
        annotation = hints.get(p.name, Any)
        has_default = p.default is not p.empty
        params.append(
            Param(
                name=p.name,
                annotation=annotation,
                type_name=type_name(annotation),
                optional=has_default or is_optional(annotation),
                default=p.default if has_default else None,
            )
        )
    if len(params) > MAX_PARAMS:
        raise BuildError(f"{what} `{name}` has {len(params)} parameters; at most {MAX_PARAMS} are allowed")
    return params, hints.get("return", Any), sig


def doc_of(func: Callable[..., Any]) -> str | None:
    """The docstring, cleaned as `inspect` does, control characters but
    line breaks and tabs dropped, cut to what the host accepts."""
    text = inspect.getdoc(func)
    if not text:
        return None
    text = "".join(c for c in text if c in "\n\t" or c.isprintable())
    text = "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")
    encoded = text.encode()
    if len(encoded) > MAX_DOC_LEN:
        text = encoded[:MAX_DOC_LEN].decode(errors="ignore")
    return text or None


def parse_input(entry: Entry, input_json: str) -> dict[str, Any]:
    """The keyword arguments for `entry` from its JSON input object."""
    try:
        value = json.loads(input_json)
    except ValueError as e:
        raise BadInput(f"the input is not JSON: {e}") from None
    if not isinstance(value, dict):
        raise BadInput(f"the input must be a JSON object of named parameters, not {type(value).__name__}")
    names = {p.name for p in entry.params}
    unknown = sorted(k for k in value if k not in names)
    if unknown:
        expected = ", ".join(f"`{n}`" for n in sorted(names)) or "none"
        raise BadInput(f"unknown field `{unknown[0]}`, expected {expected}")
    kwargs = {}
    for p in entry.params:
        if p.name in value:
            try:
                kwargs[p.name] = decode(value[p.name], p.annotation, p.name)
            except ValueError as e:
                raise BadInput(str(e)) from None
        elif p.optional:
            kwargs[p.name] = p.default
        else:
            raise BadInput(f"missing field `{p.name}`")
    return kwargs


def input_json(entry: Entry, args: tuple, kwargs: dict[str, Any]) -> str:
    """The JSON input object of a call of `entry` with Python arguments."""
    if not kwargs and len(args) == len(entry.params):
        # The common case, without `Signature.bind`: every parameter given
        # positionally.
        arguments = dict(zip((p.name for p in entry.params), args))
    else:
        try:
            arguments = (entry.sig or inspect.signature(entry.func)).bind(*args, **kwargs).arguments
        except TypeError as e:
            raise ContextError(f"checkpoint `{entry.name}`: {e}") from None
    try:
        return json.dumps({k: encode(v) for k, v in arguments.items()})
    except ValueError as e:
        raise ContextError(f"the input of checkpoint `{entry.name}` does not serialize: {e}") from None


def output_json(entry: Entry, value: Any) -> str:
    """The JSON of a returned value."""
    return json.dumps(encode(value))


def decode_output(entry: Entry, output: str) -> Any:
    """A checkpoint's output JSON as its return annotation."""
    try:
        return decode(json.loads(output), entry.returns, "output")
    except ValueError as e:
        raise ContextError(f"the output of checkpoint `{entry.name}` does not match its return type: {e}") from None


def manifest() -> dict[str, Any]:
    """What `describe` returns, as plain data: flows and checkpoints in
    name order."""

    def params(entry: Entry) -> list[dict[str, Any]]:
        return [{"name": p.name, "type_name": p.type_name, "optional": p.optional} for p in entry.params]

    return {
        "sdk_version": SDK_VERSION,
        "flows": [
            {"name": f.name, "params": params(f), "doc": f.doc, "retries": f.retries, "cache": bool(f.cache)}
            for f in sorted(_flows.values(), key=lambda e: e.name)
        ],
        "checkpoints": [
            {
                "name": c.name,
                "params": params(c),
                "doc": c.doc,
                "retries": c.retries,
                "cache": c.cache,
                "kind": c.kind,
                "runtime": c.runtime,
                "fuel": c.fuel,
                "memory_bytes": c.memory,
                "timeout_ms": c.timeout_ms,
            }
            for c in sorted(_checkpoints.values(), key=lambda e: e.name)
        ],
    }
