"""Copy a type with every type id it refers to rewritten.

Renumbering is what the module transforms (standalone, distill, relocate)
do to every type they move between BTFs; the ids a type holds are exactly
those `model.type_refs` yields, in the same order.
"""

from __future__ import annotations

from typing import Callable

from ..errors import BtfError
from ..record import replace
from .kinds import Kind
from .model import REF_KINDS, Member, Param, Type, Unknown, VarSecinfo


def with_refs(t: Type, f: Callable[[int], int]) -> Type:
    """A copy of `t` whose every type reference r is f(r)."""
    if isinstance(t, Unknown):
        raise BtfError(f"kind {t.kind} is unknown: its type references cannot be rewritten")
    k = t.kind
    if k in REF_KINDS:
        return replace(t, type=f(t.type))
    if k == Kind.ARRAY:
        return replace(t, type=f(t.type), index_type=f(t.index_type))
    if k in (Kind.STRUCT, Kind.UNION):
        return replace(t, members=[Member(m.name, f(m.type), m.offset, m.bitfield_size)
                                   for m in t.members])
    if k == Kind.FUNC_PROTO:
        return replace(t, ret=f(t.ret), params=[Param(p.name, f(p.type)) for p in t.params])
    if k == Kind.DATASEC:
        return replace(t, vars=[VarSecinfo(f(v.type), v.offset, v.size) for v in t.vars])
    return replace(t)
