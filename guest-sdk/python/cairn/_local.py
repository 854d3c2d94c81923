"""Flows in plain CPython, as Kitaru runs flows locally: a checkpoint call
runs the checkpoint's function at once, in this process, through JSON both
ways and with its retries, and a fatal error (`MemoryError`,
`RecursionError`) is a trapped attempt, so a flow sees the same errors as in
Cairn. `FlowTest` gives a run its wait values, clock and random seed and
hands back what happened.

A child flow of the same program runs in place, at once, with its own
record of calls (`Run.children`); a host-side flow is not there to run, so
starting one is a `ContextError`.

What differs from Cairn: nothing is journaled (no resume, replay or cache;
every call runs), there is no sandbox (no fuel, memory or time limits, no
isolation), `submit`, `map`, `product` and started child flows run one
after the other, a flow's `retries` are not applied, and the wait values
given to the test are shared by a flow and its children.
"""

from __future__ import annotations

import dataclasses
import json
import random as _random
import time
from typing import Any

from . import _registry
from ._context import raise_for
from ._errors import ContextError
from ._invoke import invoke
from ._registry import BadInput, Entry
from ._types import encode

#: How deep child flows nest in a local run: the host's default policy
#: (`Policy::max_child_depth`), so a runaway recursion of child flows stops
#: as it would in Cairn.
MAX_CHILD_DEPTH = 4


@dataclasses.dataclass
class Call:
    """One checkpoint call of a local run."""

    call_id: str
    name: str
    input: Any
    #: ("ok", output), ("failed", message) or ("trapped", kind, message).
    outcome: tuple
    attempts: int
    #: The tracebacks of its failed attempts.
    stderr: str = ""


@dataclasses.dataclass
class Wait:
    """One wait of a local run."""

    name: str
    question: str
    schema: Any
    value: Any


@dataclasses.dataclass
class Run:
    """What a local run of a flow did."""

    output: Any = None
    #: The exception the flow raised, if it did.
    error: BaseException | None = None
    calls: list[Call] = dataclasses.field(default_factory=list)
    waits: list[Wait] = dataclasses.field(default_factory=list)
    logs: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    children: list[Child] = dataclasses.field(default_factory=list)

    def call_ids(self) -> list[str]:
        """The call ids, in submission order."""
        return [c.call_id for c in self.calls]

    def value(self) -> Any:
        """The output, or the flow's exception raised again."""
        if self.error is not None:
            raise self.error
        return self.output


@dataclasses.dataclass
class Child:
    """One child flow a local run started: in Cairn, an execution of its
    own, started by the step `call_id` (`@child`, `@child_2`...)."""

    call_id: str
    flow: str
    input: Any
    #: ("ok", output) or ("failed", message).
    outcome: tuple
    #: What the child's own run did: its calls, waits, logs, children.
    run: Run


class _Done:
    """A submitted local call: it already ran."""

    def __init__(self, outcome: tuple) -> None:
        self._outcome = outcome

    def outcome(self) -> tuple:
        return self._outcome


