"""Flows in plain CPython: checkpoints run in this process through JSON,
with retries, the context rules, fan-out, waits, time and randomness."""

import unittest
from dataclasses import dataclass
from typing import Optional

from cairn import CheckpointFailed, CheckpointTrapped, ContextError, checkpoint, flow, log, now, random, random_u64, wait
from cairn.testing import FlowTest


@dataclass
class Decision:
    approved: bool
    reviewer: str
    note: Optional[str] = None


@checkpoint
def loc_inc(n: int, by: int = 1) -> int:
    return n + by


@checkpoint(runtime="isolated")
def loc_words(text: str) -> list[str]:
    return text.split()


_tries = {"n": 0}


@checkpoint(retries=2)
def loc_flaky(fail: int) -> int:
    _tries["n"] += 1
    if _tries["n"] <= fail:
        raise RuntimeError(f"try {_tries['n']}")
    return _tries["n"]


@checkpoint
def loc_hog() -> int:
    raise MemoryError()


@checkpoint
def loc_nested() -> int:
    return loc_inc(1)


@flow
def loc_flow(n: int) -> dict:
    a = loc_inc(n)
    h = loc_inc.submit(a, by=10)
    mapped = loc_inc.map([1, 2, 3])
    zipped = loc_inc.map([1, 2], [100, 200])
    grid = loc_inc.product([1, 2], [10, 20, 30])
    log("done", "warn")
    return {"a": a, "h": h.result(), "load": h.load(), "map": mapped, "zip": zipped, "grid": grid}


@flow
def loc_retry(fail: int) -> int:
    _tries["n"] = 0
    return loc_flaky(fail)


@flow
def loc_trap() -> int:
    return loc_hog()


@flow
def loc_calls_nested() -> int:
    return loc_nested()


@flow
def loc_approval(topic: str) -> str:
    decision = wait("approve", f"Publish {topic}?", Decision)
    return f"{decision.reviewer}: {decision.approved}"


@flow
def loc_mismatch() -> int:
    return loc_inc.map([1, 2], [3])


@flow
def loc_random() -> list:
    return [random_u64(), random(), now().year]


@flow
def loc_inner() -> int:
    return 1


@checkpoint
def loc_calls_flow() -> int:
    return loc_inner()


@flow
def loc_outer() -> int:
    return loc_calls_flow()


class LocalFlows(unittest.TestCase):
    def test_a_flow_runs_with_its_checkpoints(self):
        self.assertEqual(
            loc_flow(5),
            {"a": 6, "h": 16, "load": 16, "map": [2, 3, 4], "zip": [101, 202], "grid": [11, 21, 31, 12, 22, 32]},
        )
        run = FlowTest().run(loc_flow, n=5)
        self.assertEqual(
            run.call_ids(),
            ["loc_inc", "loc_inc_2", "loc_inc_3[0]", "loc_inc_3[1]", "loc_inc_3[2]", "loc_inc_4[0]", "loc_inc_4[1]"]
            + [f"loc_inc_5[{i}]" for i in range(6)],
        )
        self.assertEqual(run.calls[1].input, {"n": 6, "by": 10})
        self.assertEqual(run.logs, [("warn", "done")])

    def test_checkpoints_are_refused_outside_a_flow(self):
        with self.assertRaisesRegex(ContextError, "outside a flow"):
            loc_inc(1)
        with self.assertRaisesRegex(ContextError, "outside a flow"):
            loc_inc.submit(1)
        with self.assertRaisesRegex(ContextError, "outside a flow"):
            loc_inc.map([1])
        with self.assertRaisesRegex(ContextError, "outside a flow"):
            wait("x", "?", bool)
        self.assertEqual(loc_inc.func(1), 2)

    def test_a_checkpoint_inside_a_checkpoint_is_a_context_error(self):
        with self.assertRaisesRegex(CheckpointFailed, "checkpoint `loc_nested` failed: .*from inside a checkpoint"):
            loc_calls_nested()
        with self.assertRaisesRegex(CheckpointFailed, "flow `loc_inner` was called from inside a checkpoint"):
            loc_outer()

    def test_retries_and_their_tracebacks(self):
        run = FlowTest().run(loc_retry, 2)
        self.assertEqual(run.output, 3)
        self.assertEqual(run.calls[0].attempts, 3)
        self.assertEqual(run.calls[0].stderr.count("Traceback"), 2)
        self.assertIn("RuntimeError: try 2", run.calls[0].stderr)
        with self.assertRaises(CheckpointFailed) as failed:
            loc_retry(3)
        self.assertEqual(str(failed.exception), "checkpoint `loc_flaky` failed: try 3")

    def test_a_memory_error_is_a_memory_trap(self):
        with self.assertRaises(CheckpointTrapped) as trapped:
            loc_trap()
        self.assertEqual(trapped.exception.kind, "memory")
        self.assertEqual(str(trapped.exception), "checkpoint `loc_hog` trapped (out of memory): MemoryError: ")

    def test_waits_get_their_values_and_schema(self):
        run = FlowTest(waits={"approve": Decision(True, "ada")}).run(loc_approval, "post")
        self.assertEqual(run.output, "ada: True")
        self.assertEqual(run.waits[0].question, "Publish post?")
        self.assertEqual(run.waits[0].schema["required"], ["approved", "reviewer"])
        run = FlowTest().run(loc_approval, "post")
        self.assertIsInstance(run.error, ContextError)
        self.assertIn("wait `approve` has no value", str(run.error))
        run = FlowTest(waits={"approve": {"approved": "yes", "reviewer": "ada"}}).run(loc_approval, "post")
        self.assertRegex(str(run.error), r"the value of wait `approve` does not match its type: approve\.approved: expected a boolean")

    def test_map_inputs_must_have_equal_lengths(self):
        with self.assertRaisesRegex(ContextError, r"map of checkpoint `loc_inc`: the inputs have different lengths \(2, 1\)"):
            loc_mismatch()

    def test_bad_flow_input_is_reported(self):
        run = FlowTest().run(loc_flow, "five")
        self.assertRegex(str(run.error), "bad input: n: expected a whole number, got a string")

    def test_random_is_seeded_per_run(self):
        first = FlowTest(seed=7).run(loc_random).output
        self.assertEqual(first, FlowTest(seed=7).run(loc_random).output)
        self.assertNotEqual(first[0], FlowTest(seed=8).run(loc_random).output[0])
        self.assertTrue(0 <= first[1] < 1)
        self.assertEqual(FlowTest(now_ms=0).run(loc_random).output[2], 1970)
