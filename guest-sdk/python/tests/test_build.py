"""`python -m cairn build` refuses a bad app with the decorator's own
message, before componentize-py runs."""

import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

SDK = Path(__file__).resolve().parents[1]


def build(source: str, name: str = "app.py") -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp) / name
        app.write_text(source)
        return subprocess.run(
            [sys.executable, "-m", "cairn", "build", str(app), "-o", str(Path(tmp) / "app.wasm")],
            capture_output=True,
            text=True,
            env={"PYTHONPATH": str(SDK), "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
            timeout=60,
        )


class BuildCommand(unittest.TestCase):
    def test_a_bad_option_fails_the_build_with_its_message(self):
        out = build("from cairn import checkpoint\n@checkpoint(retry=2)\ndef f(x: int) -> int:\n    return x\n")
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertIn("error: @checkpoint on `f`: unknown option `retry`", out.stderr)
        self.assertNotIn("componentize", out.stderr)

    def test_star_args_and_duplicates_fail_the_build(self):
        out = build("from cairn import flow\n@flow\ndef f(*xs: int) -> int:\n    return 0\n")
        self.assertEqual(out.returncode, 1)
        self.assertIn("error: flow `f` takes `*xs`", out.stderr)
        out = build(
            "from cairn import flow, checkpoint\n@checkpoint\ndef f() -> int:\n    return 0\n"
            "def g() -> int:\n    return 0\ng.__name__ = 'f'\nflow(g)\n"
        )
        self.assertEqual(out.returncode, 1)
        self.assertIn("error: two entries are named `f`", out.stderr)

    def test_an_app_without_entries_or_not_python_is_refused(self):
        out = build("x = 1\n")
        self.assertEqual(out.returncode, 1)
        self.assertIn("declares no @flow and no @checkpoint", out.stderr)
        out = build("x = 1\n", name="app.txt")
        self.assertEqual(out.returncode, 2)
        self.assertIn("is not a .py file", out.stderr)
