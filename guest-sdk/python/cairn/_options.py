"""The options of `@checkpoint(...)` and `@flow(...)`, checked at import
time with the Rust SDK's rules and messages."""

from __future__ import annotations

from typing import Any

from ._errors import BuildError
from ._registry import MAX_RETRIES

CHECKPOINT_OPTIONS = ("runtime", "retries", "cache", "type", "kind", "fuel", "memory", "timeout_ms")
FLOW_OPTIONS = ("retries", "cache")

_EXAMPLES = {
    "retries": "retries=3",
    "cache": "cache=True",
    "type": 'type="llm_call"',
    "kind": 'kind="llm_call"',
    "runtime": 'runtime="isolated"',
    "fuel": "fuel=1_000_000_000",
    "memory": "memory=67_108_864",
    "timeout_ms": "timeout_ms=5_000",
}


def check(what: str, name: str, options: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    """The options, validated; anything else is a `BuildError` naming the
    decorated function."""
    where = f"@{what} on `{name}`"
    for key in options:
        if key not in allowed:
            raise BuildError(f"{where}: unknown option `{key}`; expected one of: {', '.join(allowed)}")
    out: dict[str, Any] = {}
    if "retries" in options:
        out["retries"] = _whole(where, "retries", options["retries"], 0, MAX_RETRIES)
    if "cache" in options:
        if not isinstance(options["cache"], bool):
            raise BuildError(f"{where}: `cache` takes True or False, e.g. `{_EXAMPLES['cache']}`")
        out["cache"] = options["cache"]
    if "runtime" in options:
        if options["runtime"] not in ("inline", "isolated"):
            raise BuildError(f'{where}: `runtime` takes "inline" or "isolated", not {options["runtime"]!r}')
        out["runtime"] = options["runtime"]
    if "type" in options and "kind" in options:
        raise BuildError(f"{where}: `type` and `kind` are two spellings of one label; give one")
    for key in ("type", "kind"):
        if key in options:
            out["kind"] = _label(where, key, options[key])
    for key in ("fuel", "memory", "timeout_ms"):
        if key in options:
            out[key] = _whole(where, key, options[key], 1, (1 << 64) - 1)
    return out


def _whole(where: str, key: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        if key == "retries":
            raise BuildError(f"{where}: `retries` must be a whole number from 0 to {MAX_RETRIES}, e.g. `retries=3`")
        raise BuildError(f"{where}: `{key}` takes a positive whole number, e.g. `{_EXAMPLES[key]}`")
    return value


def _label(where: str, key: str, value: Any) -> str:
    ok = (
        isinstance(value, str)
        and 0 < len(value) <= 128
        and value.isascii()
        and (value[0].isalpha() or value[0] == "_")
        and all(c.isalnum() or c in "_-." for c in value)
    )
    if not ok:
        raise BuildError(
            f"{where}: `{key}` takes a label of ASCII letters, digits, `_`, `-` or `.` "
            f"(at most 128, starting with a letter or `_`), e.g. `{_EXAMPLES[key]}`"
        )
    return value
