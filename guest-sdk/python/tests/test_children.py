"""Child flows in plain CPython: a child flow of the same program runs in
place with its own record of calls, its input goes as JSON of its named
parameters, its output comes back typed, and every way it can go wrong is
the error Cairn raises."""

import unittest
from dataclasses import dataclass
from typing import Optional

import cairn
from cairn import ChildFlow, ChildFlowFailed, ContextError, checkpoint, flow, random_u64, wait
from cairn.testing import FlowTest


@dataclass
class ChPoint:
    x: int
    y: int


@checkpoint
def ch_inc(n: int, by: int = 1) -> int:
    return n + by


@flow
def ch_add(a: int, b: int = 1) -> int:
    return ch_inc(a, by=b)


@flow
def ch_move(p: ChPoint, by: int) -> ChPoint:
    return ChPoint(ch_inc(p.x, by=by), ch_inc(p.y, by=by))


@flow
def ch_typed(type: str) -> str:
    return f"type {type}"


@flow
def ch_optional(x: Optional[int]) -> str:
    return f"x is {x}"


@flow
def ch_broken(why: str) -> int:
    raise ValueError(why)


@flow
def ch_asker() -> str:
    return wait("name", "Who?", str)


@flow
def ch_parent(n: int) -> dict:
    first = ch_inc(n)
    started = cairn.start_child_flow("ch_add", {"a": n, "b": 10})
    direct = cairn.child_flow(ch_add, a=n)
    moved = cairn.child_flow(ch_move, p=ChPoint(1, 2), by=n)
    # The output is JSON: the child's dataclass is shown by its parts.
    moved_parts = [moved.__class__.__name__, moved.x, moved.y]
    return {"first": first, "started": started.result(), "direct": direct, "moved": moved_parts}


@flow
def ch_by_name() -> list:
    # By name, the output is the JSON as it is unless a type is asked for.
    raw = cairn.child_flow("ch_move", {"p": {"x": 0, "y": 0}, "by": 1})
    typed = cairn.child_flow("ch_move", {"p": {"x": 0, "y": 0}, "by": 2}, type=ChPoint)
    return [raw, typed.__class__.__name__, typed.x]


@flow
def ch_catches() -> list:
    out = []
    try:
        cairn.child_flow(ch_broken, why="the ledger does not balance")
    except ChildFlowFailed as e:
        out.append(["failed", e.flow, str(e)])
    try:
        cairn.child_flow("ch_no_such_flow")
    except ContextError as e:
        out.append(["context", str(e)])
    handle = cairn.start_child_flow("ch_no_such_flow")
    try:
        handle.result()
    except ContextError as e:
        out.append(["at result", str(e)])
    try:
        cairn.child_flow("ch_add", {"b": 2})
    except ContextError as e:
        out.append(["missing", str(e)])
    return out


@flow
def ch_uncaught() -> int:
    return cairn.child_flow(ch_broken, why="nobody caught it")


@flow
def ch_dive(level: int) -> int:
    return cairn.child_flow(ch_dive, level=level + 1)


@checkpoint
def ch_inside() -> str:
    return cairn.child_flow(ch_add, a=1)


@flow
def ch_from_checkpoint() -> str:
    return ch_inside()


@flow
def ch_calls_a_flow() -> int:
    return ch_add(1)


@flow
def ch_waits_in_child() -> str:
    return "child got " + cairn.child_flow(ch_asker)


@flow
def ch_draws(with_child: bool) -> list:
    first = random_u64()
    child = cairn.child_flow(ch_draw_child) if with_child else None
    return [first, random_u64(), child]


@flow
def ch_draw_child() -> int:
    return random_u64()


@flow
def ch_wrong_type() -> int:
    return cairn.child_flow(ch_typed, {"type": "x"}, type=int)


