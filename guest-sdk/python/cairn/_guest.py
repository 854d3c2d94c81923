"""The component's side of the WIT world: the `guest` exports answered
from the registry, and a runner that reaches the host through the `runner`,
`timers`, `attempt` and `children` imports. Imported only by the entry
module `python -m cairn build` generates, where componentize-py has made
the `wit_world` bindings; plain CPython never imports it."""

from __future__ import annotations

import os
import sys

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import attempt as wit_attempt
from wit_world.imports import children as wit_children
from wit_world.imports import runner as wit_runner
from wit_world.imports import timers as wit_timers
from wit_world.imports import types

from . import _context, _registry
from ._invoke import invoke

#: The prefix the host looks for on stderr when it classifies a trap (the
#: Rust SDK's panic hook prints the same).
PANIC_PREFIX = "cairn-panic: "

_LEVELS = {
    "debug": types.LogLevel.DEBUG,
    "info": types.LogLevel.INFO,
    "warn": types.LogLevel.WARN,
    "error": types.LogLevel.ERROR,
}

_KINDS = {
    types.TrapKind.OUT_OF_FUEL: "out-of-fuel",
    types.TrapKind.MEMORY: "memory",
    types.TrapKind.TIMEOUT: "timeout",
    types.TrapKind.TRAP: "trap",
}


def _outcome_of(error: object) -> tuple:
    if isinstance(error, types.CallError_Failed):
        return ("failed", error.value)
    if isinstance(error, types.CallError_Trapped):
        return ("trapped", _KINDS.get(error.value.kind, "trap"), error.value.message)
    if isinstance(error, types.CallError_Context):
        return ("context", error.value)
    return ("context", f"the host answered {error!r}")


class _HostPending:
    """A call the host has journaled; its outcome is asked for once."""

    def __init__(self, pending: wit_runner.Pending) -> None:
        self._pending = pending

    def outcome(self) -> tuple:
        try:
            return ("ok", self._pending.result())
        except Err as e:
            return _outcome_of(e.value)


class _Refused:
    """A submit the host refused: the handle raises its error when awaited."""

    def __init__(self, outcome: tuple) -> None:
        self._outcome = outcome

    def outcome(self) -> tuple:
        return self._outcome


class HostRunner:
    """The runner of a flow or checkpoint inside Cairn: the WIT imports."""

    def call(self, name: str, input_json: str) -> tuple:
        try:
            return ("ok", wit_runner.call(name, input_json))
        except Err as e:
            return _outcome_of(e.value)

    def submit(self, name: str, input_json: str) -> object:
        try:
            return _HostPending(wit_runner.submit(name, input_json))
        except Err as e:
            return _Refused(_outcome_of(e.value))

    def call_map(self, name: str, inputs: list[str]) -> list[tuple]:
        try:
            results = wit_runner.call_map(name, inputs)
        except Err as e:
            _context.raise_for(name, _outcome_of(e.value))
            raise  # raise_for always raises for an error outcome
        out = []
        for result in results:
            if isinstance(result, Err):
                out.append(_outcome_of(result.value))
            else:
                out.append(("ok", result.value))
        return out

    def wait(self, name: str, question: str, schema_json: str) -> tuple:
        try:
            return ("ok", wit_runner.wait(name, question, schema_json))
        except Err as e:
            return _outcome_of(e.value)

    def sleep(self, duration_ms: int) -> tuple:
        try:
            wit_timers.sleep(duration_ms)
            return ("ok", None)
        except Err as e:
            return _outcome_of(e.value)

    def wait_timeout(self, name: str, question: str, schema_json: str, timeout_ms: int) -> tuple:
        try:
            return ("ok", wit_timers.wait_timeout(name, question, schema_json, timeout_ms))
        except Err as e:
            return _outcome_of(e.value)

    def start_child(self, name: str, input_json: str) -> object:
        # A child's handle is the `pending` of a call: the host fills it
        # with the child's output.
        try:
            return _HostPending(wit_children.start(name, input_json))
        except Err as e:
            return _Refused(_outcome_of(e.value))

    def run_child(self, name: str, input_json: str) -> tuple:
        try:
            return ("ok", wit_children.run(name, input_json))
        except Err as e:
            return _outcome_of(e.value)

    def attempt(self) -> object:
        from ._timers import Attempt

        info = wit_attempt.current()
        if info is None:
            return None
        return Attempt(info.execution_id, info.seq, info.call_id, info.number)

    def log(self, level: str, message: str) -> None:
        wit_runner.log(_LEVELS[level], message)

    def now_ms(self) -> int:
        return wit_runner.now()

    def random_u64(self) -> int:
        return wit_runner.random()


_RUNNER = HostRunner()


def _trap(message: str, trace: str) -> None:
    """Ends the attempt with a trap: the traceback and the one line the host
    reads, then `abort` (wasm `unreachable`). A `MemoryError` is classified
    `memory` by the host, which saw the refused growth."""
    try:
        sys.stderr.write(trace)
        sys.stderr.write(f"{PANIC_PREFIX}{message}\n")
        sys.stderr.flush()
    finally:
        os.abort()


def _run(what: str, table: dict, name: str, input_json: str) -> str:
    entry = table.get(name)
    if entry is None:
        raise Err(types.GuestError_Unknown(f"no {what} named `{name}`"))
    result = invoke(entry, input_json, _RUNNER)
    tag = result[0]
    if tag == "ok":
        return result[1]
    if tag == "bad-input":
        raise Err(types.GuestError_BadInput(result[1]))
    if tag == "failed":
        sys.stderr.write(result[2])
        sys.stderr.flush()
        raise Err(types.GuestError_Failed(result[1]))
    _trap(result[2], result[3])
    raise AssertionError("unreachable: abort returned")


def _params(entry: dict) -> list:
    return [types.ParamInfo(p["name"], p["type_name"], p["optional"]) for p in entry["params"]]


class Guest(exports.Guest):
    """The `guest` interface of the component."""

    def describe(self) -> types.Manifest:
        data = _registry.manifest()
        return types.Manifest(
            data["sdk_version"],
            [types.FlowInfo(f["name"], _params(f), f["doc"], f["retries"], f["cache"]) for f in data["flows"]],
            [
                types.CheckpointInfo(
                    c["name"],
                    _params(c),
                    c["doc"],
                    c["retries"],
                    c["cache"],
                    c["kind"],
                    types.Runtime.ISOLATED if c["runtime"] == "isolated" else types.Runtime.INLINE,
                    c["fuel"],
                    c["memory_bytes"],
                    c["timeout_ms"],
                )
                for c in data["checkpoints"]
            ],
        )

    def run_flow(self, name: str, input_json: str) -> str:
        return _run("flow", _registry.flows(), name, input_json)

    def run_checkpoint(self, name: str, input_json: str) -> str:
        return _run("checkpoint", _registry.checkpoints(), name, input_json)


_context.state.in_component = True
