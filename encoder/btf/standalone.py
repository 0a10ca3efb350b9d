"""Standalone module BTF: a split BTF made self-contained.

Split module BTF names vmlinux types by id and string offset, so it means
something only next to the exact vmlinux it was made against; that is why a
module built for one kernel fails "to validate module BTF" on another
(seeds/001, anchors.md §3.4).  Standalone BTF carries its own copy of every
base type the module reaches, directly or through other base types, and
nothing else of the base: ids start at 1 (the copied base types first, in
base id order, then the module's), the string table is its own, and no id
or offset points outside.  It is ordinary base BTF, so BPF_BTF_LOAD takes
it as it is and any BTF tool reads it without vmlinux.

The copy is then deduplicated as a whole: a module's declaration of a type
the base defines (a FWD) becomes the definition, as it would in vmlinux.
"""

from __future__ import annotations

from .model import Btf, type_refs
from .remap import with_refs


def reached_base_ids(split: Btf) -> list[int]:
    """Every base id the split types reach, through base types too, ascending."""
    start = split.start_id
    seen: set[int] = set()
    stack = [r for t in split.types for r in type_refs(t) if 0 < r < start]
    while stack:
        ref = stack.pop()
        if ref in seen:
            continue
        seen.add(ref)
        stack.extend(r for r in type_refs(split[ref]) if 0 < r < start and r not in seen)
    return sorted(seen)


def standalone(split: Btf, *, dedup: bool = True) -> Btf:
    """The self-contained BTF for `split` (BTF without a base comes back as
    a copy); `dedup=False` leaves out the final deduplication."""
    start = split.start_id
    copied = reached_base_ids(split)
    new_id = {old: n for n, old in enumerate(copied, 1)}
    shift = start - 1 - len(copied)

    def renumber(ref: int) -> int:
        return ref - shift if ref >= start else new_id.get(ref, ref)

    types = [with_refs(split[old], renumber) for old in copied]
    types += [with_refs(t, renumber) for t in split.types]
    out = Btf(types, endian=split.endian)
    if dedup:
        from dedup import dedup as run_dedup
        out, _ = run_dedup(out)
    return out
