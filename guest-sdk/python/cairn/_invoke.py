"""Running one flow or checkpoint entry: JSON in, the author's function,
JSON out, and every way that can end classified as the Rust SDK classifies
it: bad input, a failure with its message (the traceback goes to the
attempt's stderr), or a fatal error that must trap (`MemoryError` as
`memory`, `RecursionError` and other fatal errors as `trap`)."""

from __future__ import annotations

import traceback
from typing import Any

from . import _context, _registry
from ._errors import CairnError
from ._registry import BadInput, Entry

#: Errors after which the interpreter's state cannot be trusted: the
#: attempt traps instead of failing, as a Rust panic or allocation failure
#: does.
FATAL = (MemoryError, RecursionError, SystemError)


def message_of(error: BaseException) -> str:
    """What a failed attempt reports: the exception's text, or its class
    name when it has none."""
    if isinstance(error, CairnError):
        return str(error)
    text = str(error)
    return text if text else type(error).__name__


def trap_kind(error: BaseException) -> str:
    return "memory" if isinstance(error, MemoryError) else "trap"


def invoke(entry: Entry, input_json: str, runner: Any) -> tuple:
    """Runs `entry` with `input_json` as a flow or checkpoint of `runner`:
    ("ok", output_json), ("bad-input", message), ("failed", message,
    traceback, exception) or ("fatal", kind, message, traceback,
    exception)."""
    try:
        kwargs = _registry.parse_input(entry, input_json)
    except BadInput as e:
        return ("bad-input", str(e))
    state = _context.state
    saved = (state.mode, state.runner)
    # Not `_context.running`: a generator-based context manager costs more
    # than the rest of a small call's guest side, on every call.
    state.mode, state.runner = entry.what, runner
    try:
        value = entry.func(**kwargs)
    except FATAL as e:
        return ("fatal", trap_kind(e), f"{type(e).__name__}: {e}", _traceback(e), e)
    except SystemExit as e:
        return ("fatal", "trap", f"exited with code {e.code}", _traceback(e), e)
    except ModuleNotFoundError as e:
        return ("failed", _missing_module(e), _traceback(e), e)
    except Exception as e:
        return ("failed", message_of(e), _traceback(e), e)
    finally:
        state.mode, state.runner = saved
    try:
        return ("ok", _registry.output_json(entry, value))
    except ValueError as e:
        return ("failed", f"the output does not serialize: {e}", "", e)


def _missing_module(error: ModuleNotFoundError) -> str:
    """A module missing inside a component was imported only at run time:
    componentize-py bundles the modules imported while it builds."""
    text = message_of(error)
    if not _context.state.in_component:
        return text
    name = error.name or "the module"
    return (
        f"{text}: a module imported only at run time is not in the component; import it at the "
        f"top of the app, or build with `python -m cairn build --preload {name}`"
    )


def _traceback(error: BaseException) -> str:
    try:
        return "".join(traceback.format_exception(type(error), error, error.__traceback__))
    except MemoryError:
        return f"{type(error).__name__}: {error}\n"
