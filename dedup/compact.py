"""The compact form dedup works on: one `(label, refs)` pair per type.

A *label* is a tuple of everything a type says about itself -- kind, name,
size, member names and offsets, enumerators, linkage, tag component -- and
*refs* is the tuple of the type ids it refers to, in wire order.  Two types
are equal as nodes of the type graph exactly when their labels are equal and
their refs are pairwise equivalent, so the label is also the shallow
signature libbpf hashes (`btf_hash_struct`, `btf_equal_common`, ...), and a
`(label, canonical refs)` pair is an exact hash-consing key.

Labels are plain tuples of ints and strings: they hash fast, compare fast,
pickle small (per-CU workers can build them) and cost far less memory than
the model's dataclasses.  The first item is always the kind number and the
second always the name; the passes rely on both.

VAR and DATASEC are never merged (libbpf does not merge them either: two
variables of one name are two variables), so their labels carry a serial
number that makes each one unique.
"""

from __future__ import annotations

import itertools
from typing import Sequence

from encoder.btf.kinds import FuncLinkage, IntEncoding, Kind, VarLinkage
from encoder.btf.model import (Array, Const, Datasec, DeclTag, Enum, Enum64, EnumValue,
                               Float, Func, FuncProto, Fwd, Int, Member, Param, Ptr,
                               Restrict, Struct, Type, Typedef, TypeTag, Union, Unknown,
                               Var, VarSecinfo, Volatile)
from encoder.errors import BtfError

INT = int(Kind.INT)
PTR = int(Kind.PTR)
ARRAY = int(Kind.ARRAY)
STRUCT = int(Kind.STRUCT)
UNION = int(Kind.UNION)
ENUM = int(Kind.ENUM)
FWD = int(Kind.FWD)
TYPEDEF = int(Kind.TYPEDEF)
VOLATILE = int(Kind.VOLATILE)
CONST = int(Kind.CONST)
RESTRICT = int(Kind.RESTRICT)
FUNC = int(Kind.FUNC)
FUNC_PROTO = int(Kind.FUNC_PROTO)
VAR = int(Kind.VAR)
DATASEC = int(Kind.DATASEC)
FLOAT = int(Kind.FLOAT)
DECL_TAG = int(Kind.DECL_TAG)
TYPE_TAG = int(Kind.TYPE_TAG)
ENUM64 = int(Kind.ENUM64)

VOID_LABEL = (0, "")

Label = tuple
Refs = tuple

# Serial numbers that keep every VAR and DATASEC distinct.
_serial = itertools.count(1)


def is_fwd_label(lab: Label) -> bool:
    """A forward declaration: FWD, or an enum without enumerators."""
    k = lab[0]
    return k == FWD or ((k == ENUM or k == ENUM64) and len(lab) == 4)


def _int(t: Int):
    return (INT, t.name, t.size, t.bits, int(t.encoding), t.offset), ()


def _ptr(t: Ptr):
    return (PTR, t.name), (t.type,)


def _array(t: Array):
    return (ARRAY, t.name, t.nelems), (t.type, t.index_type)


def _members(k: int, t):
    lab = [k, t.name, t.size, bool(t.kflag)]
    for m in t.members:
        lab += (m.name, m.offset, m.bitfield_size)
    return tuple(lab), tuple([m.type for m in t.members])


def _struct(t: Struct):
    return _members(STRUCT, t)


def _union(t: Union):
    return _members(UNION, t)


def _enum_values(k: int, t):
    lab = [k, t.name, t.size, bool(t.signed)]
    for v in t.values:
        lab += (v.name, v.value)
    return tuple(lab), ()


def _enum(t: Enum):
    return _enum_values(ENUM, t)


def _enum64(t: Enum64):
    return _enum_values(ENUM64, t)


def _fwd(t: Fwd):
    return (FWD, t.name, bool(t.union)), ()


def _typedef(t: Typedef):
    return (TYPEDEF, t.name), (t.type,)


def _volatile(t: Volatile):
    return (VOLATILE, t.name), (t.type,)


def _const(t: Const):
    return (CONST, t.name), (t.type,)


def _restrict(t: Restrict):
    return (RESTRICT, t.name), (t.type,)


def _func(t: Func):
    return (FUNC, t.name, int(t.linkage)), (t.type,)


