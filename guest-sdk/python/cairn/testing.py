"""Unit tests of flows in plain CPython: `FlowTest` runs a flow locally
with wait values, a clock and a random seed and returns a `Run` (its calls,
waits, logs and the child flows it started, each a `Child` with a `Run` of
its own)."""

from ._local import Call, Child, FlowTest, Run, Wait

__all__ = ["Call", "Child", "FlowTest", "Run", "Wait"]
