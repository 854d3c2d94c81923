"""The hello flow of examples/hello, in Python:

    python -m cairn build examples/python/hello.py -o hello.wasm
    cairn run hello.wasm --input '{"name": "world"}'

Three checkpoints: two inline (they share the execution's store) and one
isolated (a fresh sandbox for its attempt).
"""

from dataclasses import dataclass

from cairn import checkpoint, flow


@dataclass
class Greeting:
    """The flow's output."""

    text: str
    words: int


@checkpoint
def greet(name: str) -> str:
    """Builds the greeting."""
    name = name.strip()
    if not name:
        raise ValueError("a greeting needs a name")
    return f"Hello, {name}, from a durable flow!"


@checkpoint(runtime="isolated")
def shout(text: str) -> str:
    """Shouts it, in a sandbox of its own."""
    return text.upper()


@checkpoint(type="metric")
def count_words(text: str) -> int:
    """Counts its words."""
    return len(text.split())


@flow
def hello(name: str) -> Greeting:
    """Greets `name`, loudly, and counts the words."""
    text = shout(greet(name))
    return Greeting(text=text, words=count_words(text))
