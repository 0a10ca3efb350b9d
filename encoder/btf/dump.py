"""Print BTF the way `bpftool btf dump file X` does, as text or JSON.

The text form is the de-facto golden format of this field (bpftool's
`format raw`, used by pahole's and libbpf's tests), so we reproduce it byte
for byte, split BTF included (only the split's own types, ids continuing
after the base).  The JSON form has bpftool's `-j` structure.
"""

from __future__ import annotations

import json
from typing import Iterator

from .kinds import FuncLinkage, IntEncoding, Kind, VarLinkage
from .model import Btf, Type

_INT_ENCODING = {0: "(none)", IntEncoding.SIGNED: "SIGNED", IntEncoding.CHAR: "CHAR",
                 IntEncoding.BOOL: "BOOL"}
_FUNC_LINKAGE = {FuncLinkage.STATIC: "static", FuncLinkage.GLOBAL: "global",
                 FuncLinkage.EXTERN: "extern"}
_VAR_LINKAGE = {VarLinkage.STATIC: "static", VarLinkage.GLOBAL_ALLOCATED: "global",
                VarLinkage.GLOBAL_EXTERN: "extern"}


def kind_name(kind: int) -> str:
    return Kind(kind).name if 0 < kind <= Kind.ENUM64 else "UNKNOWN"


def _name(s: str) -> str:
    return s if s else "(anon)"


def _json_enum_value(kind: Kind, signed: bool, value: int) -> int:
    """bpftool -j widens an unsigned ENUM's s32 wire value with its sign."""
    if kind == Kind.ENUM and not signed and value & 0x80000000:
        return value | 0xFFFFFFFF00000000
    return value


def _fields(btf: Btf, t: Type) -> Iterator[tuple[str, object]]:
    """(field, value) pairs after id/kind/name, in bpftool's order.

    Nested lists come out as ("members" | "values" | "params" | "vars", [...]).
    """
    k = t.kind
    if k == Kind.INT:
        yield from (("size", t.size), ("bits_offset", t.offset), ("nr_bits", t.bits),
                    ("encoding", _INT_ENCODING.get(int(t.encoding), "UNKN")))
    elif k in (Kind.PTR, Kind.CONST, Kind.VOLATILE, Kind.RESTRICT, Kind.TYPEDEF,
               Kind.TYPE_TAG):
        yield "type_id", t.type
    elif k == Kind.ARRAY:
        yield from (("type_id", t.type), ("index_type_id", t.index_type),
                    ("nr_elems", t.nelems))
    elif k in (Kind.STRUCT, Kind.UNION):
        yield from (("size", t.size), ("vlen", len(t.members)))
        yield "members", [dict(name=_name(m.name), type_id=m.type, bits_offset=m.offset,
                               **({"bitfield_size": m.bitfield_size} if m.bitfield_size else {}))
                          for m in t.members]
    elif k in (Kind.ENUM, Kind.ENUM64):
        yield from (("encoding", "SIGNED" if t.signed else "UNSIGNED"), ("size", t.size),
                    ("vlen", len(t.values)))
        yield "values", [{"name": _name(v.name), "val": v.value} for v in t.values]

    elif k == Kind.FWD:
        yield "fwd_kind", "union" if t.union else "struct"
    elif k == Kind.FUNC:
        yield from (("type_id", t.type),
                    ("linkage", _FUNC_LINKAGE.get(t.linkage, "(unknown)")))
    elif k == Kind.FUNC_PROTO:
        yield from (("ret_type_id", t.ret), ("vlen", len(t.params)))
        yield "params", [{"name": _name(p.name), "type_id": p.type} for p in t.params]
    elif k == Kind.VAR:
        yield from (("type_id", t.type), ("linkage", _VAR_LINKAGE.get(t.linkage, "(unknown)")))
    elif k == Kind.DATASEC:
        yield from (("size", t.size), ("vlen", len(t.vars)))
        yield "vars", [{"type_id": v.type, "offset": v.offset, "size": v.size} for v in t.vars]
    elif k == Kind.FLOAT:
        yield "size", t.size
    elif k == Kind.DECL_TAG:
        yield from (("type_id", t.type), ("component_idx", t.component_idx))


def _text_line(btf: Btf, type_id: int, t: Type) -> str:
    out = [f"[{type_id}] {kind_name(t.kind)} '{_name(t.name)}'"]
    signed_enum = t.kind in (Kind.ENUM, Kind.ENUM64) and t.signed
    for key, val in _fields(btf, t):
        if key == "members":
            for m in val:
                out.append(f"\n\t'{m['name']}' type_id={m['type_id']} "
                           f"bits_offset={m['bits_offset']}")
                if "bitfield_size" in m:
                    out.append(f" bitfield_size={m['bitfield_size']}")
        elif key == "values":
            suffix = ("LL" if signed_enum else "ULL") if t.kind == Kind.ENUM64 else ""
            out.extend(f"\n\t'{v['name']}' val={v['val']}{suffix}" for v in val)
        elif key == "params":
            out.extend(f"\n\t'{p['name']}' type_id={p['type_id']}" for p in val)
        elif key == "vars":
            for v in val:
                out.append(f"\n\ttype_id={v['type_id']} offset={v['offset']} size={v['size']}")
                if v["type_id"] < btf.type_count:
                    ref = btf[v["type_id"]] if v["type_id"] else None
                    out.append(f" ({kind_name(ref.kind) if ref else 'UNKNOWN'} "
                               f"'{_name(ref.name) if ref else '(anon)'}')")
        elif key == "linkage" and t.kind == Kind.VAR:
            out.append(f", linkage={val}")   # bpftool's own comma
        else:
            out.append(f" {key}={val}")
    return "".join(out)


def dump_text(btf: Btf) -> Iterator[str]:
    """Lines (newline included) equal to `bpftool btf dump file`."""
    for type_id, t in zip(btf.own_ids(), btf.types):
        yield _text_line(btf, type_id, t) + "\n"


def dump_json(btf: Btf) -> str:
    """The document `bpftool -j btf dump file` prints."""
    types = []
    for type_id, t in zip(btf.own_ids(), btf.types):
        d = {"id": type_id, "kind": kind_name(t.kind), "name": _name(t.name)}
        d.update(_fields(btf, t))
        if t.kind in (Kind.ENUM, Kind.ENUM64):
            for v in d["values"]:
                v["val"] = _json_enum_value(t.kind, t.signed, v["val"])
        types.append(d)
    return json.dumps({"types": types}, separators=(",", ":"), ensure_ascii=False) + "\n"
