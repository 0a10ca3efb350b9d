"""Distilled base BTF: what a module's split BTF needs to know of vmlinux.

Split BTF names vmlinux types by id and string offset, so it is only valid
over the exact vmlinux it was made against.  libbpf's `btf__distill_base`
(anchors.md §3.2) cuts the base down to what relocation needs to find each
referenced type again in another vmlinux: its kind, name and size.  These
are libbpf's rules, step for step, so our output is byte-equal to its:

1. Mark every base type the split types refer to, and what those refer to,
   except that a *named* struct or union stops the walk (the distilled copy
   has no members).  Only INT, FLOAT, FWD, ARRAY, STRUCT, UNION, TYPEDEF,
   ENUM, ENUM64, PTR, CONST, RESTRICT, VOLATILE, FUNC_PROTO and TYPE_TAG may
   be referenced; anything else is an error.
2. The distilled base (`.BTF.base`), in base id order: INT, FLOAT and FWD
   as they are; a named struct or union as a memberless one of the same
   size; a named ENUM or ENUM64 as a memberless, unsigned ENUM of its size.
3. The new split (`.BTF`): every split type, then, in base id order, the
   marked anonymous structs, unions and enums and every marked ARRAY,
   TYPEDEF, PTR, CONST, RESTRICT, VOLATILE, FUNC_PROTO and TYPE_TAG, which
   relocation could not find by name.
4. References: to a moved base type, its new id; to a split type, shifted
   down by how many fewer types the distilled base has.

Strings are interned as libbpf's btf__add_str does (first come; a split
reuses a base string), so both string tables match libbpf's byte for byte.
"""

from __future__ import annotations

from ..errors import BtfError
from .kinds import Kind
from .model import Btf, Enum, Struct, Type, Union, type_refs
from .remap import with_refs

# Base kinds split BTF may refer to (btf_add_distilled_type_ids).
REFERABLE = frozenset({Kind.INT, Kind.FLOAT, Kind.FWD, Kind.ARRAY, Kind.STRUCT, Kind.UNION,
                       Kind.TYPEDEF, Kind.ENUM, Kind.ENUM64, Kind.PTR, Kind.CONST,
                       Kind.RESTRICT, Kind.VOLATILE, Kind.FUNC_PROTO, Kind.TYPE_TAG})
_KEPT = (Kind.INT, Kind.FLOAT, Kind.FWD)
_COMPOSITE = (Kind.STRUCT, Kind.UNION)
_ENUMS = (Kind.ENUM, Kind.ENUM64)


def referenced_base_ids(split: Btf) -> list[int]:
    """Base ids the distilled BTF must describe (step 1), ascending."""
    start = split.start_id
    marked: set[int] = set()
    stack: list[int] = []

    def visit(t: Type) -> None:
        for ref in type_refs(t):
            if ref == 0 or ref >= start or ref in marked:
                continue
            bt = split[ref]
            if bt.kind not in REFERABLE:
                raise BtfError(f"unexpected reference to base type[{ref}] of kind "
                               f"[{int(bt.kind)}] when creating distilled base BTF.")
            marked.add(ref)
            if not (bt.kind in _COMPOSITE and bt.name):
                stack.append(ref)

    for t in split.types:
        visit(t)
        while stack:
            visit(split[stack.pop()])
    return sorted(marked)


def distill(split: Btf) -> tuple[Btf, Btf]:
    """(distilled base, new split over it) for a split BTF; see the module doc."""
    if split.base is None:
        raise BtfError("a distilled base can only be made from split BTF (give the base)")
    start = split.start_id
    marked = referenced_base_ids(split)

    base = Btf(endian=split.endian)
    new_id: dict[int, int] = {}
    to_split: list[int] = []
    for old in marked:
        t = split[old]
        k = t.kind
        if k in _KEPT:
            copy = with_refs(t, int)
        elif t.name and k in _COMPOSITE:
            copy = (Struct if k == Kind.STRUCT else Union)(t.name, t.size)
        elif t.name and k in _ENUMS:
            copy = Enum(t.name, t.size)
        else:
            to_split.append(old)
            continue
        base.strings.add(copy.name)
        new_id[old] = base.add(copy)

    shift = start - base.type_count
    for n, old in enumerate(to_split):
        new_id[old] = base.type_count + len(split.types) + n

    def renumber(ref: int) -> int:
        got = new_id.get(ref)
        if got is not None:
            return got
        return ref - shift if ref >= start else ref

    out = Btf(base=base, hdr_len=24, endian=split.endian)
    out.types = [with_refs(t, renumber) for t in split.types]
    out.types += [with_refs(split[old], renumber) for old in to_split]
    return base, out
