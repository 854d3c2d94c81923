"""Values in and out by annotation: JSON to the annotated Python type
(dataclasses, TypedDicts, lists, dicts, tuples, Optional, unions, Any) and
back, with no dependency outside the standard library.

A value that does not fit its annotation raises `ValueError` with the path
to the part that does not fit (`order.items[2].price: expected a number`).
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from typing import Any

_NONE = type(None)
_SIMPLE = (int, str, float, bool)


def _is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__annotations__") and hasattr(tp, "__total__")


def _hints(tp: Any) -> dict[str, Any]:
    return typing.get_type_hints(tp)


def is_optional(tp: Any) -> bool:
    """Whether `tp` accepts `None` (so an input may leave it out)."""
    if tp is Any or tp is _NONE or tp is None:
        return True
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return any(arg is _NONE for arg in typing.get_args(tp))
    return False


def type_name(tp: Any) -> str:
    """The annotation as an author would write it: `list[Order]`,
    `Optional[str]`; cut to the 256 bytes the host accepts."""
    return _type_name(tp)[:256] or "Any"


def _type_name(tp: Any) -> str:
    if tp is _NONE or tp is None:
        return "None"
    if tp is Any:
        return "Any"
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:
        rest = [a for a in args if a is not _NONE]
        if len(rest) == 1 and len(args) == 2:
            return f"Optional[{_type_name(rest[0])}]"
        return " | ".join(_type_name(a) for a in args)
    if origin is typing.Literal:
        return f"Literal[{', '.join(repr(a) for a in args)}]"
    if origin is not None:
        base = getattr(origin, "__name__", None) or str(origin).replace("typing.", "")
        if args:
            return f"{base}[{', '.join(_type_name(a) for a in args)}]"
        return base
    if isinstance(tp, type):
        return tp.__name__
    if isinstance(tp, str):
        return tp
    return str(tp).replace("typing.", "")


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def decode(value: Any, tp: Any, where: str = "value") -> Any:
    """Converts parsed JSON `value` to the annotated type `tp`."""
    # The common case first, on every call's path: a value of exactly
    # the simple type annotated.
    if type(value) is tp and tp in _SIMPLE:
        return value
    if tp is Any or tp is typing.Any or tp is object:
        return value
    if tp is _NONE or tp is None:
        if value is not None:
            raise ValueError(f"{where}: expected null, got {_describe(value)}")
        return None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return decode(value, args[0], where)
    if origin is typing.Union or origin is types.UnionType:
        if value is None and _NONE in args:
            return None
        errors = []
        for arg in args:
            if arg is _NONE:
                continue
            try:
                return decode(value, arg, where)
            except ValueError as e:
                errors.append(str(e))
        raise ValueError(errors[0] if len(errors) == 1 else f"{where}: matches none of {type_name(tp)}")
    if origin is typing.Literal:
        if any(value == a and type(value) is type(a) for a in args):
            return value
        raise ValueError(f"{where}: expected one of {', '.join(repr(a) for a in args)}")
    if origin in (list, typing.List, set, frozenset, typing.Sequence) or tp in (list, set, frozenset):
        if not isinstance(value, list):
            raise ValueError(f"{where}: expected an array, got {_describe(value)}")
        item = args[0] if args else Any
        items = [decode(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        container = origin if origin in (set, frozenset) else (tp if tp in (set, frozenset) else list)
        return container(items)
    if origin is tuple or tp is tuple:
        if not isinstance(value, list):
            raise ValueError(f"{where}: expected an array, got {_describe(value)}")
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            item = args[0] if args else Any
            return tuple(decode(v, item, f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ValueError(f"{where}: expected {len(args)} items, got {len(value)}")
        return tuple(decode(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if origin in (dict, typing.Dict, typing.Mapping) or tp is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected an object, got {_describe(value)}")
        item = args[1] if len(args) == 2 else Any
        return {k: decode(v, item, f"{where}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _decode_fields(value, tp, where, dataclass=True)
    if _is_typeddict(tp):
        return _decode_fields(value, tp, where, dataclass=False)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            raise ValueError(f"{where}: expected one of {', '.join(repr(m.value) for m in tp)}") from None
    if tp is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected a boolean, got {_describe(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ValueError(f"{where}: expected a whole number, got {_describe(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where}: expected a number, got {_describe(value)}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected a string, got {_describe(value)}")
        return value
    raise ValueError(f"{where}: Cairn cannot convert JSON to {type_name(tp)}")


def _decode_fields(value: Any, tp: type, where: str, dataclass: bool) -> Any:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected an object ({tp.__name__}), got {_describe(value)}")
    hints = _hints(tp)
    if dataclass:
        fields = {f.name: f for f in dataclasses.fields(tp) if f.init}
        unknown = [k for k in value if k not in fields]
        if unknown:
            raise ValueError(f"{where}: unknown field `{unknown[0]}` for {tp.__name__}")
        out = {}
        for name, field in fields.items():
            ftype = hints.get(name, Any)
            if name in value:
                out[name] = decode(value[name], ftype, f"{where}.{name}")
            elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                if is_optional(ftype):
                    out[name] = None
                else:
                    raise ValueError(f"{where}: missing field `{name}`")
        return tp(**out)
    required = getattr(tp, "__required_keys__", frozenset(hints))
    out = {}
    for name, ftype in hints.items():
        if name in value:
            out[name] = decode(value[name], ftype, f"{where}.{name}")
        elif name in required and not is_optional(ftype):
            raise ValueError(f"{where}: missing field `{name}`")
    for key, item in value.items():
        if key not in hints:
            out[key] = item
    return out


def encode(value: Any) -> Any:
    """Converts a value to plain JSON data (dicts, lists, str, numbers,
    booleans, None)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"{value} is not a JSON number")
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return encode(value.value)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"an object key must be a string, not {type(key).__name__}")
            out[key] = encode(item)
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        return [encode(v) for v in value]
    raise ValueError(f"a {type(value).__name__} has no JSON form")
