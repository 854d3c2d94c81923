"""Write Cairn flows and checkpoints in Python, Kitaru-style, and compile
them to Cairn components:

    import cairn
    from cairn import flow, checkpoint

    @checkpoint
    def greet(name: str) -> str:
        return f"Hello, {name}!"

    @checkpoint(runtime="isolated", retries=2, type="llm_call")
    def shout(text: str) -> str:
        return text.upper()

    @flow
    def hello(name: str) -> str:
        return shout(greet(name))

    @flow
    def welcome(names: list[str]) -> list[str]:
        return [cairn.child_flow(hello, name=n) for n in names]  # child executions

Build with `python -m cairn build app.py -o app.wasm` and run with
`cairn run app.wasm --flow hello --input '{"name": "world"}'`. In plain Python, calling
`hello("world")` runs the flow locally with its checkpoints.
"""

from ._children import ChildFlow, child_flow, start_child_flow
from ._context import log, now, now_ms, random, random_u64, wait
from ._decorators import Checkpoint, Flow, Handle, checkpoint, flow
from ._errors import BuildError, CairnError, CheckpointFailed, CheckpointTrapped, ChildFlowFailed, ContextError
from ._registry import SDK_VERSION as __version__
from ._timers import Attempt, attempt, sleep, wait_timeout

__all__ = [
    "Attempt",
    "BuildError",
    "CairnError",
    "Checkpoint",
    "CheckpointFailed",
    "CheckpointTrapped",
    "ChildFlow",
    "ChildFlowFailed",
    "ContextError",
    "Flow",
    "Handle",
    "attempt",
    "checkpoint",
    "child_flow",
    "flow",
    "log",
    "now",
    "now_ms",
    "random",
    "random_u64",
    "sleep",
    "start_child_flow",
    "wait",
    "wait_timeout",
]
