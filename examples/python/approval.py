"""A flow that asks a person before it publishes (examples/approval, in
Python):

    python -m cairn build examples/python/approval.py -o approval.wasm
    cairn run approval.wasm --flow publish_post --input '{"topic": "durable flows"}'
    # exit code 3: execution 1 is waiting for `approve`
    cairn executions input 1 --wait approve --value '{"approved": true, "reviewer": "ada"}'
    cairn executions resume 1
    cairn run approval.wasm --flow longest_word --input '{"text": "a durable flow"}'

While it waits, nothing runs and no instance is held: the flow is
unloaded, and resuming replays the draft from the journal.
"""

from dataclasses import dataclass
from typing import Optional

from cairn import checkpoint, flow, wait


@dataclass
class Decision:
    """A reviewer's answer."""

    approved: bool
    reviewer: str
    note: Optional[str] = None


@checkpoint(type="llm_call")
def draft(topic: str) -> str:
    """Writes the post."""
    return f"Why {topic} matter: they survive crashes, retry what failed and remember everything."


@checkpoint(runtime="isolated")
def publish(post: str) -> str:
    """Publishes it, in a sandbox of its own."""
    return f"published {len(post)} characters"


@checkpoint(runtime="isolated")
def word_lengths(word: str) -> int:
    """The length of one word (mapped over the post's words)."""
    return len(word)


@flow
def publish_post(topic: str) -> str:
    """Drafts a post on `topic`, waits for approval, then publishes it."""
    post = draft(topic)
    decision = wait("approve", f"Publish this post? {post}", Decision)
    if not decision.approved:
        return f"not published: {decision.reviewer} said no. {decision.note or ''}"
    return publish(post)


@flow
def longest_word(text: str) -> int:
    """The longest word of `text`, one isolated call per word (a map)."""
    return max(word_lengths.map(text.split()), default=0)
