"""Relocation: move split BTF from its distilled base onto a real vmlinux BTF.

This is what the kernel does when it loads a module that carries
`.BTF.base` (btf_relocate.c, shared by the kernel and libbpf's
`btf__relocate`; anchors.md §3.3), with the same rules and the same
messages, so `dwarf2btf relocate` tells before a boot whether a module's
BTF will be accepted by another kernel:

- The distilled base may hold only named INT, FLOAT, ENUM, STRUCT, UNION
  and FWD types.
- Each base type is matched to distilled types of its name: INT, FLOAT,
  ENUM and ENUM64 by size too (an INT also by encoding; a distilled ENUM
  stands for either enum kind); a FWD by its struct/union flag; a struct or
  union by size when the base has several of its name, or when a split
  struct or union embeds it by value (through typedefs, modifiers, type
  tags and arrays, not pointers).  A distilled type matched twice, or
  never, makes the module unloadable.
- Split ids move up by the difference in type counts; a string of the
  distilled base becomes the matched base type's name; split strings move
  up by the difference in string section lengths.

Strings are compared and counted by value: the same as libbpf's offsets
for every BTF whose string table holds each string once (libbpf's and
pahole's output always does).
"""

from __future__ import annotations

import weakref
from collections import Counter

from ..errors import BtfError
from .kinds import Kind
from .model import Btf, Type
from .remap import with_refs
from .strings import StringTable, encode_name

_ALLOWED = frozenset({Kind.INT, Kind.FLOAT, Kind.ENUM, Kind.STRUCT, Kind.UNION, Kind.FWD})
_COMPOSITE = (Kind.STRUCT, Kind.UNION)
_SEE_THROUGH = frozenset({Kind.CONST, Kind.RESTRICT, Kind.VOLATILE, Kind.TYPEDEF,
                          Kind.TYPE_TAG})
_SIZED = frozenset({Kind.INT, Kind.FLOAT, Kind.ENUM, Kind.ENUM64})


class RelocationError(BtfError):
    """The module's BTF cannot sit on this base: the kernel refuses the module
    ("failed to validate module [name] BTF: -22")."""


def _size(t: Type) -> int:
    """The wire's size field as btf_relocate reads it (0 for FWD)."""
    return getattr(t, "size", 0)


class _OwnFirst(StringTable):
    """A relocated split's strings: its own table kept byte for byte (moved
    after the new base's), base strings for what came from the distilled
    base, as btf_relocate rewrites offsets in place."""

    def find(self, name: str) -> int | None:
        off = self._own_index().get(name)
        return off if off is not None else super().find(name)


def validate_distilled_base(dist: Btf) -> None:
    for type_id, t in zip(dist.own_ids(), dist.types):
        if t.kind not in _ALLOWED:
            raise RelocationError(f"type [{type_id}] in distilled based BTF has unexpected "
                                  f"kind [{int(t.kind)}]")
        if not t.name:
            raise RelocationError(f"type [{type_id}], kind [{int(t.kind)}] is invalid for "
                                  f"distilled base BTF; it is anonymous")


def _embedded(split: Btf, n_dist: int) -> set[int]:
    """Distilled struct/union ids some split struct or union holds by value."""
    out: set[int] = set()
    for t in split.types:
        if t.kind not in _COMPOSITE:
            continue
        for m in t.members:
            ref = m.type
            for _ in range(1 << 16):       # a cycle is invalid BTF; do not hang on it
                if not ref:
                    break
                r = split[ref]
                if r.kind in _SEE_THROUGH or r.kind == Kind.ARRAY:
                    ref = r.type
                    continue
                if r.kind in _COMPOSITE and ref < n_dist:
                    out.add(ref)
                break
    return out


def _compatible(dist_t: Type, base_t: Type, embedded: bool) -> bool:
    dk, bk = dist_t.kind, base_t.kind
    if dk == Kind.FWD:
        if bk == Kind.FWD:
            return dist_t.union == base_t.union
        # btf_relocate.c reads the struct's or union's own kind_flag (its
        # bitfield flag) here, not the FWD's: a FWD matches a struct without
        # bitfield offsets, or a union with them.
        return (bk == Kind.STRUCT and not base_t.kflag) or (bk == Kind.UNION and base_t.kflag)
    if dk == Kind.INT:
        return bk == Kind.INT and base_t.encoding == dist_t.encoding
    if dk == Kind.FLOAT:
        return bk == Kind.FLOAT
    if dk == Kind.ENUM:
        return bk in (Kind.ENUM, Kind.ENUM64)
    if dk in _COMPOSITE:
        return not embedded or _size(base_t) == dist_t.size
    return False


# Per base BTF (a vmlinux is the base of many modules): its matchable named
# types by name, and how many structs and unions share each name.
_INDEX: "weakref.WeakKeyDictionary[Btf, tuple[int, dict[str, list[int]], Counter]]" = \
    weakref.WeakKeyDictionary()


