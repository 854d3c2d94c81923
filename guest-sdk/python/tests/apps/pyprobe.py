"""The Python probe: one app with many flows for the integration tests
(tests/integration/python.rs), since each CPython component costs seconds
to build and to compile. Each flow exercises one path through the host:
inline and isolated calls, handles, map and product, retries, waits,
time and randomness, failures with tracebacks, traps, and child flows."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Optional, TypedDict

import cairn
from cairn import ChildFlowFailed, ContextError, checkpoint, flow, log, now_ms, random_u64, wait


@dataclass
class Point:
    """A point, to carry a dataclass through JSON both ways."""

    x: int
    y: int
    label: Optional[str] = None


class Answer(TypedDict):
    """What a person answers to `ask`."""

    number: int
    reason: str


@checkpoint
def add(a: int, b: int = 1) -> int:
    """Adds two numbers, inline."""
    return a + b


@checkpoint(runtime="isolated", type="math")
def square(n: int) -> int:
    """Squares a number, in a sandbox of its own."""
    return n * n


@checkpoint
def move(p: Point, by: list[int]) -> Point:
    """Moves a point."""
    return Point(p.x + by[0], p.y + by[1], p.label)


@flow
def calls(n: int) -> dict:
    """An inline call, an isolated call, two handles and a product."""
    a = add(n)
    b = square(a)
    h1 = square.submit(n)
    h2 = add.submit(n, b=10)
    grid = add.product([1, 2], [10, 20])
    p = move(Point(1, 2, "start"), [n, n])
    log(f"calls with {n}")
    return {"add": a, "square": b, "handles": [h1.result(), h2.load()], "product": grid, "point": p}


@flow
def fanout(items: list[int]) -> int:
    """The sum of the squares of `items`, one isolated call each (a map)."""
    return sum(square.map(items))


_attempts = {"flaky": 0}


@checkpoint(retries=2)
def flaky(fail_times: int) -> int:
    """Fails its first `fail_times` attempts (inline: the counter lives in
    the execution's store across attempts)."""
    _attempts["flaky"] += 1
    if _attempts["flaky"] <= fail_times:
        raise RuntimeError(f"attempt {_attempts['flaky']} fails on purpose")
    return _attempts["flaky"]


@flow
def retrying(fail_times: int) -> int:
    """Calls a checkpoint that fails its first attempts."""
    return flaky(fail_times)


def _nested_failure(depth: int) -> None:
    if depth == 0:
        raise ValueError("the ledger does not balance")
    _nested_failure(depth - 1)


@checkpoint(runtime="isolated")
def broken(depth: int) -> int:
    """Raises from a few frames down: its traceback goes to stderr."""
    _nested_failure(depth)
    return 0


@flow
def failing(depth: int) -> int:
    """Fails through a failing checkpoint."""
    return broken(depth)


@checkpoint(runtime="isolated", memory=96 * 1024 * 1024)
def hog(chunk_mib: int) -> int:
    """Allocates until the memory limit stops it."""
    chunks = []
    while True:
        chunks.append(bytearray(chunk_mib * 1024 * 1024))


@flow
def memory_bomb(chunk_mib: int) -> int:
    """A checkpoint that runs out of memory."""
    return hog(chunk_mib)


def _down(n: int) -> int:
    return _down(n + 1) + 1


@checkpoint(runtime="isolated")
def deep() -> int:
    """Recurses until Python refuses."""
    return _down(0)


@flow
def recursion() -> int:
    """A checkpoint whose recursion has no end."""
    return deep()


@checkpoint(runtime="isolated", fuel=50_000_000)
def spin() -> int:
    """Never returns."""
    n = 0
    while True:
        n += 1


@flow
def infinite() -> int:
    """A checkpoint that runs until its fuel is gone."""
    return spin()


@flow
def ask(question: str) -> dict:
    """Waits for an answer (a TypedDict) and checks it with a checkpoint."""
    answer = wait("answer", question, Answer)
    return {"doubled": add(answer["number"], answer["number"]), "reason": answer["reason"]}


@flow
def clock() -> list:
    """Journaled time and randomness: the draws are logged, then the flow
    waits; the resumed flow draws them again and must see the same."""
    draws = [now_ms() > 0, random_u64(), random_u64()]
    log(f"draws {draws[1]} {draws[2]}")
    go = wait("go", "Go on?", bool)
    return draws + [go]


@checkpoint(runtime="isolated")
def step(i: int, work: int) -> int:
    """One step of a long flow: burns some CPU, leaves a mark in /marks
    (granted by the test), returns i * i."""
    total = 0
    for k in range(work):
        total += k % 7
    with open(f"/marks/step.{i}.{os.urandom(4).hex()}.{total}", "w") as f:
        f.write(str(i))
    return i * i


@flow
def steps(count: int, work: int) -> int:
    """`count` steps, one after the other."""
    return sum(step(i, work) for i in range(count))


@checkpoint
def lazy_import() -> str:
    """Imports a module only when it runs: xtask builds this app with
    `--preload fractions`, so it is in the component."""
    import fractions

    return str(fractions.Fraction(3, 6))


@checkpoint
def lazy_missing() -> str:
    """Imports a module only when it runs, one nobody preloaded."""
    import statistics

    return str(statistics.mean([1, 2]))


@flow
def lazy(preloaded: bool) -> str:
    """Calls a checkpoint that imports a module lazily."""
    return lazy_import() if preloaded else lazy_missing()


@checkpoint
def nested_call(n: int) -> int:
    """Calls another checkpoint: not allowed."""
    return add(n)


@flow
def nested(n: int) -> int:
    """A checkpoint that calls a checkpoint."""
    return nested_call(n)


@checkpoint
def tick(i: int) -> int:
    """The cheapest inline call (figure 12 of `cargo xtask bench`)."""
    return i + 1


@checkpoint(runtime="isolated")
def tick_isolated(i: int) -> int:
    """The cheapest isolated call: a fresh CPython store each time."""
    return i + 1


@flow
def bench_inline(n: int) -> int:
    """`n` inline calls, one after the other."""
    return sum(tick(i) for i in range(n))


@flow
def bench_isolated(n: int) -> int:
    """`n` isolated calls, one after the other."""
    return sum(tick_isolated(i) for i in range(n))


@checkpoint
def attempt_key() -> str:
    """The idempotency key of its own call."""
    current = cairn.attempt()
    return current.idempotency_key() if current is not None else "none"


@flow
def timers(ms: int) -> list:
    """A durable sleep, a wait with a deadline of `ms`, and an attempt's key."""
    cairn.sleep(ms / 1000)
    answer = cairn.wait_timeout("go", "Go on?", ms / 1000, bool)
    return [answer, attempt_key(), cairn.attempt() is None]


def _nested_json(depth: int) -> int:
    """json.dumps of a list nested `depth` deep: recursion in CPython's C
    encoder, one native frame per level, not Python frames."""
    nested: list = []
    for _ in range(depth):
        nested = [nested]
    return len(json.dumps(nested))


@checkpoint(runtime="isolated")
def c_deep(depth: int) -> int:
    """Recurses in C, in a fresh store."""
    return _nested_json(depth)


@checkpoint
def c_deep_inline(depth: int) -> int:
    """Recurses in C, in the execution's shared store."""
    return _nested_json(depth)


@flow
def c_recursion(depth: int, inline: bool) -> int:
    """A checkpoint recursing `depth` deep in C."""
    return c_deep_inline(depth) if inline else c_deep(depth)


@flow
def c_recursion_in_flow(depth: int) -> int:
    """The flow itself recursing `depth` deep in C."""
    return _nested_json(depth)


@flow
def kid_add(a: int, b: int = 1) -> int:
    """A child flow: one inline call."""
    return add(a, b)


@flow
def kid_move(p: Point, by: int) -> Point:
    """A child flow with a dataclass in and out."""
    return move(p, [by, by])


@flow
def kids(n: int) -> dict:
    """Starts a child (the submit form), runs two more (the direct form, by
    `@flow` and by name), then awaits the first."""
    started = cairn.start_child_flow(kid_add, a=n, b=10)
    direct = cairn.child_flow("kid_add", {"a": n})
    moved = cairn.child_flow(kid_move, p=Point(1, 2, "kid"), by=n)
    moved_parts = [type(moved).__name__, moved.x, moved.y, moved.label]
    return {"started": started.result(), "direct": direct, "moved": moved_parts}


@flow
def kid_broken(why: str) -> int:
    """A child flow that fails."""
    raise ValueError(why)


@checkpoint(runtime="isolated")
def kid_from_checkpoint() -> str:
    """Tries to start a child flow from inside a checkpoint."""
    try:
        cairn.child_flow(kid_add, a=1)
    except ContextError as e:
        return str(e)
    return "a checkpoint started a child flow"


@flow
def kid_errors() -> list:
    """A failing child, an unknown flow, an input the host refuses and a
    start from a checkpoint: what each raises."""
    out = []
    try:
        cairn.child_flow(kid_broken, why="the ledger does not balance")
    except ChildFlowFailed as e:
        out.append(["failed", e.flow, str(e)])
    try:
        cairn.start_child_flow("no_such_flow").result()
    except ContextError as e:
        out.append(["unknown", str(e)])
    try:
        cairn.child_flow("kid_add", {"b": 2})
    except ContextError as e:
        out.append(["refused", str(e)])
    out.append(["checkpoint", kid_from_checkpoint()])
    return out


@flow
def kid_asker() -> str:
    """A child flow that waits for a name."""
    return wait("name", "Who is there?", str)


@flow
def kid_waiter() -> str:
    """Starts a child that waits, and waits for it."""
    child = cairn.start_child_flow(kid_asker)
    return f"the child heard {child.result()}"


@flow
def kid_double(n: int) -> int:
    """A child flow: `n + n`, with one inline call."""
    return add(n, n)


@flow
def kid_by_name(name: str, n: int) -> int:
    """Runs child flow `name` (of this component, or a host-side flow)
    with the input `{"n": n}`."""
    return cairn.child_flow(name, n=n, type=int)
