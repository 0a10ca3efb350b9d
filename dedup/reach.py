"""Which of a unit's types reach a declaration.

A type whose graph reaches a declaration (a FWD, an enum without
enumerators) can dedup differently from module to module: the declaration
resolves by what else has its name.  encoder/learned.py remembers only the
types that reach none, and asks this of every unit of a batch.

The unit is in `Deduper.add_compact`'s terms: its types are ids `first`,
`first + 1`, ...; an id from `known_first` up to `first` is a type an
earlier unit already gave (`known_dirty` says whether it reaches a
declaration); a smaller one is a base type (`base_dirty[b]` is 1 where base
type b does; an id past its end does not: a byte per base type, which the
base cache keeps as it is, where a set of 95 k ints took 2.4 ms to unpack).
`_cdedup.reach_declarations` is the same function, compiled.
"""

from __future__ import annotations

from .compact import Label, Refs, is_fwd_label

try:
    from . import _cdedup
except ImportError:          # pragma: no cover - no C compiler at install time
    _cdedup = None


def reach_declarations_py(labels: list[Label], refs: list[Refs], first: int,
                          known_first: int, known_dirty: bytes,
                          base_dirty: bytes) -> bytearray:
    """1 for each unit type that reaches a declaration or a dirty id, else 0."""
    n = len(labels)
    if len(refs) != n:
        raise ValueError("labels and refs differ in length")
    dirty = bytearray(is_fwd_label(lb) for lb in labels)
    back: list[list[int]] = [[] for _ in range(n)]
    for i, rs in enumerate(refs):
        for r in rs:
            if r >= first:
                if r - first >= n:
                    raise IndexError(f"dedup: type id {r} out of range")
                back[r - first].append(i)
            elif r >= known_first:
                if r - known_first >= len(known_dirty):
                    raise IndexError(f"dedup: type id {r} out of range")
                dirty[i] |= known_dirty[r - known_first]
            elif r < 0:
                raise IndexError(f"dedup: type id {r} out of range")
            elif r < len(base_dirty) and base_dirty[r]:
                dirty[i] = 1
    work = [i for i in range(n) if dirty[i]]
    while work:
        for i in back[work.pop()]:
            if not dirty[i]:
                dirty[i] = 1
                work.append(i)
    return dirty


reach_declarations = reach_declarations_py if _cdedup is None else _cdedup.reach_declarations
