"""Write the model as BTF bytes, deterministically.

The layout is libbpf's: header, types, the optional layout section, strings.
The header is 24 bytes unless a layout section is asked for (or the BTF was
read with a longer header), so pre-2026 kernels and tools read our output.
"""

from __future__ import annotations

import array
import struct
import sys

from .kinds import HEADER_LEN, HEADER_LEN_LAYOUT, LAYOUT, Kind, info_word
from .model import Btf, Type
from .wire import Header


def default_layout() -> list[tuple[int, int, int]]:
    """libbpf's layout table for kinds 0..19: (info_sz, elem_sz, flags)."""
    return [(*LAYOUT[k], 0) for k in Kind]


def _put(t: Type, add, out: array.array) -> None:
    """Append the wire words of one type; `add` interns a name."""
    k = t.kind
    name = add(t.name)
    if k == Kind.INT:
        out.extend((name, info_word(k, 0, False), t.size,
                    (int(t.encoding) << 24) | (t.offset << 16) | t.bits))
    elif k in (Kind.PTR, Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT):
        out.extend((name, info_word(k, 0, False), t.type))
    elif k == Kind.ARRAY:
        out.extend((name, info_word(k, 0, False), 0, t.type, t.index_type, t.nelems))
    elif k in (Kind.STRUCT, Kind.UNION):
        out.extend((name, info_word(k, len(t.members), t.kflag), t.size))
        for m in t.members:
            off = (m.bitfield_size << 24) | m.offset if t.kflag else m.offset
            out.extend((add(m.name), m.type, off))
    elif k == Kind.ENUM:
        out.extend((name, info_word(k, len(t.values), t.signed), t.size))
        for v in t.values:
            out.extend((add(v.name), v.value & 0xFFFFFFFF))
    elif k == Kind.ENUM64:
        out.extend((name, info_word(k, len(t.values), t.signed), t.size))
        for v in t.values:
            u = v.value & 0xFFFFFFFFFFFFFFFF
            out.extend((add(v.name), u & 0xFFFFFFFF, u >> 32))
    elif k == Kind.FWD:
        out.extend((name, info_word(k, 0, t.union), 0))
    elif k == Kind.FUNC:
        out.extend((name, info_word(k, int(t.linkage), False), t.type))
    elif k == Kind.FUNC_PROTO:
        out.extend((name, info_word(k, len(t.params), False), t.ret))
        for p in t.params:
            out.extend((add(p.name), p.type))
    elif k == Kind.VAR:
        out.extend((name, info_word(k, 0, False), t.type, int(t.linkage)))
    elif k == Kind.DATASEC:
        out.extend((name, info_word(k, len(t.vars), False), t.size))
        for v in t.vars:
            out.extend((v.type, v.offset, v.size))
    elif k == Kind.FLOAT:
        out.extend((name, info_word(k, 0, False), t.size))
    elif k == Kind.DECL_TAG:
        out.extend((name, info_word(k, 0, t.attr), t.type, t.component_idx & 0xFFFFFFFF))
    elif k == Kind.TYPE_TAG:
        out.extend((name, info_word(k, 0, t.attr), t.type))
    else:  # Unknown: written back as it was read
        out.extend((name, info_word(k, t.vlen, t.kflag), t.size_or_type))
        out.frombytes(t.data)


def encode(btf: Btf, *, hdr_len: int | None = None,
           layout: list[tuple[int, int, int]] | None | bool = None) -> bytes:
    """The BTF blob for `btf`.

    `layout=True` adds libbpf's layout table, a list gives one explicitly,
    `False` drops one that was read; `None` keeps what the BTF has.
    Names are interned into `btf.strings` as a side effect.
    """
    if layout is True:
        layout = default_layout()
    elif layout is False:
        layout = None
    elif layout is None:
        layout = btf.layout
    if hdr_len is None:
        hdr_len = btf.hdr_len
    if layout is not None:
        hdr_len = max(hdr_len, HEADER_LEN_LAYOUT)
    hdr_len = max(hdr_len, HEADER_LEN)

    words = array.array("I")
    add = btf.strings.add
    for t in btf.types:
        _put(t, add, words)
    if (btf.endian == "<") != (sys.byteorder == "little"):
        words.byteswap()
    types = words.tobytes()
    lay = b"".join(struct.pack(f"{btf.endian}BBH", *e) for e in layout) if layout else b""
    strings = btf.strings.bytes()
    h = Header(hdr_len, 0, len(types), len(types) + len(lay), len(strings),
               layout_off=len(types) if layout else 0, layout_len=len(lay),
               endian=btf.endian)
    return h.pack() + types + lay + strings
