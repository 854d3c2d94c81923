"""Child flows: a flow starts another flow, of its own component or a
host-side flow, as an execution of its own, and gets its output as it gets
a checkpoint's.

    total = cairn.child_flow(add, a=1, b=2)              # waits for it
    child = cairn.start_child_flow("report", {"day": d})  # does not
    ...
    text = child.result()

In Cairn the host journals the start with the child's id: a resumed flow
finds the child it started (and its output, once it completed) and never
starts it twice, a cancel of the flow cancels its children, and
`cairn executions show` links parent and child both ways. In plain Python
(a local run) a child flow of the same program runs in place, at once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from . import _registry
from ._context import Outcome, flow_runner
from ._errors import ChildFlowFailed, ContextError
from ._types import decode, encode

#: The rule a checkpoint that starts a child flow is told (the host's words).
ONLY_FLOWS = "only flows start child flows"


class _FromFlow:
    """The default `type`: the flow's return annotation when the flow is
    given as a `@flow`, else the JSON as it is."""

    def __repr__(self) -> str:
        return "the flow's return type"


FROM_FLOW: Any = _FromFlow()


class ChildFlow:
    """A started child flow: its place in the journal was fixed when it
    was started; `result()` (or `load()`) waits for its output and returns
    it, or raises why the child did not complete.

    The child runs whether or not its result is awaited, but a failure
    that is never awaited fails the flow's execution when the flow ends,
    as an unawaited call's does. While the child waits (for a value, a
    sleep), so does the flow that awaits it."""

    def __init__(self, flow: str, pending: Any, type: Any) -> None:
        self.flow = flow
        self._pending = pending
        self._type = type
        self._outcome: Outcome | None = None

    def result(self) -> Any:
        """The child's output, converted to the type asked for."""
        if self._outcome is None:
            self._outcome = self._pending.outcome()
        return _output(self.flow, self._outcome, self._type)

    load = result

    def __repr__(self) -> str:
        return f"<cairn child flow {self.flow}>"


def child_flow(flow: Any, input: Any = None, /, *, type: Any = FROM_FLOW, **params: Any) -> Any:
    """Runs `flow` as a child execution and returns its output.

    `flow` is a `@flow` of this program or the name of one (or of a
    host-side flow the host registered). Its input is its named
    parameters, as keywords (`child_flow(add, a=1, b=2)`) or as a dict or
    dataclass (`child_flow("add", {"a": 1, "b": 2})`, the form for a
    parameter named `type`), sent as JSON as a flow's input is. The output
    is converted to `type`: by default the flow's return annotation when
    `flow` is a `@flow`, else the JSON as it is.

    Raises `ChildFlowFailed` when the child failed or was cancelled, and
    `ContextError` when it could not be started: an unknown flow, an input
    its parameters refuse, or a start from outside a flow (only flows start
    child flows)."""
    name, entry = _flow(flow)
    runner = flow_runner(f"the start of child flow `{name}`", ONLY_FLOWS)
    input_json = _input_json(name, entry, input, params)
    return _output(name, runner.run_child(name, input_json), _type(entry, type))


def start_child_flow(flow: Any, input: Any = None, /, *, type: Any = FROM_FLOW, **params: Any) -> ChildFlow:
    """Starts `flow` as a child execution, as `child_flow` does, and
    returns its `ChildFlow` handle at once: several children run at the
    same time, and `.result()` waits for each. An input that does not
    serialize raises here; a refused start, from `.result()`."""
    name, entry = _flow(flow)
    runner = flow_runner(f"the start of child flow `{name}`", ONLY_FLOWS)
    input_json = _input_json(name, entry, input, params)
    return ChildFlow(name, runner.start_child(name, input_json), _type(entry, type))


def _flow(flow: Any) -> tuple[str, Any]:
    """The flow's name, and its registry entry when it was given as a
    `@flow` (a name may also be a host-side flow's, unknown here)."""
    if isinstance(flow, str):
        return flow, None
    entry = getattr(flow, "entry", None)
    if entry is not None and entry.what == "flow":
        return entry.name, entry
    if entry is not None:
        raise ContextError(f"`{entry.name}` is a {entry.what}, not a flow: call it instead of starting it as a child flow")
    raise ContextError(f"a child flow is a @flow or a flow's name, not {flow!r}")


def _type(entry: Any, type: Any) -> Any:
    if type is not FROM_FLOW:
        return type
    return entry.returns if entry is not None else Any


def _input_json(name: str, entry: Any, input: Any, params: dict[str, Any]) -> str:
    """The child's input JSON: `input` (a dict or a dataclass of the named
    parameters) and the keyword parameters together; checked against the
    flow's signature when the flow is known here."""
    value: Any = {} if input is None else input
    if params:
        if not isinstance(value, Mapping):
            raise ContextError(
                f"the input of child flow `{name}`: give its parameters as keywords or as one dict, "
                f"not keywords and a {value.__class__.__name__}"
            )
        twice = sorted(k for k in params if k in value)
        if twice:
            raise ContextError(f"the input of child flow `{name}`: parameter `{twice[0]}` is given twice")
        value = {**value, **params}
    elif isinstance(value, Mapping) and not isinstance(value, dict):
        value = dict(value)
    try:
        data = encode(value)
    except ValueError as e:
        raise ContextError(f"the input of child flow `{name}` does not serialize: {e}") from None
    input_json = json.dumps(data)
    if entry is not None:
        _check(name, entry, input_json)
    return input_json


def _check(name: str, entry: Any, input_json: str) -> None:
    """Refuses here an input the flow's parameters would refuse when it
    starts (the same check the flow's own start makes)."""
    try:
        _registry.parse_input(entry, input_json)
    except _registry.BadInput as e:
        raise ContextError(f"the input of child flow `{name}` is refused: {e}") from None


def _output(name: str, outcome: Outcome, type: Any) -> Any:
    """The child's output as `type`, or the error the flow sees."""
    tag = outcome[0]
    if tag == "context":
        raise ContextError(outcome[1])
    if tag == "failed":
        raise ChildFlowFailed(name, outcome[1])
    if tag == "trapped":
        raise ChildFlowFailed(name, outcome[2])
    if tag != "ok":
        raise ContextError(f"child flow `{name}`: the runner answered {outcome!r}")
    try:
        return decode(json.loads(outcome[1]), type, "output")
    except ValueError as e:
        raise ContextError(f"the output of child flow `{name}` does not match its type: {e}") from None
