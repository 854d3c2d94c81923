"""The JSON schema (draft 2020-12) of a wait's type, derived from its
annotation: what the host checks a supplied value against."""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from typing import Any

from ._errors import BuildError
from ._types import _is_typeddict, is_optional, type_name

_NONE = type(None)


def schema_of(tp: Any) -> dict[str, Any]:
    """The schema of `tp`; a recursive type raises `BuildError`."""
    return _schema(tp, ())


def _schema(tp: Any, seen: tuple) -> dict[str, Any]:
    if tp is Any or tp is object:
        return {}
    if tp is _NONE or tp is None:
        return {"type": "null"}
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return _schema(args[0], seen)
    if origin is typing.Union or origin is types.UnionType:
        return {"anyOf": [_schema(a, seen) for a in args]}
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in (list, set, frozenset, typing.List, typing.Sequence) or tp in (list, set, frozenset):
        return {"type": "array", "items": _schema(args[0], seen) if args else {}}
    if origin is tuple or tp is tuple:
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            return {"type": "array", "items": _schema(args[0], seen) if args else {}}
        return {
            "type": "array",
            "prefixItems": [_schema(a, seen) for a in args],
            "items": False,
            "minItems": len(args),
        }
    if origin in (dict, typing.Dict, typing.Mapping) or tp is dict:
        value = args[1] if len(args) == 2 else Any
        return {"type": "object", "additionalProperties": _schema(value, seen)}
    if isinstance(tp, type) and (dataclasses.is_dataclass(tp) or _is_typeddict(tp)):
        if tp in seen:
            raise BuildError(f"the type {tp.__name__} contains itself; a wait needs a type without recursion")
        return _object(tp, seen + (tp,))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [m.value for m in tp]}
    simple = {bool: "boolean", int: "integer", float: "number", str: "string"}
    if tp in simple:
        return {"type": simple[tp]}
    raise BuildError(f"Cairn cannot derive a JSON schema for {type_name(tp)}")


def _object(tp: type, seen: tuple) -> dict[str, Any]:
    hints = typing.get_type_hints(tp)
    properties = {}
    required = []
    if dataclasses.is_dataclass(tp):
        for field in dataclasses.fields(tp):
            if not field.init:
                continue
            ftype = hints.get(field.name, Any)
            properties[field.name] = _schema(ftype, seen)
            has_default = field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING
            if not has_default and not is_optional(ftype):
                required.append(field.name)
        closed = True
    else:
        keys = getattr(tp, "__required_keys__", frozenset(hints))
        for name, ftype in hints.items():
            properties[name] = _schema(ftype, seen)
            if name in keys and not is_optional(ftype):
                required.append(name)
        closed = False
    schema: dict[str, Any] = {"title": tp.__name__, "type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if closed:
        schema["additionalProperties"] = False
    return schema