class LocalRunner:
    """The runner of a flow in this process."""

    def __init__(
        self, run: Run, waits: dict[str, Any], now_ms: int | None, seed: int | str | None, depth: int = 0
    ) -> None:
        self.run = run
        self.waits = waits
        self.clock = now_ms
        self.seed = seed
        self.rng = _random.Random(seed)
        self.counts: dict[str, int] = {}
        #: How many parents up this run's flow has (0: started by the test).
        self.depth = depth

    def _call_id(self, name: str) -> str:
        n = self.counts.get(name, 0) + 1
        self.counts[name] = n
        return name if n == 1 else f"{name}_{n}"

    def _attempts(self, call_id: str, name: str, input_json: str) -> tuple:
        entry = _registry.checkpoints().get(name)
        if entry is None:
            return ("context", f"no checkpoint named `{name}`")
        stderr = []
        attempts = 0
        outcome: tuple = ("context", "not run")
        for _ in range(entry.retries + 1):
            attempts += 1
            result = invoke(entry, input_json, self)
            if result[0] == "ok":
                outcome = ("ok", result[1])
                break
            if result[0] == "bad-input":
                outcome = ("failed", f"bad input: {result[1]}")
            elif result[0] == "failed":
                outcome = ("failed", result[1])
                stderr.append(result[2])
            else:
                outcome = ("trapped", result[1], result[2])
                stderr.append(result[3])
        self.run.calls.append(
            Call(call_id, name, json.loads(input_json), _shown(outcome), attempts, "".join(stderr))
        )
        return outcome

    def call(self, name: str, input_json: str) -> tuple:
        return self._attempts(self._call_id(name), name, input_json)

    def submit(self, name: str, input_json: str) -> _Done:
        return _Done(self.call(name, input_json))

    def call_map(self, name: str, inputs: list[str]) -> list[tuple]:
        if name not in _registry.checkpoints():
            raise_for(name, ("context", f"no checkpoint named `{name}`"))
        base = self._call_id(name)
        return [self._attempts(f"{base}[{i}]", name, item) for i, item in enumerate(inputs)]

    def wait(self, name: str, question: str, schema_json: str) -> tuple:
        schema = json.loads(schema_json)
        if name not in self.waits:
            self.run.waits.append(Wait(name, question, schema, None))
            return (
                "context",
                f"wait `{name}` has no value: give it with FlowTest(waits={{{name!r}: ...}}) "
                f"(in Cairn: cairn executions input ID --wait {name} --value JSON)",
            )
        value = encode(self.waits[name])
        self.run.waits.append(Wait(name, question, schema, value))
        return ("ok", json.dumps(value))

    def sleep(self, duration_ms: int) -> tuple:
        # A local run has no journal to sleep in: it goes on at once.
        return ("ok", None)

    def wait_timeout(self, name: str, question: str, schema_json: str, timeout_ms: int) -> tuple:
        # No value in the test: as if the time were up.
        if name not in self.waits:
            self.run.waits.append(Wait(name, question, json.loads(schema_json), None))
            return ("ok", None)
        return self.wait(name, question, schema_json)

    def start_child(self, name: str, input_json: str) -> _Done:
        return _Done(self.run_child(name, input_json))

    def run_child(self, name: str, input_json: str) -> tuple:
        entry = _registry.flows().get(name)
        if entry is None:
            return (
                "context",
                f"no flow `{name}` in this program (a host-side flow cannot run in a local run)",
            )
        try:
            _registry.parse_input(entry, input_json)
        except BadInput as e:
            # Refused before it starts, as the host checks a child's input.
            return ("context", f"the input of child flow `{name}` is refused: {e}")
        call_id = self._call_id("@child")
        if self.depth >= MAX_CHILD_DEPTH:
            return (
                "failed",
                f"the flow is a child flow {self.depth} levels deep and starts another; "
                f"the host's default policy allows child flows {MAX_CHILD_DEPTH} levels deep",
            )
        child = Run()
        # Its own randomness, as an execution has its own seed, without
        # taking a draw from this flow's.
        seed = None if self.seed is None else f"{self.seed}/{call_id}"
        runner = LocalRunner(child, self.waits, self.clock, seed, self.depth + 1)
        result = invoke(entry, input_json, runner)
        try:
            _finish(child, entry, result)
        except ContextError as e:
            # The parent gets the JSON and converts it to its own type.
            child.error = e
        if result[0] == "ok":
            outcome: tuple = ("ok", result[1])
        else:
            outcome = ("failed", f"child flow `{name}` failed: {_message(result)}")
        self.run.children.append(Child(call_id, name, json.loads(input_json), _shown(outcome), child))
        return outcome

    def log(self, level: str, message: str) -> None:
        self.run.logs.append((level, message))

    def now_ms(self) -> int:
        if self.clock is None:
            return int(time.time() * 1000)
        return self.clock

    def random_u64(self) -> int:
        return self.rng.getrandbits(64)


def _message(result: tuple) -> str:
    """The message of a failed or fatal `invoke` result."""
    return result[1] if result[0] in ("failed", "bad-input") else result[2]


def _finish(run: Run, entry: Entry, result: tuple) -> None:
    """Puts a flow's `invoke` result in its run: the output, or the error."""
    if result[0] == "ok":
        run.output = _registry.decode_output(entry, result[1])
    elif result[0] == "bad-input":
        run.error = ContextError(f"bad input: {result[1]}")
    else:
        run.error = result[-1]


def _shown(outcome: tuple) -> tuple:
    if outcome[0] == "ok":
        return ("ok", json.loads(outcome[1]))
    return outcome


class FlowTest:
    """A local run of a flow with its wait values, clock and random seed:

        run = FlowTest(waits={"approve": Decision(True, "ada")}).run(publish_post, "durable flows")
        assert run.output == "published 90 characters"
        assert run.call_ids() == ["draft", "publish"]
    """

    def __init__(self, waits: dict[str, Any] | None = None, now_ms: int | None = None, seed: int | None = 0) -> None:
        self.waits = dict(waits or {})
        self.now_ms = now_ms
        self.seed = seed

    def run(self, flow: Any, *args: Any, **kwargs: Any) -> Run:
        """Runs `flow` (a `@flow`) with these arguments, through JSON as in
        Cairn; the flow's exception, if any, is in `Run.error`."""
        entry = getattr(flow, "entry", None)
        if entry is None or entry.what != "flow":
            raise ContextError(f"{flow!r} is not a @flow")
        run = Run()
        runner = LocalRunner(run, self.waits, self.now_ms, self.seed)
        try:
            input_json = _registry.input_json(entry, args, kwargs)
        except ContextError as e:
            run.error = e
            return run
        _finish(run, entry, invoke(entry, input_json, runner))
        return run
