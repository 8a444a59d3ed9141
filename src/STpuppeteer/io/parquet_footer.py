"""Parquet footers read and written at the byte level: row groups encoded apart, placed in one file.

A Parquet file is ``PAR1``, the column chunks' pages, then the footer: a Thrift
``FileMetaData`` in the compact protocol, its length and ``PAR1``. The pages of a column
chunk hold no file offset (only the footer does), so a column chunk encoded in one file can be
copied into another unchanged: only the offsets in its footer entry move. pyarrow has no API for
that (its writer encodes every row group itself), so the few footer fields that change are
rewritten here, and every other byte of every footer entry is copied as it was encoded.

What is parsed is only what is rewritten: the ``FileMetaData`` fields ``num_rows`` (3) and
``row_groups`` (4); in a ``RowGroup``, its ``columns`` (1), ``total_byte_size`` (2), ``num_rows`` (3),
``file_offset`` (5) and ``total_compressed_size`` (6) (an ``ordinal``, 7, is dropped); in a ``ColumnChunk`` its
offsets (``file_offset`` 2 when not 0, ``offset_index_offset`` 4, ``column_index_offset`` 6) and in
its ``ColumnMetaData`` (3) the page, index and Bloom-filter offsets (9, 10, 11, 14) and the chunk's
sizes (6, 7). Field numbers are those of ``parquet.thrift`` (apache/parquet-format).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["PAR1", "ColumnChunk", "FooterFields", "RowGroup", "compose_footer", "split_file"]

PAR1 = b"PAR1"

# Thrift compact protocol types.
_TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(1, 13)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _unzigzag(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


def _put_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _put_zigzag(value: int) -> bytes:
    return _put_varint((value << 1) ^ (value >> 63))


def _field_header(previous: int, field: int, ctype: int) -> bytes:
    delta = field - previous
    if 0 < delta <= 15:
        return bytes([(delta << 4) | ctype])
    return bytes([ctype]) + _put_zigzag(field)


def _skip(data: bytes, pos: int, ctype: int) -> int:
    """The position after a value of type ``ctype`` starting at ``pos``."""
    if ctype in (_TRUE, _FALSE):  # a list's booleans take a byte (a field's are in its header)
        return pos + 1
    if ctype == _BYTE:
        return pos + 1
    if ctype in (_I16, _I32, _I64):
        return _varint(data, pos)[1]
    if ctype == _DOUBLE:
        return pos + 8
    if ctype == _BINARY:
        length, pos = _varint(data, pos)
        return pos + length
    if ctype in (_LIST, _SET):
        size, element, pos = _list_header(data, pos)
        for _ in range(size):
            pos = _skip(data, pos, element)
        return pos
    if ctype == _MAP:
        size, pos = _varint(data, pos)
        if size:
            kinds = data[pos]
            pos += 1
            for _ in range(size):
                pos = _skip(data, pos, kinds >> 4)
                pos = _skip(data, pos, kinds & 0x0F)
        return pos
    if ctype == _STRUCT:
        fields = _fields(data, pos)
        return (fields[-1][3] if fields else pos) + 1  # after the stop byte
    msg = f"Parquet footer: unknown Thrift compact type {ctype} at byte {pos}"
    raise ValueError(msg)


def _list_header(data: bytes, pos: int) -> tuple[int, int, int]:
    head = data[pos]
    pos += 1
    size = head >> 4
    if size == 15:
        size, pos = _varint(data, pos)
    return size, head & 0x0F, pos


def _fields(data: bytes, pos: int) -> list[tuple[int, int, int, int]]:
    """A struct's fields from ``pos``: ``(field id, type, value start, value end)``; stops at its stop byte."""
    out = []
    field = 0
    while True:
        head = data[pos]
        if head == 0:
            return out
        pos += 1
        ctype = head & 0x0F
        if head >> 4:
            field += head >> 4
        else:
            raw, pos = _varint(data, pos)
            field = _unzigzag(raw)
        end = pos if ctype in (_TRUE, _FALSE) else _skip(data, pos, ctype)
        out.append((field, ctype, pos, end))
        pos = end


def _int(data: bytes, start: int) -> int:
    return _unzigzag(_varint(data, start)[0])


def _struct(fields: list[tuple[int, int, bytes]]) -> bytes:
    """A struct of ``(field id, type, value bytes)`` in ascending field order."""
    out = bytearray()
    previous = 0
    for field, ctype, value in sorted(fields, key=lambda f: f[0]):
        out += _field_header(previous, field, ctype) + value
        previous = field
    out.append(0)
    return bytes(out)


def _list(ctype: int, elements: list[bytes]) -> bytes:
    size = len(elements)
    head = bytes([(size << 4) | ctype]) if size < 15 else bytes([0xF0 | ctype]) + _put_varint(size)
    return head + b"".join(elements)


# Offsets to move, by struct: ColumnChunk's and ColumnMetaData's (the page, index and Bloom
# filter offsets), and where the chunk begins.
_CHUNK_OFFSETS = (4, 6)
_META_OFFSETS = (9, 10, 11, 14)