def _func_proto(t: FuncProto):
    return ((FUNC_PROTO, t.name, *[p.name for p in t.params]),
            (t.ret, *[p.type for p in t.params]))


def _var(t: Var):
    return (VAR, t.name, int(t.linkage), next(_serial)), (t.type,)


def _datasec(t: Datasec):
    lab = [DATASEC, t.name, t.size, next(_serial)]
    for v in t.vars:
        lab += (v.offset, v.size)
    return tuple(lab), tuple([v.type for v in t.vars])


def _float(t: Float):
    return (FLOAT, t.name, t.size), ()


def _decl_tag(t: DeclTag):
    return (DECL_TAG, t.name, t.component_idx, bool(t.attr)), (t.type,)


def _type_tag(t: TypeTag):
    return (TYPE_TAG, t.name, bool(t.attr)), (t.type,)


def _unknown(t: Unknown):
    raise BtfError(f"cannot deduplicate a type of unknown kind {t.kind}")


_TO = {Int: _int, Ptr: _ptr, Array: _array, Struct: _struct, Union: _union, Enum: _enum,
       Enum64: _enum64, Fwd: _fwd, Typedef: _typedef, Volatile: _volatile, Const: _const,
       Restrict: _restrict, Func: _func, FuncProto: _func_proto, Var: _var,
       Datasec: _datasec, Float: _float, DeclTag: _decl_tag, TypeTag: _type_tag,
       Unknown: _unknown}


def to_compact(t: Type) -> tuple[Label, Refs]:
    """The `(label, refs)` of one model type."""
    return _TO[type(t)](t)


def compact_unit(types: Sequence[Type]) -> tuple[list[Label], list[Refs]]:
    """Labels and refs of a whole unit, in order (what a worker can ship)."""
    to = _TO
    labels, refs = [], []
    la, ra = labels.append, refs.append
    for t in types:
        lab, ref = to[type(t)](t)
        la(lab)
        ra(ref)
    return labels, refs


def _linkage(cls, v: int):
    try:
        return cls(v)
    except ValueError:
        return v


def from_compact(lab: Label, refs: Refs) -> Type:
    """The model type for a label and its (already final) refs."""
    k = lab[0]
    if k == STRUCT or k == UNION:
        cls = Struct if k == STRUCT else Union
        return cls(lab[1], lab[2], [Member(lab[i], r, lab[i + 1], lab[i + 2])
                                    for i, r in zip(range(4, len(lab), 3), refs)], lab[3])
    if k == PTR:
        return Ptr(refs[0], lab[1])
    if k == FUNC_PROTO:
        return FuncProto(refs[0], [Param(n, r) for n, r in zip(lab[2:], refs[1:])], lab[1])
    if k == CONST:
        return Const(refs[0], lab[1])
    if k == TYPEDEF:
        return Typedef(lab[1], refs[0])
    if k == ARRAY:
        return Array(refs[0], refs[1], lab[2], lab[1])
    if k == INT:
        return Int(lab[1], lab[2], lab[3], IntEncoding(lab[4]), lab[5])
    if k == ENUM or k == ENUM64:
        cls = Enum if k == ENUM else Enum64
        return cls(lab[1], lab[2], [EnumValue(lab[i], lab[i + 1])
                                    for i in range(4, len(lab), 2)], lab[3])
    if k == FWD:
        return Fwd(lab[1], lab[2])
    if k == FUNC:
        return Func(lab[1], refs[0], _linkage(FuncLinkage, lab[2]))
    if k == VOLATILE:
        return Volatile(refs[0], lab[1])
    if k == RESTRICT:
        return Restrict(refs[0], lab[1])
    if k == VAR:
        return Var(lab[1], refs[0], _linkage(VarLinkage, lab[2]))
    if k == DATASEC:
        return Datasec(lab[1], lab[2], [VarSecinfo(r, lab[i], lab[i + 1])
                                        for i, r in zip(range(4, len(lab), 2), refs)])
    if k == FLOAT:
        return Float(lab[1], lab[2])
    if k == DECL_TAG:
        return DeclTag(lab[1], refs[0], lab[2], lab[3])
    if k == TYPE_TAG:
        return TypeTag(lab[1], refs[0], lab[2])
    raise AssertionError(f"no model class for label {lab!r}")
