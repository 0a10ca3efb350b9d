"""The public face of the pass: `Deduper` (streaming, per unit) and `dedup`."""

from __future__ import annotations

import array
from typing import Sequence

from encoder.btf.model import Btf, Type
from encoder.btf.perbase import PerBase

from .compact import Label, Refs, compact_unit, from_compact
from .engine import BaseIndex, Graph

# finish() alternates settle() and a re-merge until the re-merge changes
# nothing; in practice that is the second round.  The cap only guards
# against a bug turning into an endless loop.
MAX_ROUNDS = 20


def _base_chain(base: Btf) -> list[Type]:
    """All types of `base` (and of its own bases) in id order, from id 1."""
    return [t for level in base.levels() for t in level.types]


# One index per base BTF, shared by every Deduper over it (the encoder
# makes one per module, all over the same vmlinux).
base_index = PerBase("dedup", lambda base: BaseIndex(*compact_unit(_base_chain(base))),
                     save=BaseIndex.state, load=lambda state, base: BaseIndex.from_state(state))


def _intern_names(btf: Btf) -> None:
    """Add every name to the string table in type order (first come, first
    placed), as libbpf's btf__add_* calls would."""
    add = btf.strings.adder()
    for t in btf.types:
        add(t.name)
        for m in getattr(t, "members", ()):
            add(m.name)
        for v in getattr(t, "values", ()):
            add(v.name)
        for p in getattr(t, "params", ()):
            add(p.name)


class UnitMap:
    """One unit's ids (as the unit numbered them) -> final ids: 0 is void,
    ids below the unit's known and own ranges are base ids and stay."""

    __slots__ = ("first", "known_first", "known", "own")

    def __init__(self, first: int, known_first: int, known: array.array, own: array.array):
        self.first = first
        self.known_first = known_first
        self.known = known
        self.own = own

    def __getitem__(self, type_id):
        if type_id.__class__ is slice:
            return [self[i] for i in range(*type_id.indices(len(self)))]
        if type_id >= self.first:
            return self.own[type_id - self.first]
        if self.known and type_id >= self.known_first:
            return self.known[type_id - self.known_first]
        return type_id

    def __len__(self) -> int:
        return self.first + len(self.own)

    def ids(self, type_ids) -> tuple[int, ...]:
        """[self[t] for t in type_ids] as a tuple, in one call."""
        first, own, known_first, known = self.first, self.own, self.known_first, self.known
        return tuple([own[t - first] if t >= first else
                      known[t - known_first] if known and t >= known_first else t
                      for t in type_ids])

    def tobytes(self) -> bytes:
        """The map's content (for hashing a run's result)."""
        return self.first.to_bytes(8, "little") + self.known.tobytes() + self.own.tobytes()


class Deduper:
    """Deduplicate BTF types one compilation unit at a time.

    Each `add_unit` merges the unit into a store of canonical types right
    away, so only the store and one compact id map per unit outlive the
    call; `finish` settles what only the whole input can decide and returns
    the deduplicated BTF with every unit's map.
    """

    def __init__(self, base: Btf | None = None, *, jobs: int = 1):
        if jobs < 1:
            raise ValueError("jobs must be at least 1")
        # `jobs` is accepted for the encoder's sake: merging is sequential
        # by nature (first occurrence decides), so the output is the same
        # for every value.
        self.jobs = jobs
        self.base = base
        self.first_local = base.type_count if base is not None else 1
        self._graph = Graph(base_index(base) if base is not None else None)
        self._maps: list[tuple] = []       # per unit: (first, known_first, known, store ids)
        self._finished = False

    def add_unit(self, types: Sequence[Type], *, first: int | None = None,
                 known: Sequence[int] = (), known_first: int = 0) -> int:
        """Add one compilation unit's types; returns the unit's handle (0, 1, ...).

        References inside a unit: 0 = void; 1 <= r < first_local refer to base
        types (only with a base); r >= first_local is the unit's own type
        (r - first_local), where first_local = base.type_count if base else 1 --
        i.e. a unit is numbered exactly like a split BTF over the base.

        A caller that recognises types it has handed over before may number
        the unit's own types from `first` instead and refer to those earlier
        types as known_first + k, with `known[k]` the store id `unit_map`
        gave for them."""
        labels, refs = compact_unit(types)
        return self.add_compact(labels, refs, first=first, known=known,
                                known_first=known_first)

    def add_compact(self, labels: Sequence[Label], refs: Sequence[Refs], *,
                    first: int | None = None, known: Sequence[int] = (),
                    known_first: int = 0) -> int:
        """`add_unit` for a unit already in compact form (`compact_unit`), so
        that per-CU workers can build it and ship small tuples."""
        if self._finished:
            raise RuntimeError("Deduper.finish() was already called")
        handle = len(self._maps)
        first = self.first_local if first is None else first
        m = self._graph.merge(labels, refs, first, what=f"unit {handle}", known=known,
                              known_first=known_first)
        self._maps.append((first, known_first, array.array("I", known), m))
        return handle

    def store_map(self, handle: int) -> tuple[int, array.array, int, array.array]:
        """(first, own, known_first, known) of unit `handle`, for a caller
        that remembers what it handed over: the store id (final only after
        `finish`) of the unit's type t is own[t - first] for t >= first,
        known[t - known_first] for a known type, else t itself."""
        first, known_first, known, m = self._maps[handle]
        return first, m, known_first, known

    @property
    def store_size(self) -> int:
        """How many canonical types the store holds now (for progress/stats)."""
        return self._graph.store_len

    def finish(self) -> tuple[Btf, list[UnitMap]]:
        """The deduplicated BTF (split over the base when there is one: base
        types are never rewritten or reordered; unit types equivalent to a
        base type map onto it) and, per unit, the map local id -> final id
        (index 0 -> 0, base ids map to themselves)."""
        if self._finished:
            raise RuntimeError("Deduper.finish() was already called")
        self._finished = True
        g = self._graph
        bend = g.base_end
        final = g.settle()
        # of the base, only declarations are ever mapped elsewhere
        decls = g.base.declarations
        for _ in range(MAX_ROUNDS):
            labels, refs = g.lab[bend:], g.ref[bend:]
            base_map = [g.map[b] for b in decls]
            g.reset_store()
            m = g.merge(labels, refs, bend, what="store")
            if ([g.map[b] for b in decls] == base_map and len(m) == len(labels)
                    and all(x == bend + j for j, x in enumerate(m))):
                break
            step = g.base.identity() + list(m)
            final = [step[x] for x in final]
            step = g.settle()
            final = [step[x] for x in final]
        else:  # pragma: no cover - a bug guard
            raise RuntimeError("dedup did not reach a fixpoint")

        types = [from_compact(lb, rf) for lb, rf in zip(g.lab[bend:], g.ref[bend:])]
        out = Btf(types, base=self.base)
        _intern_names(out)
        maps = []
        for first, known_first, known, m in self._maps:
            maps.append(UnitMap(first, known_first, array.array("I", [final[x] for x in known]),
                                array.array("I", [final[x] for x in m])))
        self._maps = []
        g.base.give_back(g.lab, g.ref, g.map)
        self._graph = None
        return out, maps


def dedup(btf: Btf) -> tuple[Btf, UnitMap]:
    """The whole BTF (its own types, over btf.base if any) as one unit: what
    `dwarf2btf dedup IN -o OUT [--base BASE]` runs."""
    d = Deduper(btf.base)
    d.add_unit(btf.types)
    out, maps = d.finish()
    out.hdr_len = btf.hdr_len
    out.layout = btf.layout
    out.endian = btf.endian
    return out, maps[0]