def _base_index(base: Btf) -> tuple[dict[str, list[int]], Counter]:
    got = _INDEX.get(base)
    if got is None or got[0] != base.type_count:
        by_name: dict[str, list[int]] = {}
        composites: Counter = Counter()
        for base_id in range(1, base.type_count):
            t = base[base_id]
            if t.name and (t.kind in _SIZED or t.kind == Kind.FWD or t.kind in _COMPOSITE):
                by_name.setdefault(t.name, []).append(base_id)
                if t.kind in _COMPOSITE:
                    composites[t.name] += 1
        got = _INDEX[base] = (base.type_count, by_name, composites)
    return got[1], got[2]


def map_distilled_base(split: Btf, dist: Btf, base: Btf) -> dict[int, int]:
    """{distilled id: base id} for every distilled type, or RelocationError.

    The kernel walks every base id in order and looks each up among the
    distilled types; walking, in the same order, only the base ids whose
    name some distilled type has gives the same result and the same first
    error.
    """
    validate_distilled_base(dist)
    n_dist = dist.type_count
    embedded = _embedded(split, n_dist)
    # Distilled types by name; within a name by size, largest first (the
    # kernel's sort order, which decides which clash is reported first).
    by_name: dict[str, list[int]] = {}
    for type_id in sorted(dist.own_ids(), key=lambda i: (encode_name(dist[i].name),
                                                         -_size(dist[i]), i)):
        by_name.setdefault(dist[type_id].name, []).append(type_id)
    base_by_name, composites = _base_index(base)

    found: dict[int, int] = {}
    for base_id in sorted(i for name in by_name for i in base_by_name.get(name, ())):
        base_t = base[base_id]
        bk = base_t.kind
        if bk in _SIZED:
            need_size = True
        elif bk == Kind.FWD:
            need_size = False
        else:
            need_size = composites[base_t.name] > 1
        for dist_id in by_name[base_t.name]:
            dist_t = dist[dist_id]
            if need_size and _size(dist_t) != _size(base_t):
                continue
            # Embedding asks for the size only until the type is matched.
            if not _compatible(dist_t, base_t, dist_id in embedded and dist_id not in found):
                continue
            if dist_id in found:
                raise RelocationError(
                    f"distilled base BTF type '{base_t.name}' [{dist_id}], size "
                    f"{_size(base_t)} has multiple candidates of the same size (ids "
                    f"[{base_id}, {found[dist_id]}]) in base BTF")
            found[dist_id] = base_id
    for dist_id in dist.own_ids():
        if dist_id not in found:
            raise RelocationError(f"distilled base BTF type '{dist[dist_id].name}' [{dist_id}] "
                                  f"is not mapped to base BTF id")
    return found


def relocation_map(split: Btf, distilled_base: Btf, new_base: Btf) -> list[int]:
    """Old id -> new id for every id of `split` (the kernel's base_id_map)."""
    if split.start_id != distilled_base.type_count:
        raise BtfError(f"split BTF starts at id {split.start_id}, but the distilled base "
                       f"has {distilled_base.type_count} ids")
    found = map_distilled_base(split, distilled_base, new_base)
    n_dist = distilled_base.type_count
    shift = new_base.type_count - n_dist
    return ([0] + [found[i] for i in range(1, n_dist)]
            + [i + shift for i in range(n_dist, split.type_count)])


def _check_strings(split: Btf, dist: Btf) -> None:
    """Every name split types take from the distilled base must be a type's
    name there (only those are mapped to the base)."""
    names = {t.name for t in dist.types}
    own = split.strings._own_index()
    for type_id, t in zip(split.own_ids(), split.types):
        for s in _names(t):
            off = dist.strings.find(s) if s and s not in own and s not in names else None
            if off is not None:
                raise RelocationError(f"string '' [offset {off}] is not mapped to base BTF "
                                      f"(it is '{s}', used by type [{type_id}])")


def _names(t: Type):
    yield t.name
    for seq in ("members", "values", "params"):
        for x in getattr(t, seq, ()):
            yield x.name


def relocate(split: Btf, distilled_base: Btf, new_base: Btf) -> Btf:
    """`split` (over `distilled_base`) rewritten to sit on `new_base`.

    Raises RelocationError with the kernel's message when the kernel would
    refuse the module.
    """
    id_map = relocation_map(split, distilled_base, new_base)
    last = len(id_map)

    def renumber(ref: int) -> int:
        if ref >= last:
            raise BtfError(f"type id {ref} is past the end of the split BTF ({last - 1})")
        return id_map[ref]

    types = [with_refs(t, renumber) for t in split.types]
    _check_strings(split, distilled_base)
    strings = _OwnFirst(split.strings.bytes(), base=new_base.strings)
    return Btf(types, strings=strings, base=new_base, hdr_len=split.hdr_len,
               layout=split.layout, endian=split.endian)
