"""The BTF blob as bytes: header, sections, and the raw type records.

This layer knows sizes and offsets but not what the types mean; the reader
turns its records into the model, and the verifier checks them against the
kernel's rules.  Both share it so they agree on where each record starts.
"""

from __future__ import annotations

import array
import struct
import sys
from typing import NamedTuple

from ..errors import BtfError
from ..record import record
from .kinds import HEADER_LEN, HEADER_LEN_LAYOUT, LAYOUT, MAGIC, TYPE_HEADER_LEN, VERSION


@record
class Header:
    hdr_len: int
    type_off: int
    type_len: int
    str_off: int
    str_len: int
    layout_off: int = 0
    layout_len: int = 0
    flags: int = 0
    version: int = VERSION
    endian: str = "<"

    def pack(self) -> bytes:
        e = self.endian
        out = struct.pack(f"{e}HBBIIIII", MAGIC, self.version, self.flags, self.hdr_len,
                          self.type_off, self.type_len, self.str_off, self.str_len)
        if self.hdr_len >= HEADER_LEN_LAYOUT:
            out += struct.pack(f"{e}II", self.layout_off, self.layout_len)
        return out + bytes(self.hdr_len - len(out))


def endian_of(data: bytes) -> str | None:
    """'<' or '>' from the magic, or None when it is not BTF."""
    if len(data) < 2:
        return None
    if data[:2] == b"\x9f\xeb":
        return "<"
    if data[:2] == b"\xeb\x9f":
        return ">"
    return None


def parse_header(data: bytes) -> Header:
    """Read and bounds-check the header; offsets in errors are from the blob's start."""
    if len(data) < HEADER_LEN:
        raise BtfError(f"{len(data)} bytes is too short for a BTF header", offset=0)
    e = endian_of(data)
    if e is None:
        raise BtfError(f"bad magic {int.from_bytes(data[:2], 'little'):#06x}, "
                       f"expected {MAGIC:#06x}", offset=0)
    _, version, flags, hdr_len, type_off, type_len, str_off, str_len = \
        struct.unpack_from(f"{e}HBBIIIII", data)
    if version != VERSION:
        raise BtfError(f"unsupported BTF version {version}", offset=2)
    if hdr_len < HEADER_LEN or hdr_len > len(data):
        raise BtfError(f"header length {hdr_len} is out of range "
                       f"(blob is {len(data)} bytes)", offset=4)
    h = Header(hdr_len, type_off, type_len, str_off, str_len, flags=flags,
               version=version, endian=e)
    if hdr_len >= HEADER_LEN_LAYOUT:
        h.layout_off, h.layout_len = struct.unpack_from(f"{e}II", data, HEADER_LEN)
    if any(data[HEADER_LEN_LAYOUT:hdr_len]):
        raise BtfError("unknown non-zero header fields past the layout fields",
                       offset=HEADER_LEN_LAYOUT)
    body = len(data) - hdr_len
    for name, off, length, field in (("type", type_off, type_len, 8),
                                     ("string", str_off, str_len, 16),
                                     ("layout", h.layout_off, h.layout_len, 24)):
        if off + length > body:
            raise BtfError(f"{name} section {off}+{length} runs past the end of "
                           f"the data ({body} bytes after the header)", offset=field)
    if type_off % 4:
        raise BtfError("type section is not aligned to 4 bytes", offset=8)
    if h.layout_len and (h.layout_off % 4 or h.layout_len % 4):
        raise BtfError("layout section is not aligned to 4 bytes", offset=24)
    return h


def words_of(data: bytes, start: int, length: int, endian: str) -> array.array:
    """The u32 words of data[start:start+length], in host order."""
    words = array.array("I")
    words.frombytes(data[start:start + length - length % 4])
    if (endian == "<") != (sys.byteorder == "little"):
        words.byteswap()
    return words


def parse_layout(data: bytes, h: Header) -> list[tuple[int, int, int]] | None:
    """The layout section as (info_sz, elem_sz, flags) per kind number."""
    if not h.layout_len:
        return None
    start = h.hdr_len + h.layout_off
    return [(data[p], data[p + 1], struct.unpack_from(f"{h.endian}H", data, p + 2)[0])
            for p in range(start, start + h.layout_len, 4)]


class RawType(NamedTuple):
    """One record of the type section, undecoded.

    `offset` is the byte offset of the record inside the type section; `tail`
    holds the u32 words after struct btf_type.
    """
    offset: int
    name_off: int
    info: int
    size_type: int
    tail: array.array

    @property
    def kind(self) -> int:
        return (self.info >> 24) & 0x7F

    @property
    def vlen(self) -> int:
        return self.info & 0xFFFFFF

    @property
    def kflag(self) -> bool:
        return bool(self.info >> 31)


# LAYOUT by plain kind number: no enum construction per record.
_LAYOUT_BY_NUMBER = {int(k): v for k, v in LAYOUT.items()}


def tail_words(kind: int, vlen: int, layout: list | None,
               known_kinds: int = len(LAYOUT)) -> int | None:
    """How many u32 words follow struct btf_type, or None if unknown.

    Known kinds use the format's own table; others use the blob's layout
    section, as libbpf's btf_type_size_unknown() does.  `known_kinds` lets a
    test pretend to be an older reader that must use the layout.
    """
    if kind < known_kinds:
        info_sz, elem_sz = _LAYOUT_BY_NUMBER[kind]
    elif layout is not None and kind < len(layout):
        info_sz, elem_sz, _ = layout[kind]
        if info_sz % 4 or elem_sz % 4:
            return None
    else:
        return None
    return (info_sz + vlen * elem_sz) // 4


def split_records(words: array.array, layout: list | None,
                  known_kinds: int = len(LAYOUT)) -> list[RawType]:
    """Cut the type section into records; BtfError at the first bad one."""
    out = []
    i, n = 0, len(words)
    hdr_words = TYPE_HEADER_LEN // 4
    while i < n:
        if i + hdr_words > n:
            raise BtfError("type section ends inside a type record", offset=i * 4)
        name_off, info, size_type = words[i], words[i + 1], words[i + 2]
        kind, vlen = (info >> 24) & 0x7F, info & 0xFFFFFF
        tail = tail_words(kind, vlen, layout, known_kinds)
        if tail is None:
            raise BtfError(f"unknown kind {kind} and no layout section describes it",
                           offset=i * 4)
        end = i + hdr_words + tail
        if end > n:
            raise BtfError(f"type record of kind {kind} with vlen {vlen} runs past "
                           f"the end of the type section", offset=i * 4)
        out.append(RawType(i * 4, name_off, info, size_type, words[i + hdr_words:end]))
        i = end
    return out
