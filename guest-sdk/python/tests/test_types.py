"""Values converted by annotation, both ways, and their JSON schemas."""

import unittest
from dataclasses import dataclass, field
from typing import Any, Dict, List, Literal, Optional, Tuple, TypedDict, Union

from cairn import BuildError
from cairn._schema import schema_of
from cairn._types import decode, encode, is_optional, type_name


@dataclass
class Item:
    name: str
    price: float
    tags: List[str] = field(default_factory=list)


@dataclass
class Order:
    id: int
    items: list[Item]
    note: Optional[str]


class Address(TypedDict):
    street: str
    zip: Optional[str]


class PartialAddress(TypedDict, total=False):
    street: str


@dataclass
class Node:
    value: int
    children: "list[Node]"


class Decode(unittest.TestCase):
    def test_nested_dataclasses_lists_and_optional(self):
        order = decode(
            {"id": 7, "items": [{"name": "bolt", "price": 1}, {"name": "nut", "price": 0.5, "tags": ["m3"]}], "note": None},
            Order,
        )
        self.assertEqual(order, Order(7, [Item("bolt", 1.0), Item("nut", 0.5, ["m3"])], None))
        self.assertIsInstance(order.items[0].price, float)
        # An Optional field may be left out.
        self.assertEqual(decode({"id": 1, "items": []}, Order).note, None)

    def test_errors_name_the_path(self):
        with self.assertRaisesRegex(ValueError, r"order\.items\[1\]\.price: expected a number, got a string"):
            decode({"id": 7, "items": [{"name": "a", "price": 1}, {"name": "b", "price": "x"}], "note": None}, Order, "order")
        with self.assertRaisesRegex(ValueError, "missing field `items`"):
            decode({"id": 7}, Order)
        with self.assertRaisesRegex(ValueError, "unknown field `colour`"):
            decode({"name": "a", "price": 1, "colour": "red"}, Item)
        with self.assertRaisesRegex(ValueError, "expected a whole number, got a boolean"):
            decode(True, int)
        with self.assertRaisesRegex(ValueError, "expected a string, got null"):
            decode(None, str)

    def test_typeddicts_tuples_dicts_unions_literals(self):
        self.assertEqual(decode({"street": "Main"}, Address), {"street": "Main"})
        with self.assertRaisesRegex(ValueError, "missing field `street`"):
            decode({}, Address)
        self.assertEqual(decode({}, PartialAddress), {})
        self.assertEqual(decode([1, "a"], Tuple[int, str]), (1, "a"))
        self.assertEqual(decode({"a": [1]}, Dict[str, List[int]]), {"a": [1]})
        self.assertEqual(decode("x", Union[int, str]), "x")
        self.assertEqual(decode(3.0, int), 3)
        self.assertEqual(decode("b", Literal["a", "b"]), "b")
        with self.assertRaises(ValueError):
            decode("c", Literal["a", "b"])
        self.assertEqual(decode({"any": [1, None]}, Any), {"any": [1, None]})

    def test_encode_is_plain_json(self):
        self.assertEqual(
            encode(Order(1, [Item("a", 2.5)], None)),
            {"id": 1, "items": [{"name": "a", "price": 2.5, "tags": []}], "note": None},
        )
        self.assertEqual(encode((1, {"k": {2, 2}})), [1, {"k": [2]}])
        with self.assertRaisesRegex(ValueError, "not a JSON number"):
            encode(float("nan"))
        with self.assertRaisesRegex(ValueError, "has no JSON form"):
            encode(object())
        with self.assertRaisesRegex(ValueError, "key must be a string"):
            encode({1: "a"})

    def test_type_names_read_as_written(self):
        self.assertEqual(type_name(str), "str")
        self.assertEqual(type_name(list[int]), "list[int]")
        self.assertEqual(type_name(Optional[Order]), "Optional[Order]")
        self.assertEqual(type_name(Dict[str, List[int]]), "dict[str, list[int]]")
        self.assertEqual(type_name(Any), "Any")
        self.assertTrue(is_optional(Optional[int]))
        self.assertTrue(is_optional(int | None))
        self.assertFalse(is_optional(int))


class Schema(unittest.TestCase):
    def test_a_dataclass_is_a_closed_object_with_its_required_fields(self):
        schema = schema_of(Item)
        self.assertEqual(schema["type"], "object")
        self.assertEqual(schema["required"], ["name", "price"])
        self.assertEqual(schema["properties"]["tags"], {"type": "array", "items": {"type": "string"}})
        self.assertIs(schema["additionalProperties"], False)
        order = schema_of(Order)
        self.assertEqual(order["required"], ["id", "items"])
        self.assertEqual(order["properties"]["note"], {"anyOf": [{"type": "string"}, {"type": "null"}]})
        self.assertEqual(order["properties"]["items"]["items"]["title"], "Item")

    def test_a_typeddict_lists_its_required_keys(self):
        schema = schema_of(Address)
        self.assertEqual(schema["required"], ["street"])
        self.assertNotIn("additionalProperties", schema)
        self.assertNotIn("required", schema_of(PartialAddress))

    def test_simple_types(self):
        self.assertEqual(schema_of(bool), {"type": "boolean"})
        self.assertEqual(schema_of(int), {"type": "integer"})
        self.assertEqual(schema_of(Any), {})
        self.assertEqual(schema_of(Literal["yes", "no"]), {"enum": ["yes", "no"]})

    def test_a_recursive_type_is_refused(self):
        with self.assertRaisesRegex(BuildError, "Node contains itself"):
            schema_of(Node)
        with self.assertRaisesRegex(BuildError, "cannot derive a JSON schema for complex"):
            schema_of(complex)
