"""The producers stamp: merged into the component's top-level section,
everything else byte for byte."""

import unittest

from cairn import _producers

HEADER = b"\0asm\x0d\x00\x01\x00"


def section(sid: int, body: bytes) -> bytes:
    return bytes([sid]) + _producers._leb(len(body)) + body


class Stamp(unittest.TestCase):
    def test_fields_are_merged_and_other_sections_kept(self):
        original = _producers.encode({"processed-by": [("wit-component", "0.245.1")]})
        other = section(7, b"\x01\x02\x03" * 100)
        component = HEADER + other + original
        stamped = _producers.stamp(component, {"processed-by": [("cairn-python-sdk", "0.1.0")], "language": [("Python", "")]})
        self.assertTrue(stamped.startswith(HEADER + other))
        rest = stamped[len(HEADER + other) :]
        size, at = _producers._read_leb(rest, 1)
        name, at = _producers._name(rest, at)
        self.assertEqual(name, "producers")
        self.assertEqual(
            _producers.parse(rest[at:]),
            {"processed-by": [("wit-component", "0.245.1"), ("cairn-python-sdk", "0.1.0")], "language": [("Python", "")]},
        )
        self.assertEqual(len(rest), 1 + len(_producers._leb(size)) + size)

    def test_a_component_without_producers_gets_one_and_stamping_twice_keeps_one_entry(self):
        once = _producers.stamp(HEADER, {"processed-by": [("cairn-python-sdk", "0.1.0")]})
        twice = _producers.stamp(once, {"processed-by": [("cairn-python-sdk", "0.1.0")]})
        self.assertEqual(once, twice)
        with self.assertRaises(ValueError):
            _producers.stamp(b"nope", {})

    def test_leb_round_trips(self):
        for n in (0, 1, 127, 128, 300, 1 << 20, 18_700_000):
            self.assertEqual(_producers._read_leb(_producers._leb(n), 0), (n, len(_producers._leb(n))))