class ChildFlows(unittest.TestCase):
    def test_children_run_in_place_with_their_own_calls_and_typed_outputs(self):
        run = FlowTest().run(ch_parent, 3)
        self.assertIsNone(run.error)
        self.assertEqual(
            run.output,
            {"first": 4, "started": 13, "direct": 4, "moved": ["ChPoint", 4, 5]},
        )
        self.assertEqual(run.call_ids(), ["ch_inc"])
        self.assertEqual([c.call_id for c in run.children], ["@child", "@child_2", "@child_3"])
        self.assertEqual([c.flow for c in run.children], ["ch_add", "ch_add", "ch_move"])
        self.assertEqual(run.children[0].input, {"a": 3, "b": 10})
        self.assertEqual(run.children[1].input, {"a": 3})
        self.assertEqual(run.children[2].input, {"p": {"x": 1, "y": 2}, "by": 3})
        self.assertEqual(run.children[0].outcome, ("ok", 13))
        # Each child's calls are its own, numbered from its own start.
        self.assertEqual(run.children[2].run.call_ids(), ["ch_inc", "ch_inc_2"])
        self.assertEqual(run.children[2].run.output, ChPoint(4, 5))

    def test_a_flow_given_by_name_returns_json_unless_a_type_is_asked_for(self):
        self.assertEqual(ch_by_name(), [{"x": 1, "y": 1}, "ChPoint", 2])

    def test_the_handle_is_a_child_flow_and_load_is_result(self):
        handles = []

        @flow
        def ch_handle_holder() -> int:
            handle = cairn.start_child_flow(ch_add, a=1, b=2)
            handles.append(handle)
            return handle.load() + handle.result()

        self.assertEqual(ch_handle_holder(), 6)
        self.assertIsInstance(handles[0], ChildFlow)
        self.assertEqual(handles[0].flow, "ch_add")

    def test_failures_and_refusals_reach_the_parent_as_cairns_errors(self):
        run = FlowTest().run(ch_catches)
        self.assertIsNone(run.error)
        failed, unknown, at_result, missing = run.output
        self.assertEqual(
            failed,
            ["failed", "ch_broken", "child flow `ch_broken` failed: the ledger does not balance"],
        )
        self.assertEqual(unknown[0], "context")
        self.assertIn("no flow `ch_no_such_flow` in this program", unknown[1])
        self.assertEqual(at_result[0], "at result")
        self.assertIn("no flow `ch_no_such_flow`", at_result[1])
        self.assertEqual(missing, ["missing", "the input of child flow `ch_add` is refused: missing field `a`"])
        # Only the child that started is recorded, with its own error.
        self.assertEqual([c.call_id for c in run.children], ["@child"])
        self.assertEqual(run.children[0].outcome[0], "failed")
        self.assertIsInstance(run.children[0].run.error, ValueError)

    def test_an_uncaught_child_failure_fails_the_parent(self):
        with self.assertRaises(ChildFlowFailed) as caught:
            ch_uncaught()
        self.assertEqual(str(caught.exception), "child flow `ch_broken` failed: nobody caught it")

    def test_inputs_are_checked_against_a_known_flows_parameters(self):
        @flow
        def ch_bad_inputs() -> list:
            out = []
            for attempt in (
                lambda: cairn.child_flow(ch_add, a=1, c=1),
                lambda: cairn.child_flow(ch_add, {"a": 1}, a=2),
                lambda: cairn.child_flow(ch_add, ChPoint(1, 2), b=2),
                lambda: cairn.child_flow(ch_add, a=object()),
                lambda: cairn.child_flow(ch_add, [1, 2]),
                lambda: cairn.child_flow(ch_inc, n=1),
                lambda: cairn.child_flow(42),
                lambda: cairn.child_flow(ch_add, a="one"),
            ):
                try:
                    attempt()
                    out.append("no error")
                except ContextError as e:
                    out.append(str(e))
            return out

        run = FlowTest().run(ch_bad_inputs)
        self.assertIsNone(run.error)
        unknown, twice, mixed, unserializable, not_object, checkpoint_, not_flow, wrong = run.output
        self.assertEqual(unknown, "the input of child flow `ch_add` is refused: unknown field `c`, expected `a`, `b`")
        self.assertEqual(twice, "the input of child flow `ch_add`: parameter `a` is given twice")
        self.assertIn("not keywords and a ChPoint", mixed)
        self.assertIn("the input of child flow `ch_add` does not serialize", unserializable)
        self.assertIn("the input of child flow `ch_add` is refused: the input must be a JSON object", not_object)
        self.assertIn("`ch_inc` is a checkpoint, not a flow", checkpoint_)
        self.assertIn("a child flow is a @flow or a flow's name", not_flow)
        self.assertEqual(wrong, "the input of child flow `ch_add` is refused: a: expected a whole number, got a string")
        # Nothing was started.
        self.assertEqual(run.children, [])

    def test_an_optional_parameter_may_be_left_out(self):
        @flow
        def ch_leaves_out() -> str:
            return cairn.child_flow(ch_optional)

        self.assertEqual(ch_leaves_out(), "x is None")

    def test_a_parameter_named_type_goes_in_the_dict(self):
        @flow
        def ch_type_param() -> str:
            return cairn.child_flow(ch_typed, {"type": "dict"})

        self.assertEqual(ch_type_param(), "type dict")

    def test_an_output_that_does_not_fit_the_type_is_a_context_error(self):
        with self.assertRaises(ContextError) as caught:
            ch_wrong_type()
        self.assertIn("the output of child flow `ch_typed` does not match its type", str(caught.exception))

    def test_only_flows_start_child_flows(self):
        run = FlowTest().run(ch_from_checkpoint)
        self.assertIsInstance(run.error, cairn.CheckpointFailed)
        self.assertIn("only flows start child flows", str(run.error))
        with self.assertRaises(ContextError) as caught:
            cairn.child_flow(ch_add, a=1)
        self.assertIn("outside a flow", str(caught.exception))
        with self.assertRaises(ContextError):
            cairn.start_child_flow("ch_add", {"a": 1})

    def test_calling_a_flow_from_a_flow_points_at_child_flow(self):
        with self.assertRaises(ContextError) as caught:
            ch_calls_a_flow()
        self.assertIn("cairn.child_flow(ch_add, ...)", str(caught.exception))

    def test_runaway_nesting_stops_at_the_hosts_default_depth(self):
        run = FlowTest().run(ch_dive, 0)
        self.assertIsInstance(run.error, ChildFlowFailed)
        depth = 0
        level = run
        while level.children:
            level = level.children[0].run
            depth += 1
        self.assertEqual(depth, cairn._local.MAX_CHILD_DEPTH)
        self.assertIn("4 levels deep", str(level.error))
        self.assertEqual(level.children, [])

    def test_a_child_waits_with_the_tests_values(self):
        run = FlowTest(waits={"name": "ada"}).run(ch_waits_in_child)
        self.assertEqual(run.value(), "child got ada")
        self.assertEqual(run.waits, [])
        self.assertEqual([w.name for w in run.children[0].run.waits], ["name"])
        missing = FlowTest().run(ch_waits_in_child)
        self.assertIsInstance(missing.error, ChildFlowFailed)
        self.assertIn("wait `name` has no value", str(missing.error))

    def test_a_child_draws_its_own_randomness_without_taking_the_parents(self):
        alone = FlowTest(seed=7).run(ch_draws, False).value()
        with_child = FlowTest(seed=7).run(ch_draws, True).value()
        self.assertEqual(alone[:2], with_child[:2])
        self.assertNotIn(with_child[2], with_child[:2])
        self.assertEqual(FlowTest(seed=7).run(ch_draws, True).value(), with_child)


if __name__ == "__main__":
    unittest.main()
