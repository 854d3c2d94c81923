"""The WIT shipped in the package is the workspace's, byte for byte."""

import unittest
from pathlib import Path

import cairn._build as build

WORKSPACE_WIT = Path(__file__).resolve().parents[3] / "wit" / "cairn.wit"


class ShippedWit(unittest.TestCase):
    def test_the_shipped_wit_is_the_workspace_wit(self):
        shipped = build.WIT_DIR / "cairn.wit"
        self.assertEqual(
            shipped.read_bytes(),
            WORKSPACE_WIT.read_bytes(),
            f"{shipped} differs from {WORKSPACE_WIT}: copy it over (the SDK builds against the shipped copy)",
        )
        self.assertEqual(sorted(p.name for p in build.WIT_DIR.iterdir()), ["cairn.wit"])

    def test_the_entry_module_exports_the_sdk_guest(self):
        source = build.entry_source("app", ["fractions"])
        self.assertIn("import app", source)
        self.assertIn("import fractions", source)
        self.assertIn("from cairn._guest import Guest", source)
        compile(source, "entry", "exec")
