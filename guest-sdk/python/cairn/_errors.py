"""The errors a flow sees, and the errors an author's mistakes raise.

A checkpoint call that does not produce an output raises one of
`CheckpointFailed`, `CheckpointTrapped` or `ContextError` in the calling flow,
the same three cases (and messages) as the Rust SDK's `cairn_guest::Error`;
a child flow that did not complete raises `ChildFlowFailed`.
"""

from __future__ import annotations


class CairnError(Exception):
    """Every error the SDK raises derives from this one."""


class BuildError(CairnError):
    """A decorator was given options or a function Cairn cannot use.

    Raised at import time, so `python -m cairn build` fails with this
    message instead of building a component the host would refuse.
    """


class ContextError(CairnError):
    """A call that cannot be made here: a checkpoint called outside a flow or
    from inside another checkpoint, a wait without an answer, an input or
    output that does not convert, an unknown checkpoint."""


class CheckpointFailed(CairnError):
    """The checkpoint raised an exception on its last attempt."""

    def __init__(self, checkpoint: str, message: str) -> None:
        super().__init__(f"checkpoint `{checkpoint}` failed: {message}")
        self.checkpoint = checkpoint
        self.message = message


#: How `CheckpointTrapped.kind` is shown, as the Rust SDK shows `TrapKind`.
TRAP_KINDS = {
    "out-of-fuel": "out of fuel",
    "memory": "out of memory",
    "timeout": "timeout",
    "trap": "trap",
}


class CheckpointTrapped(CairnError):
    """The checkpoint's last attempt was stopped by the sandbox: `kind` is
    one of `out-of-fuel`, `memory`, `timeout` or `trap`."""

    def __init__(self, checkpoint: str, kind: str, message: str) -> None:
        shown = TRAP_KINDS.get(kind, kind)
        super().__init__(f"checkpoint `{checkpoint}` trapped ({shown}): {message}")
        self.checkpoint = checkpoint
        self.kind = kind
        self.message = message


class ChildFlowFailed(CairnError):
    """A child flow did not complete: it failed, or it was cancelled.

    The text is the runner's: in Cairn it names the child execution and
    why it ended (`child execution 7 failed: ...`), as the Rust SDK's error
    does; in a local run, the child flow. A child that could not be started
    at all (an unknown flow, an input its parameters refuse) raises
    `ContextError` instead.
    """

    def __init__(self, flow: str, message: str) -> None:
        super().__init__(message)
        self.flow = flow
        self.message = message
