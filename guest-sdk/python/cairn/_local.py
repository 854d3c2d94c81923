"""Flows in plain CPython, as Kitaru runs flows locally: a checkpoint call
runs the checkpoint's function at once, in this process, through JSON both
ways and with its retries, and a fatal error (`MemoryError`,
`RecursionError`) is a trapped attempt, so a flow sees the same errors as in
Cairn. `FlowTest` gives a run its wait values, clock and random seed and
hands back what happened.

What differs from Cairn: nothing is journaled (no resume, replay or cache;
every call runs), there is no sandbox (no fuel, memory or time limits, no
isolation), `submit`, `map` and `product` run one call after the other, and
a flow's `retries` are not applied.
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
from ._types import encode


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

    def call_ids(self) -> list[str]:
        """The call ids, in submission order."""
        return [c.call_id for c in self.calls]

    def value(self) -> Any:
        """The output, or the flow's exception raised again."""
        if self.error is not None:
            raise self.error
        return self.output


class _Done:
    """A submitted local call: it already ran."""

    def __init__(self, outcome: tuple) -> None:
        self._outcome = outcome

    def outcome(self) -> tuple:
        return self._outcome


class LocalRunner:
    """The runner of a flow in this process."""

    def __init__(self, run: Run, waits: dict[str, Any], now_ms: int | None, seed: int | None) -> None:
        self.run = run
        self.waits = waits
        self.clock = now_ms
        self.rng = _random.Random(seed)
        self.counts: dict[str, int] = {}

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

    def log(self, level: str, message: str) -> None:
        self.run.logs.append((level, message))

    def now_ms(self) -> int:
        if self.clock is None:
            return int(time.time() * 1000)
        return self.clock

    def random_u64(self) -> int:
        return self.rng.getrandbits(64)


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
        result = invoke(entry, input_json, runner)
        if result[0] == "ok":
            run.output = _registry.decode_output(entry, result[1])
        elif result[0] == "bad-input":
            run.error = ContextError(f"bad input: {result[1]}")
        else:
            run.error = result[-1]
        return run
