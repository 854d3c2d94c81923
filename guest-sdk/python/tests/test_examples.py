"""The Python examples run locally, as their docstrings describe (they
also run through the real host in tests/integration/python.rs)."""

import importlib.util
import sys
import unittest
from pathlib import Path

from cairn import CheckpointFailed, ContextError
from cairn.testing import FlowTest

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "python"


def load(name: str):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class Examples(unittest.TestCase):
    def test_hello_greets_loudly_in_three_calls(self):
        hello = load("hello")
        run = FlowTest().run(hello.hello, "world")
        self.assertEqual(run.output, hello.Greeting("HELLO, WORLD, FROM A DURABLE FLOW!", 6))
        self.assertEqual(run.call_ids(), ["greet", "shout", "count_words"])
        with self.assertRaisesRegex(CheckpointFailed, "checkpoint `greet` failed: a greeting needs a name"):
            hello.hello("  ")

    def test_approval_publishes_only_when_approved(self):
        approval = load("approval")
        run = FlowTest(waits={"approve": approval.Decision(True, "ada")}).run(approval.publish_post, "durable flows")
        self.assertEqual(run.output, "published 90 characters")
        self.assertEqual(run.call_ids(), ["draft", "publish"])
        run = FlowTest(waits={"approve": {"approved": False, "reviewer": "ada", "note": "too long"}}).run(
            approval.publish_post, "durable flows"
        )
        self.assertEqual(run.output, "not published: ada said no. too long")
        self.assertEqual(run.call_ids(), ["draft"])
        run = FlowTest().run(approval.publish_post, "durable flows")
        self.assertIsInstance(run.error, ContextError)
        self.assertEqual(approval.longest_word("a durable flow"), 7)
