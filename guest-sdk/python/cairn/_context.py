"""Where the code is running, and the runner it asks for checkpoint calls,
waits, time, randomness and log lines.

There are two runners: the host's (inside a Cairn component, through the
WIT imports; see `_guest`) and a local one (plain CPython, see `_local`).
The SDK tracks whether a flow or a checkpoint is running, so that a
checkpoint called outside a flow, or from inside another checkpoint, raises
`ContextError` before anything is asked of a runner, as Kitaru's guardrails
do.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import random as _random
import sys
import time
from typing import Any, Iterator, Protocol

from ._errors import CheckpointFailed, CheckpointTrapped, ContextError
from ._schema import schema_of
from ._types import decode

#: An outcome of a call as a runner reports it: ("ok", output_json),
#: ("failed", message), ("trapped", kind, message) or ("context", message).
Outcome = tuple


class Pending(Protocol):
    """A submitted call."""

    def outcome(self) -> Outcome: ...


class Runner(Protocol):
    """What a flow asks of whoever runs it."""

    def call(self, name: str, input_json: str) -> Outcome: ...
    def submit(self, name: str, input_json: str) -> Pending: ...
    def call_map(self, name: str, inputs: list[str]) -> list[Outcome]: ...
    def wait(self, name: str, question: str, schema_json: str) -> Outcome: ...
    def sleep(self, duration_ms: int) -> Outcome: ...
    def wait_timeout(self, name: str, question: str, schema_json: str, timeout_ms: int) -> Outcome: ...
    def start_child(self, name: str, input_json: str) -> Pending: ...
    def run_child(self, name: str, input_json: str) -> Outcome: ...
    def log(self, level: str, message: str) -> None: ...
    def now_ms(self) -> int: ...
    def random_u64(self) -> int: ...


class _State:
    #: None (plain Python), "flow" or "checkpoint".
    mode: str | None = None
    runner: Runner | None = None
    #: Set by the component's entry module: the host runs this process.
    in_component: bool = False


state = _State()


@contextlib.contextmanager
def running(mode: str, runner: Runner | None) -> Iterator[None]:
    """Marks a flow or checkpoint as running with `runner` for its length."""
    saved = (state.mode, state.runner)
    state.mode, state.runner = mode, runner
    try:
        yield
    finally:
        state.mode, state.runner = saved


def flow_runner(what: str, rule: str = "only flows call checkpoints and wait") -> Runner:
    """The runner for a call only a flow may make; raises `ContextError`
    anywhere else (from inside a checkpoint, saying `rule`)."""
    if state.mode == "checkpoint":
        raise ContextError(f"{what} was made from inside a checkpoint: {rule}")
    if state.mode != "flow" or state.runner is None:
        raise ContextError(
            f"{what} was made outside a flow: call it from a @flow function "
            "(in a unit test, call the flow, or the checkpoint's plain function as `.func(...)`)"
        )
    return state.runner


def raise_for(checkpoint: str, outcome: Outcome) -> str:
    """The output JSON of `outcome`, or the error the flow sees."""
    tag = outcome[0]
    if tag == "ok":
        return outcome[1]
    if tag == "failed":
        raise CheckpointFailed(checkpoint, outcome[1])
    if tag == "trapped":
        raise CheckpointTrapped(checkpoint, outcome[1], outcome[2])
    raise ContextError(outcome[1])


def wait(name: str, question: str, type: Any = Any) -> Any:
    """Waits durably for a value named `name`, supplied from outside
    (`cairn executions input ID --wait NAME --value JSON`) and checked
    against the JSON schema of `type` (a dataclass, a TypedDict, `bool`,
    `list[str]`...). Until it is there the execution is `waiting` and the
    flow unloaded; after `cairn executions resume` this returns it,
    converted to `type`. Only flows wait."""
    runner = flow_runner(f"wait `{name}`")
    schema = json.dumps(schema_of(type))
    value = raise_for(name, runner.wait(name, question, schema))
    try:
        return decode(json.loads(value), type, name)
    except ValueError as e:
        raise ContextError(f"the value of wait `{name}` does not match its type: {e}") from None


LEVELS = ("debug", "info", "warn", "error")


def log(message: str, level: str = "info") -> None:
    """Records a log line with the current attempt (or flow); outside
    Cairn it is printed to stderr. `level` is one of debug, info, warn,
    error."""
    if level == "warning":
        level = "warn"
    if level not in LEVELS:
        raise ValueError(f"log level {level!r} is not one of {', '.join(LEVELS)}")
    runner = state.runner
    if runner is None:
        print(f"[{level}] {message}", file=sys.stderr)
    else:
        runner.log(level, str(message))


def now_ms() -> int:
    """The current time in milliseconds since the Unix epoch; in a flow,
    journaled, so a resumed flow sees the same values in the same order."""
    runner = state.runner
    if runner is None:
        return int(time.time() * 1000)
    return runner.now_ms()


def now() -> datetime.datetime:
    """The current time (UTC); in a flow, journaled, so a resumed flow
    sees the same values in the same order."""
    return datetime.datetime.fromtimestamp(now_ms() / 1000, tz=datetime.timezone.utc)


def random_u64() -> int:
    """A random whole number from 0 to 2**64 - 1; in a flow it comes from
    the execution's journaled seed, so a resumed flow draws the same ones."""
    runner = state.runner
    if runner is None:
        return _random.getrandbits(64)
    return runner.random_u64()


def random() -> float:
    """A random float in [0, 1), drawn from `random_u64`: in a flow a
    resumed run draws the same numbers in the same order."""
    return (random_u64() >> 11) / float(1 << 53)
