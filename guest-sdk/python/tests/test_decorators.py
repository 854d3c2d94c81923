"""Registration at import time, the manifest it gives `describe`, and the
build errors of bad options and signatures."""

import unittest
from dataclasses import dataclass
from typing import Optional

from cairn import BuildError, checkpoint, flow
from cairn import _registry


@dataclass
class Pair:
    left: int
    right: int


@checkpoint
def deco_bare(x: int) -> int:
    """Doubles.

    Second paragraph.
    """
    return 2 * x


@checkpoint(runtime="isolated", retries=3, cache=False, type="llm_call", fuel=1000, memory=1 << 26, timeout_ms=500)
def deco_full(pair: Pair, scale: Optional[float], extra: str = "x") -> int:
    return pair.left


@checkpoint(kind="metric", cache=True)
def deco_kind(text: str) -> int:
    return len(text)


@flow(retries=2, cache=False)
def deco_flow(n: int) -> int:
    return deco_bare(n)


@flow
def deco_flow_bare() -> None:
    pass


def entry(name):
    manifest = _registry.manifest()
    for e in manifest["flows"] + manifest["checkpoints"]:
        if e["name"] == name:
            return e
    raise AssertionError(f"{name} is not registered")


class Manifest(unittest.TestCase):
    def test_a_bare_checkpoint_has_the_rust_defaults(self):
        self.assertEqual(
            entry("deco_bare"),
            {
                "name": "deco_bare",
                "params": [{"name": "x", "type_name": "int", "optional": False}],
                "doc": "Doubles.\n\nSecond paragraph.",
                "retries": 0,
                "cache": None,
                "kind": None,
                "runtime": "inline",
                "fuel": None,
                "memory_bytes": None,
                "timeout_ms": None,
            },
        )

    def test_every_checkpoint_option_reaches_the_manifest(self):
        e = entry("deco_full")
        self.assertEqual(
            e["params"],
            [
                {"name": "pair", "type_name": "Pair", "optional": False},
                {"name": "scale", "type_name": "Optional[float]", "optional": True},
                {"name": "extra", "type_name": "str", "optional": True},
            ],
        )
        self.assertEqual(
            (e["runtime"], e["retries"], e["cache"], e["kind"], e["fuel"], e["memory_bytes"], e["timeout_ms"]),
            ("isolated", 3, False, "llm_call", 1000, 1 << 26, 500),
        )
        self.assertIsNone(e["doc"])
        self.assertEqual(entry("deco_kind")["kind"], "metric")
        self.assertIs(entry("deco_kind")["cache"], True)

    def test_flows_default_to_cache_and_no_retries(self):
        self.assertEqual(
            entry("deco_flow"),
            {"name": "deco_flow", "params": [{"name": "n", "type_name": "int", "optional": False}], "doc": None, "retries": 2, "cache": False},
        )
        self.assertEqual((entry("deco_flow_bare")["retries"], entry("deco_flow_bare")["cache"]), (0, True))

    def test_entries_are_in_name_order_and_the_sdk_version_is_a_version(self):
        manifest = _registry.manifest()
        names = [c["name"] for c in manifest["checkpoints"]]
        self.assertEqual(names, sorted(names))
        self.assertRegex(manifest["sdk_version"], r"^\d+\.\d+\.\d+$")

    def test_the_decorated_function_stays_callable_as_func(self):
        self.assertEqual(deco_bare.func(4), 8)
        self.assertEqual(deco_bare.__doc__.splitlines()[0], "Doubles.")
        self.assertEqual(deco_bare.__name__, "deco_bare")


class BuildErrors(unittest.TestCase):
    def assertBuildError(self, pattern, make):
        with self.assertRaisesRegex(BuildError, pattern):
            make()

    def test_unknown_and_misspelt_options(self):
        self.assertBuildError(
            r"@checkpoint on `bad_a`: unknown option `retry`; expected one of: runtime, retries, cache, type, kind, fuel, memory, timeout_ms",
            lambda: checkpoint(retry=1)(lambda_named("bad_a")),
        )
        self.assertBuildError(r"@flow on `bad_b`: unknown option `runtime`; expected one of: retries, cache", lambda: flow(runtime="isolated")(lambda_named("bad_b")))

    def test_option_values_are_checked(self):
        self.assertBuildError(r"`retries` must be a whole number from 0 to 100", lambda: checkpoint(retries=101)(lambda_named("bad_c")))
        self.assertBuildError(r"`retries` must be", lambda: checkpoint(retries="3")(lambda_named("bad_d")))
        self.assertBuildError(r"`retries` must be", lambda: checkpoint(retries=True)(lambda_named("bad_d2")))
        self.assertBuildError(r'`runtime` takes "inline" or "isolated", not \'sandbox\'', lambda: checkpoint(runtime="sandbox")(lambda_named("bad_e")))
        self.assertBuildError(r"`cache` takes True or False", lambda: flow(cache=1)(lambda_named("bad_f")))
        self.assertBuildError(r"`type` takes a label", lambda: checkpoint(type="llm call")(lambda_named("bad_g")))
        self.assertBuildError(r"two spellings of one label", lambda: checkpoint(type="a", kind="b")(lambda_named("bad_h")))
        self.assertBuildError(r"`fuel` takes a positive whole number", lambda: checkpoint(fuel=0)(lambda_named("bad_i")))
        self.assertBuildError(r"`memory` takes a positive whole number", lambda: checkpoint(memory=-1)(lambda_named("bad_j")))
        self.assertBuildError(r"`timeout_ms` takes a positive whole number", lambda: checkpoint(timeout_ms=1.5)(lambda_named("bad_k")))

    def test_star_args_kwargs_and_positional_only_are_refused(self):
        def star(*items: int) -> int:
            return 0

        def starstar(**named: int) -> int:
            return 0

        def positional(a, /, b):
            return 0

        self.assertBuildError(r"checkpoint `star` takes `\*items`: .* \(use a `list` parameter instead\)", lambda: checkpoint(star))
        self.assertBuildError(r"flow `starstar` takes `\*\*named`", lambda: flow(starstar))
        self.assertBuildError(r"parameter `a` is positional-only", lambda: checkpoint(positional))

    def test_duplicate_names_are_refused_whatever_the_kind(self):
        def dup_name(x: int) -> int:
            return x

        checkpoint(dup_name)
        self.assertBuildError(r"two entries are named `dup_name`: the checkpoint in .*test_decorators.py:\d+ and the checkpoint", lambda: checkpoint(dup_name))
        self.assertBuildError(r"two entries are named `dup_name`: the checkpoint .* and the flow", lambda: flow(dup_name))

    def test_decorating_something_else_is_refused(self):
        self.assertBuildError(r"@checkpoint decorates a function", lambda: checkpoint(3))
        self.assertBuildError(r"already a checkpoint", lambda: checkpoint(deco_bare))


def lambda_named(name):
    def f(x: int) -> int:
        return x

    f.__name__ = f.__qualname__ = name
    return f
