"""Durable timers of a flow (a sleep, a wait with a deadline) and what a
checkpoint knows of its attempt. In Cairn they go to the host's `timers`
and `attempt` imports; in plain Python (a local run) a sleep returns at
once and a wait with a deadline gets the test's value, or `None`."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from ._context import flow_runner, raise_for, state
from ._errors import ContextError
from ._schema import schema_of
from ._types import decode


def _millis(seconds: float, what: str) -> int:
    if not isinstance(seconds, (int, float)) or math.isnan(seconds) or seconds < 0:
        raise ContextError(f"{what} must be a number of seconds from 0 up, not {seconds!r}")
    if math.isinf(seconds):
        raise ContextError(f"{what} must be finite")
    return min(math.ceil(seconds * 1000), 2**64 - 1)


def sleep(seconds: float) -> None:
    """Sleeps for `seconds`, durably: the end is journaled the first time,
    the execution is `waiting` and holds no instance until then (a sleep
    under a second is waited out in place), and a resumed flow does not
    sleep again for a sleep that ended. Only flows sleep."""
    runner = flow_runner("a durable sleep")
    raise_for("sleep", runner.sleep(_millis(seconds, "a sleep")))


def wait_timeout(name: str, question: str, timeout: float, type: Any = Any) -> Any:
    """Waits durably for a value named `name`, as `wait` does, for at most
    `timeout` seconds from when the flow first asked: the value, or `None`
    once the time is up. The timeout is journaled, and a value supplied
    after it is refused."""
    runner = flow_runner(f"wait `{name}`")
    schema = json.dumps(schema_of(type))
    outcome = runner.wait_timeout(name, question, schema, _millis(timeout, f"the timeout of wait `{name}`"))
    value = raise_for(name, outcome)
    if value is None:
        return None
    try:
        return decode(json.loads(value), type, name)
    except ValueError as e:
        raise ContextError(f"the value of wait `{name}` does not match its type: {e}") from None


@dataclasses.dataclass(frozen=True)
class Attempt:
    """One attempt of one checkpoint call."""

    execution_id: int
    seq: int
    call_id: str
    number: int

    def idempotency_key(self) -> str:
        """The same for every attempt of this call: `cairn-{execution_id}-{seq}`."""
        return f"cairn-{self.execution_id}-{self.seq}"


def attempt() -> Attempt | None:
    """The attempt this checkpoint runs in; `None` in a flow and in plain
    Python."""
    runner = state.runner
    if state.mode != "checkpoint" or runner is None:
        return None
    current = getattr(runner, "attempt", None)
    return current() if current is not None else None
