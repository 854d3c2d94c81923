"""Stamps a built component's `producers` custom section with the SDK and
the componentize-py that built it, so that `cairn inspect` can say so:
componentize-py names only the tools under it (wit-component,
component-init-transform). Only the top-level section of the component is
rewritten; the code is untouched."""

from __future__ import annotations


def _leb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _read_leb(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def _name(data: bytes, at: int) -> tuple[str, int]:
    length, at = _read_leb(data, at)
    return data[at : at + length].decode("utf-8", "replace"), at + length


def _encode_name(text: str) -> bytes:
    raw = text.encode()
    return _leb(len(raw)) + raw


def parse(payload: bytes) -> dict[str, list[tuple[str, str]]]:
    """The fields of a producers section's payload (after its name)."""
    fields: dict[str, list[tuple[str, str]]] = {}
    count, at = _read_leb(payload, 0)
    for _ in range(count):
        field, at = _name(payload, at)
        values, at = _read_leb(payload, at)
        for _ in range(values):
            name, at = _name(payload, at)
            version, at = _name(payload, at)
            fields.setdefault(field, []).append((name, version))
    return fields


def encode(fields: dict[str, list[tuple[str, str]]]) -> bytes:
    """A whole producers custom section (id, size, name, fields)."""
    body = bytearray(_encode_name("producers"))
    body += _leb(len(fields))
    for field, values in fields.items():
        body += _encode_name(field)
        body += _leb(len(values))
        for name, version in values:
            body += _encode_name(name) + _encode_name(version)
    return b"\x00" + _leb(len(body)) + bytes(body)


def stamp(component: bytes, added: dict[str, list[tuple[str, str]]]) -> bytes:
    """`component` with `added` merged into its top-level producers
    section (one is appended when there is none)."""
    if component[:4] != b"\0asm":
        raise ValueError("not a WebAssembly binary")
    out = bytearray(component[:8])
    fields: dict[str, list[tuple[str, str]]] = {}
    at = 8
    while at < len(component):
        start = at
        section = component[at]
        size, body_at = _read_leb(component, at + 1)
        end = body_at + size
        if section == 0:
            name, name_end = _name(component, body_at)
            if name == "producers":
                fields = parse(component[name_end:end])
                at = end
                continue
        out += component[start:end]
        at = end
    for field, values in added.items():
        kept = [v for v in fields.get(field, []) if v[0] not in {n for n, _ in values}]
        fields[field] = kept + values
    out += encode(fields)
    return bytes(out)
