"""Unit tests of flows in plain CPython: `FlowTest` runs a flow locally
with wait values, a clock and a random seed and returns a `Run`."""

from ._local import Call, FlowTest, Run, Wait

__all__ = ["Call", "FlowTest", "Run", "Wait"]