@dataclass(frozen=True)
class ColumnChunk:
    """One column chunk's footer entry (``ColumnChunk`` bytes), its start and sizes."""

    raw: bytes
    start: int
    compressed: int
    uncompressed: int

    @classmethod
    def parse(cls, data: bytes, pos: int) -> tuple[ColumnChunk, int]:
        """The entry at ``pos`` and the position after it."""
        end = _skip(data, pos, _STRUCT)
        meta = next(f for f in _fields(data, pos) if f[0] == 3)
        values = {field: _int(data, start) for field, _, start, _ in _fields(data, meta[2]) if field in (6, 7, 9, 11)}
        start = min(values[k] for k in (9, 11) if k in values)
        return cls(bytes(data[pos:end]), start, values[7], values[6]), end

    def shifted(self, shift: int) -> ColumnChunk:
        """The entry with every file offset moved by ``shift`` bytes."""
        data = self.raw
        fields = []
        for field, ctype, start, end in _fields(data, 0):
            value = data[start:end]
            if field == 3:
                inner = []
                for f, t, s, e in _fields(data, start):
                    v = data[s:e]
                    inner.append((f, t, _put_zigzag(_int(data, s) + shift) if f in _META_OFFSETS else v))
                value = _struct(inner)
            elif field in _CHUNK_OFFSETS or (field == 2 and _int(data, start) != 0):
                # file_offset (2) is deprecated and pyarrow writes 0 there, which is no position.
                value = _put_zigzag(_int(data, start) + shift)
            fields.append((field, ctype, value))
        return ColumnChunk(_struct(fields), self.start + shift, self.compressed, self.uncompressed)


@dataclass(frozen=True)
class RowGroup:
    """One row group's footer entry: its column chunks, rows and other fields as encoded."""

    columns: tuple[ColumnChunk, ...]
    num_rows: int
    other: tuple[tuple[int, int, bytes], ...]

    @classmethod
    def parse(cls, data: bytes, pos: int) -> tuple[RowGroup, int]:
        """The entry at ``pos`` and the position after it."""
        columns: list[ColumnChunk] = []
        num_rows = 0
        other = []
        for field, ctype, start, end in _fields(data, pos):
            if field == 1:
                size, _, p = _list_header(data, start)
                for _ in range(size):
                    chunk, p = ColumnChunk.parse(data, p)
                    columns.append(chunk)
            elif field == 3:
                num_rows = _int(data, start)
            elif field not in (2, 5, 6, 7):
                other.append((field, ctype, bytes(data[start:end])))
        return cls(tuple(columns), num_rows, tuple(other)), _skip(data, pos, _STRUCT)

    def encode(self) -> bytes:
        """The entry's bytes, its sizes and first offset from its chunks (no ``ordinal``, as pyarrow writes none)."""
        return _struct(
            [
                (1, _LIST, _list(_STRUCT, [c.raw for c in self.columns])),
                (2, _I64, _put_zigzag(sum(c.uncompressed for c in self.columns))),
                (3, _I64, _put_zigzag(self.num_rows)),
                (5, _I64, _put_zigzag(min(c.start for c in self.columns))),
                (6, _I64, _put_zigzag(sum(c.compressed for c in self.columns))),
                *self.other,
            ]
        )


@dataclass(frozen=True)
class FooterFields:
    """A file's footer: its row groups and its other ``FileMetaData`` fields as encoded."""

    row_groups: tuple[RowGroup, ...]
    other: tuple[tuple[int, int, bytes], ...]

    @classmethod
    def parse(cls, footer: bytes) -> FooterFields:
        """Parse a ``FileMetaData``."""
        groups: list[RowGroup] = []
        other = []
        for field, ctype, start, end in _fields(footer, 0):
            if field == 4:
                size, _, p = _list_header(footer, start)
                for _ in range(size):
                    group, p = RowGroup.parse(footer, p)
                    groups.append(group)
            elif field != 3:
                other.append((field, ctype, bytes(footer[start:end])))
        return cls(tuple(groups), tuple(other))


def split_file(data: bytes) -> tuple[bytes, FooterFields]:
    """A whole Parquet file's pages (the bytes between ``PAR1`` and the footer) and its parsed footer."""
    if len(data) < 12 or data[:4] != PAR1 or data[-4:] != PAR1:
        msg = "not a Parquet file (no PAR1 at its start and end)"
        raise ValueError(msg)
    (length,) = struct.unpack("<I", data[-8:-4])
    footer_start = len(data) - 8 - length
    return data[4:footer_start], FooterFields.parse(data[footer_start:-8])


def compose_footer(template: FooterFields, row_groups: list[RowGroup]) -> bytes:
    """The footer (with its length and ``PAR1``) of ``template``'s schema and metadata over ``row_groups``."""
    footer = _struct(
        [
            (3, _I64, _put_zigzag(sum(g.num_rows for g in row_groups))),
            (4, _LIST, _list(_STRUCT, [g.encode() for g in row_groups])),
            *template.other,
        ]
    )
    return footer + struct.pack("<I", len(footer)) + PAR1
