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
from .model import (Array, Btf, Const, Datasec, DeclTag, Enum, Enum64, Float, Func, FuncProto,
                    Fwd, Int, Ptr, Restrict, Struct, Type, Typedef, TypeTag, Union, Unknown,
                    Var, Volatile)
from .wire import Header


def default_layout() -> list[tuple[int, int, int]]:
    """libbpf's layout table for kinds 0..19: (info_sz, elem_sz, flags)."""
    return [(*LAYOUT[k], 0) for k in Kind]


def _int(t, name, add, out):
    out.extend((name, INT_INFO, t.size,
                (int(t.encoding) << 24) | (t.offset << 16) | t.bits))


def _ref(t, name, add, out):
    out.extend((name, info_word(t.kind, 0, False), t.type))


def _array(t, name, add, out):
    out.extend((name, ARRAY_INFO, 0, t.type, t.index_type, t.nelems))


def _members(t, name, add, out):
    out.extend((name, info_word(t.kind, len(t.members), t.kflag), t.size))
    if t.kflag:
        for m in t.members:
            out.extend((add(m.name), m.type, (m.bitfield_size << 24) | m.offset))
    else:
        for m in t.members:
            out.extend((add(m.name), m.type, m.offset))


def _enum(t, name, add, out):
    out.extend((name, info_word(Kind.ENUM, len(t.values), t.signed), t.size))
    for v in t.values:
        out.extend((add(v.name), v.value & 0xFFFFFFFF))


def _enum64(t, name, add, out):
    out.extend((name, info_word(Kind.ENUM64, len(t.values), t.signed), t.size))
    for v in t.values:
        u = v.value & 0xFFFFFFFFFFFFFFFF
        out.extend((add(v.name), u & 0xFFFFFFFF, u >> 32))


def _fwd(t, name, add, out):
    out.extend((name, info_word(Kind.FWD, 0, t.union), 0))


def _func(t, name, add, out):
    out.extend((name, info_word(Kind.FUNC, int(t.linkage), False), t.type))


def _func_proto(t, name, add, out):
    out.extend((name, info_word(Kind.FUNC_PROTO, len(t.params), False), t.ret))
    for p in t.params:
        out.extend((add(p.name), p.type))


def _var(t, name, add, out):
    out.extend((name, VAR_INFO, t.type, int(t.linkage)))


def _datasec(t, name, add, out):
    out.extend((name, info_word(Kind.DATASEC, len(t.vars), False), t.size))
    for v in t.vars:
        out.extend((v.type, v.offset, v.size))


def _float(t, name, add, out):
    out.extend((name, FLOAT_INFO, t.size))


def _decl_tag(t, name, add, out):
    out.extend((name, info_word(Kind.DECL_TAG, 0, t.attr), t.type,
                t.component_idx & 0xFFFFFFFF))


def _type_tag(t, name, add, out):
    out.extend((name, info_word(Kind.TYPE_TAG, 0, t.attr), t.type))


def _unknown(t, name, add, out):
    """Written back as it was read."""
    out.extend((name, info_word(t.kind, t.vlen, t.kflag), t.size_or_type))
    out.frombytes(t.data)


INT_INFO = info_word(Kind.INT, 0, False)
ARRAY_INFO = info_word(Kind.ARRAY, 0, False)
VAR_INFO = info_word(Kind.VAR, 0, False)
FLOAT_INFO = info_word(Kind.FLOAT, 0, False)
# How each model class is written (one lookup per type, not a chain of tests).
_PUT = {Int: _int, Ptr: _ref, Typedef: _ref, Volatile: _ref, Const: _ref, Restrict: _ref,
        Array: _array, Struct: _members, Union: _members, Enum: _enum, Enum64: _enum64,
        Fwd: _fwd, Func: _func, FuncProto: _func_proto, Var: _var, Datasec: _datasec,
        Float: _float, DeclTag: _decl_tag, TypeTag: _type_tag, Unknown: _unknown}


def _put(t: Type, add, out: array.array) -> None:
    """Append the wire words of one type; `add` interns a name."""
    _PUT[t.__class__](t, add(t.name), add, out)


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
    add = btf.strings.adder()
    put = _PUT
    for t in btf.types:
        put[t.__class__](t, add(t.name), add, words)
    if (btf.endian == "<") != (sys.byteorder == "little"):
        words.byteswap()
    types = words.tobytes()
    lay = b"".join(struct.pack(f"{btf.endian}BBH", *e) for e in layout) if layout else b""
    strings = btf.strings.bytes()
    h = Header(hdr_len, 0, len(types), len(types) + len(lay), len(strings),
               layout_off=len(types) if layout else 0, layout_len=len(lay),
               endian=btf.endian)
    return h.pack() + types + lay + strings
