"""`@checkpoint` and `@flow`: each registers its function at import time
and returns a callable that, in a flow, hands the call to the runner."""

from __future__ import annotations

import functools
import itertools
from typing import Any, Callable

from . import _context, _options, _registry
from ._context import flow_runner, raise_for
from ._errors import BuildError, ContextError
from ._local import FlowTest
from ._registry import Entry


class Handle:
    """A submitted checkpoint call: its place in the journal was fixed when
    it was submitted; `result()` (or Kitaru's `load()`) waits for its output
    and returns it, or raises why the call failed."""

    def __init__(self, entry: Entry, pending: Any) -> None:
        self._entry = entry
        self._pending = pending
        self._outcome: Any = None

    def result(self) -> Any:
        """The call's output, converted to the checkpoint's return type."""
        if self._outcome is None:
            self._outcome = self._pending.outcome()
        return _registry.decode_output(self._entry, raise_for(self._entry.name, self._outcome))

    load = result


class Checkpoint:
    """A registered checkpoint. Called from a flow, it is a journaled call;
    `.submit(...)` returns a `Handle`, `.map(...)` and `.product(...)` fan
    out; `.func` is the plain function, for unit tests."""

    def __init__(self, entry: Entry) -> None:
        self.entry = entry
        self.name = entry.name
        self.func = entry.func
        functools.update_wrapper(self, entry.func)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        runner = flow_runner(f"the call of checkpoint `{self.name}`")
        input_json = _registry.input_json(self.entry, args, kwargs)
        return _registry.decode_output(self.entry, raise_for(self.name, runner.call(self.name, input_json)))

    def submit(self, *args: Any, **kwargs: Any) -> Handle:
        """Submits the call and returns its handle at once; isolated calls
        run in parallel until their results are awaited."""
        runner = flow_runner(f"the call of checkpoint `{self.name}`")
        input_json = _registry.input_json(self.entry, args, kwargs)
        return Handle(self.entry, runner.submit(self.name, input_json))

    def map(self, *columns: Any, **named: Any) -> list[Any]:
        """One call per position of the zipped columns (one iterable per
        parameter, of equal lengths), outputs in input order; call ids
        `name[0]`, `name[1]`... Every call runs; the first failure in input
        order is raised."""
        runner = flow_runner(f"the map of checkpoint `{self.name}`")
        names, lists = self._columns("map", columns, named)
        lengths = [len(c) for c in lists]
        if len(set(lengths)) > 1:
            raise ContextError(
                f"map of checkpoint `{self.name}`: the inputs have different lengths "
                f"({', '.join(str(n) for n in lengths)})"
            )
        rows = list(zip(*lists)) if lists else []
        return self._fan_out(runner, names, rows)

    def product(self, *columns: Any, **named: Any) -> list[Any]:
        """One call per combination of the columns' values, the first
        parameter outermost; outputs in that order."""
        runner = flow_runner(f"the product of checkpoint `{self.name}`")
        names, lists = self._columns("product", columns, named)
        return self._fan_out(runner, names, list(itertools.product(*lists)))

    def _columns(self, what: str, columns: tuple, named: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
        params = [p.name for p in self.entry.params]
        if len(columns) > len(params):
            raise ContextError(f"{what} of checkpoint `{self.name}`: {len(columns)} columns for {len(params)} parameters")
        given = dict(zip(params, columns))
        for key, value in named.items():
            if key not in params:
                raise ContextError(f"{what} of checkpoint `{self.name}`: no parameter `{key}`")
            if key in given:
                raise ContextError(f"{what} of checkpoint `{self.name}`: parameter `{key}` is given twice")
            given[key] = value
        names = [p for p in params if p in given]
        missing = [p.name for p in self.entry.params if p.name not in given and not p.optional]
        if missing:
            raise ContextError(f"{what} of checkpoint `{self.name}`: no column for parameter `{missing[0]}`")
        return names, [list(given[n]) for n in names]

    def _fan_out(self, runner: Any, names: list[str], rows: list[tuple]) -> list[Any]:
        inputs = [_registry.input_json(self.entry, (), dict(zip(names, row))) for row in rows]
        outcomes = runner.call_map(self.name, inputs)
        return [_registry.decode_output(self.entry, raise_for(self.name, o)) for o in outcomes]

    def __repr__(self) -> str:
        return f"<cairn checkpoint {self.name}>"


class Flow:
    """A registered flow. Calling it in plain Python runs it locally with
    its checkpoints (see `cairn.testing.FlowTest` for waits and a record of
    the calls); in Cairn the host runs it."""

    def __init__(self, entry: Entry) -> None:
        self.entry = entry
        self.name = entry.name
        self.func = entry.func
        functools.update_wrapper(self, entry.func)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _context.state.mode is not None:
            child = (
                f"; to run it as a child execution, write `cairn.child_flow({self.name}, ...)`"
                if _context.state.mode == "flow"
                else ""
            )
            raise ContextError(
                f"flow `{self.name}` was called from inside a {_context.state.mode}: "
                f"a flow is started by Cairn (or, in plain Python, from outside any flow){child}"
            )
        return FlowTest().run(self, *args, **kwargs).value()

    def __repr__(self) -> str:
        return f"<cairn flow {self.name}>"


def checkpoint(func: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Declares a checkpoint: `@checkpoint` or `@checkpoint(runtime="isolated",
    retries=2, cache=True, type="llm_call", fuel=..., memory=..., timeout_ms=...)`
    (`kind=` is the Rust SDK's spelling of `type=`)."""
    return _decorate("checkpoint", func, options, _options.CHECKPOINT_OPTIONS)


def flow(func: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Declares a flow: `@flow` or `@flow(retries=1, cache=False)`."""
    return _decorate("flow", func, options, _options.FLOW_OPTIONS)


def _decorate(what: str, func: Any, options: dict[str, Any], allowed: tuple[str, ...]) -> Any:
    if func is None:
        return lambda f: _decorate(what, f, options, allowed)
    if isinstance(func, (Checkpoint, Flow)):
        raise BuildError(f"`{func.name}` is already a {func.entry.what}; decorate it once")
    if not callable(func) or not hasattr(func, "__code__"):
        raise BuildError(
            f"@{what} decorates a function, not {func!r}"
            + (" (write `@" + what + "(...)` with keyword options)" if not callable(func) else "")
        )
    name = func.__name__
    _registry.check_name(what, name)
    checked = _options.check(what, name, options, allowed)
    params, returns, sig = _registry.signature(what, func)
    is_flow = what == "flow"
    entry = Entry(
        what=what,
        name=name,
        func=func,
        params=params,
        returns=returns,
        doc=_registry.doc_of(func),
        retries=checked.get("retries", 0),
        cache=checked.get("cache", True if is_flow else None),
        kind=checked.get("kind"),
        runtime=checked.get("runtime", "inline"),
        fuel=checked.get("fuel"),
        memory=checked.get("memory"),
        timeout_ms=checked.get("timeout_ms"),
        sig=sig,
    )
    _registry.register(entry)
    return Flow(entry) if is_flow else Checkpoint(entry)
