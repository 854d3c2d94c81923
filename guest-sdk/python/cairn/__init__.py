"""Write Cairn flows and checkpoints in Python, Kitaru-style, and compile
them to Cairn components:

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

Build with `python -m cairn build app.py -o app.wasm` and run with
`cairn run app.wasm --input '{"name": "world"}'`. In plain Python, calling
`hello("world")` runs the flow locally with its checkpoints.
"""

from ._context import log, now, now_ms, random, random_u64, wait
from ._decorators import Checkpoint, Flow, Handle, checkpoint, flow
from ._errors import BuildError, CairnError, CheckpointFailed, CheckpointTrapped, ContextError
from ._registry import SDK_VERSION as __version__
from ._timers import Attempt, attempt, sleep, wait_timeout

__all__ = [
    "Attempt",
    "BuildError",
    "CairnError",
    "Checkpoint",
    "CheckpointFailed",
    "CheckpointTrapped",
    "ContextError",
    "Flow",
    "Handle",
    "attempt",
    "checkpoint",
    "flow",
    "log",
    "now",
    "now_ms",
    "random",
    "random_u64",
    "sleep",
    "wait",
    "wait_timeout",
]
