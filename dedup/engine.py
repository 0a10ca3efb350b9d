"""The passes: merging one unit into the store, and settling the store.

See the package docstring for the why; this module is the how.  Everything
lives in one id space, like libbpf's split BTF: 0 is void, then the base
types (never changed), then the store's canonical types, and, while a unit
is being merged, that unit's types after them.  Three parallel lists hold
each type's label, refs and `map` entry (its canonical id: itself when
canonical, another id when merged, UNSET while not yet decided).
"""

from __future__ import annotations

import array
from typing import Sequence

from encoder.errors import BtfError

from .compact import (ARRAY, CONST, DATASEC, DECL_TAG, ENUM, ENUM64, FLOAT, FUNC,
                      FUNC_PROTO, FWD, INT, PTR, RESTRICT, STRUCT, TYPE_TAG, TYPEDEF,
                      UNION, VAR, VOID_LABEL, VOLATILE, Label, Refs, is_fwd_label)
from encoder.frozen import FrozenList, FrozenTable, Overlay, frozen, layered
from .minimize import Partition, sccs

try:        # the same walks compiled (setup.py builds it when it can)
    from . import _cdedup
except ImportError:     # pragma: no cover - a machine without a C compiler
    _cdedup = None

UNSET = -1
BUSY = -2

PRIM_KINDS = frozenset({INT, FLOAT, FWD, ENUM, ENUM64})
GRAPH_KINDS = frozenset({STRUCT, UNION, TYPEDEF})
REF_KINDS = frozenset({PTR, ARRAY, VOLATILE, CONST, RESTRICT, FUNC, FUNC_PROTO,
                       DECL_TAG, TYPE_TAG})
NEVER_KINDS = frozenset({VAR, DATASEC})
ENUM_KINDS = frozenset({ENUM, ENUM64})
AGGREGATES = frozenset({STRUCT, UNION})
FWDISH = frozenset({FWD, ENUM, ENUM64})          # kinds that can be forward declarations
MERGE_KINDS = frozenset({STRUCT, UNION, FWD, ENUM, ENUM64})
BUCKET_SPLIT = 8
SHAPE_DEPTH = 2


def _declares(fwd: Label, lab: Label) -> bool:
    """Is `fwd` (a FWD or enum forward declaration) a declaration of `lab`?"""
    if fwd[1] != lab[1]:
        return False
    if fwd[0] == FWD:
        return lab[0] == (UNION if fwd[2] else STRUCT)
    return lab[0] in ENUM_KINDS and len(lab) > 4


class BaseIndex:
    """What dedup needs to know about a base BTF, computed once per base and
    shared by every `Graph` over it (the encoder builds one per module, all
    over the same vmlinux): its compact types, its candidate tables, and,
    when first needed, its bisimulation classes and what they say about
    names."""

    def __init__(self, labels: Sequence[Label] = (), refs: Sequence[Refs] = ()):
        self.lab: list = [VOID_LABEL, *labels]
        self.ref: list = [(), *refs]
        self.end = len(self.lab)
        self.prim_table: dict = {}
        self.graph_table: dict = {}
        self.ref_table: dict = {}
        lab, ref = self.lab, self.ref
        for b in range(1, self.end):
            lb = lab[b]
            k = lb[0]
            if k in PRIM_KINDS:
                self.prim_table.setdefault(lb, b)
            elif k in GRAPH_KINDS:
                self.graph_table.setdefault(lb, []).append(b)
            elif k in REF_KINDS:
                self.ref_table.setdefault((lb, ref[b]), b)
        self.declarations = [b for b in range(1, self.end) if is_fwd_label(lab[b])]
        self._records: FrozenList | None = None     # set when lab/ref are unpacked lazily
        self._partition: Partition | None = None
        self._candidates: dict | None = None    # Graph's graph_table over this base
        self.aggregates: dict = {}      # (kind, name) -> (class, first id) or None: ambiguous
        self.enums: dict = {}           # name -> first full enum

    def state(self) -> tuple:
        """Everything this index ever computes, as plain data (for a cache
        that keeps it between runs; `from_state` is the inverse)."""
        p = self.partition()
        if self._candidates is None:
            Graph(self)                     # builds the shared candidate buckets
        # The types and the big tables stay bytes until asked for: a small
        # module reads a few thousand entries of 95 k (encoder/frozen.py).
        records = self._records.blob if self._records is not None else \
            FrozenList.pack(zip(self.lab, self.ref))
        return (records, frozen(self.prim_table), frozen(self.ref_table), self.declarations,
                frozen(self._candidates), p.cls, frozen(p.keys), frozen(p.cycles), p.n,
                frozen(self.aggregates), frozen(self.enums), frozen(self.class_first),
                self.canon.tobytes())

    @classmethod
    def from_state(cls, state: tuple) -> "BaseIndex":
        """The index `state()` described, its types unpacked on demand: `lab`
        and `ref` hold None for a type not unpacked yet (`unpack`)."""
        index = cls.__new__(cls)
        p = index._partition = Partition()
        (records, prim_table, ref_table, index.declarations, candidates, p.cls, keys,
         cycles, p.n, aggregates, enums, class_first, canon) = state
        index.canon = array.array("I")
        index.canon.frombytes(canon)
        # Overlays nobody adds to: their lookups run in C (_cfrozen.c), and a
        # module makes tens of thousands.
        (index.prim_table, index.ref_table, index._candidates, p.keys, p.cycles,
         index.aggregates, index.enums, index.class_first) = (
            Overlay(FrozenTable(t)) for t in (prim_table, ref_table, candidates, keys, cycles,
                                              aggregates, enums, class_first))
        index._records = FrozenList(records)
        index.end = len(index._records)
        index.lab = [None] * index.end
        index.ref = [None] * index.end
        for b in (0, *index.declarations):
            index.unpack(b)
        index.graph_table = {}              # only ever read to build _candidates
        return index

    def identity(self) -> list[int]:
        """[0, 1, ..., end - 1], made once (a copy is a tenth of the cost of
        making the ints)."""
        ids = getattr(self, "_identity", None)
        if ids is None:
            ids = self._identity = list(range(self.end))
        return ids

    def lists(self) -> tuple[list, list, list]:
        """A new store's lab, ref and map, the base's ids first: those a
        finished store gave back (`give_back`) cut to the base, else copies.
        Copying and freeing three lists of the base's size cost more than a
        small module's whole merge."""
        spare = getattr(self, "_spare", None)
        if spare is None:
            return self.lab.copy(), self.ref.copy(), self.identity().copy()
        self._spare = None
        lab, ref, mp = spare
        del lab[self.end:], ref[self.end:], mp[self.end:]
        for b in self.declarations:     # the only base ids a store maps elsewhere
            mp[b] = b
        return lab, ref, mp

    def scratch(self) -> tuple[list, list, list]:
        """The base's labels, refs and classes as lists for `settle` to
        append a store's nodes to: made once, cut back to the base at each
        call (settle used to copy and free five lists of the base's size
        per module).  One settle at a time uses them."""
        lists = getattr(self, "_scratch", None)
        if lists is None:
            lists = self._scratch = (self.lab.copy(), self.ref.copy(),
                                     self.partition().cls.copy())
        for x in lists:
            del x[self.end:]
        return lists

    def give_back(self, lab: list, ref: list, mp: list) -> None:
        """A finished store's lists, for the next store over this base (its
        base part says only what the base says: a label or refs unpacked
        or not, and declarations mapped elsewhere, which `lists` undoes)."""
        self._spare = (lab, ref, mp)

    def unpack(self, b: int) -> Label:
        """Base type b's label (and refs), unpacked into `lab` and `ref`."""
        self.lab[b], self.ref[b] = self._records[b]
        return self.lab[b]

    def unpack_all(self) -> None:
        """Every type (for a walk over the whole base)."""
        if self._records is not None:
            for b in range(self.end):
                if self.lab[b] is None:
                    self.unpack(b)

    def partition(self) -> Partition:
        """The base's classes (base references as they are)."""
        if self._partition is None:
            p = Partition()
            cls = p.extend(self.lab, self.ref)
            for b in range(1, self.end):
                _note_definition(self.aggregates, self.enums, self.lab[b], cls[b], b)
            first = self.class_first = {}
            # an array: the base cache keeps its bytes, which a run copies in
            # one piece instead of making 95 k ints
            self.canon = array.array("I", [first.setdefault(c, b) for b, c in enumerate(cls)])
            self._partition = p
        return self._partition


def _note_definition(aggregates: dict, enums: dict, lg: Label, c: int, node: int) -> None:
    """Count one struct/union/enum class under its name (for FWD resolution)."""
    k = lg[0]
    if k in AGGREGATES:
        key = (k, lg[1])
        seen = aggregates.get(key, False)
        if seen is False:
            aggregates[key] = (c, node)
        elif seen is not None and seen[0] != c:
            aggregates[key] = None
    elif k in ENUM_KINDS and len(lg) > 4:
        enums.setdefault(lg[1], node)


class Graph:
    """The store: canonical types over an immutable base, and the tables that
    find a candidate for a new type."""

    def __init__(self, base: BaseIndex | None = None):
        self.base = base if base is not None else BaseIndex()
        self.lab, self.ref, self.map = self.base.lists()
        self.base_end = self.base.end
        self._tables()
        # state of the unit being merged
        self._unit: tuple[int, int] | None = None
        self._touched: list[int] = []      # ids before the unit whose map changed
        self._new_prim: list = []          # table keys added by the unit
        self._new_graph: list = []
        self._new_refs: list = []
        self._same: dict = {}              # memo of _identical()
        self._cyclic: set[int] = set()     # unit types on loops of reference kinds
        # Base declarations a walk resolved since the store was last reset:
        # from then on they stand for what they met on the canonical side of
        # later walks too (libbpf's map[], which its walks follow).
        self._live: set[int] = set()

    # -- tables ------------------------------------------------------------

    def _tables(self) -> None:
        """Start from the base's tables: its types are candidates, first
        occurrence wins.  Tables:

        prim_table:  label -> id, for INT, FLOAT, enums and declarations;
        graph_table: label -> candidates (see _add_candidate), for STRUCT,
                     UNION and TYPEDEF;
        ref_table:   (label, canonical refs) -> id, for the reference kinds.

        The base's candidate buckets are built once per base (BaseIndex) and
        shared; `graph_table` holds only the buckets this store changed (a
        base bucket is copied on its first change), so a batch over many
        modules pays for the base's once."""
        base = self.base
        self.prim_table = layered(base.prim_table)
        self.ref_table = layered(base.ref_table)
        if base._candidates is None:
            self.graph_table = self.base_buckets = {}
            for lb, ids in base.graph_table.items():
                for b in ids:
                    self._add_candidate(b, lb)
            base._candidates = self.graph_table
        self.base_buckets = base._candidates
        self.graph_table = {}

    def reset_store(self) -> None:
        """Forget the store (keep the base and its FWD resolutions)."""
        b = self.base_end
        del self.lab[b:]
        del self.ref[b:]
        del self.map[b:]
        self._live = set()
        self._tables()

    @property
    def store_len(self) -> int:
        return len(self.lab) - self.base_end

    # -- helpers -----------------------------------------------------------

    def _unpack(self, b: int) -> Label:
        """Base type b's label, its refs with it: a base adopted from the
        cache (BaseIndex.from_state) leaves None until a walk reaches one.
        Wherever a walk may meet a base type, `lab[x] or unpack(x)` (a
        label is never empty); its refs are read after its label."""
        base = self.base
        lb = base.lab[b] or base.unpack(b)
        self.lab[b] = lb
        self.ref[b] = base.ref[b]
        return lb

    def resolve(self, x: int) -> int:
        mp = self.map
        m = mp[x]
        while m >= 0 and m != x:
            x = m
            m = mp[x]
        return x

    # -- merging one unit --------------------------------------------------

    def merge(self, labels: Sequence[Label], refs: Sequence[Refs], first_local: int,
              what: str = "unit", known: Sequence[int] = (),
              known_first: int = 0) -> array.array:
        """Merge one unit (numbered like a split BTF: its own types start at
        `first_local`); returns each unit type's store id.

        A reference r with known_first <= r < known_first + len(known) stands
        for the store's type known[r - known_first]: a type an earlier unit
        described identically, which the caller did not convert again."""
        n = len(labels)
        if len(refs) != n:
            raise ValueError("labels and refs differ in length")
        lab, ref, mp = self.lab, self.ref, self.map
        g0 = len(lab)
        shift = g0 - first_local
        limit = first_local + n
        kend = known_first + len(known)
        if known and kend > first_local:
            raise ValueError("known references overlap the unit's ids")
        try:
            shifted = (self._shift if _cdedup is None else _cdedup.shift)(
                refs, first_local, limit, shift, known, known_first)
        except IndexError as e:
            j = int(e.args[0])
            bad = next(r for r in refs[j] if r < 0 or r >= limit or
                       (known and kend <= r < first_local))
            raise BtfError(f"{what}: type [{first_local + j}] refers to type "
                           f"[{bad}], which does not exist") from None
        lab.extend(labels)
        ref.extend(shifted)
        mp.extend([UNSET] * n)
        end = g0 + n
        self._unit = (g0, end)
        self._prim_pass(g0, end)
        self._unit_declarations(g0, end)
        self._graph_pass(range(g0, end))
        self._prim_pass(g0, end, declarations=True)
        self._ref_pass(g0, end)
        return self._compact(g0, end)

    @staticmethod
    def _shift(refs, first_local: int, limit: int, shift: int, known, known_first: int) -> list:
        """`_cdedup.shift`: each unit type's refs in store ids (a unit id
        moved by `shift`, a known one looked up, a base id as it is), or
        IndexError(j) at the first type j that refers out of range."""
        shifted = []
        for j, rr in enumerate(refs):
            if rr:
                try:
                    if min(rr) < 0 or max(rr) >= limit:
                        raise IndexError
                    if known:
                        # between the known ids and the unit's: known[] says no
                        rr = tuple([r + shift if r >= first_local else
                                    known[r - known_first] if r >= known_first else r
                                    for r in rr])
                    else:
                        rr = tuple([r + shift if r >= first_local else r for r in rr])
                except IndexError:
                    raise IndexError(j) from None
            shifted.append(rr)
        return shifted

    def _prim_pass(self, g0: int, end: int, declarations: bool = False) -> None:
        """INT, FLOAT, full enums (and, with `declarations`, what is left of
        FWDs and enum forward declarations): nothing to follow, an exact
        label lookup decides.

        A declaration is first left alone: within its unit (one C
        compilation unit: one `struct foo` per name) it stands for whatever
        definition it meets in a matching struct during the graph pass.
        Only those that met none are interned afterwards, one node per
        label for the whole store (libbpf's prim pass does that first)."""
        lab, mp, prim = self.lab, self.map, self.prim_table
        new = self._new_prim
        for g in range(g0, end):
            lg = lab[g]
            k = lg[0]
            if k not in PRIM_KINDS or mp[g] != UNSET:
                continue
            if (k == FWD or (k in ENUM_KINDS and len(lg) == 4)) != declarations:
                continue
            c = prim.get(lg)
            if c is None:
                prim[lg] = g
                new.append(lg)
                mp[g] = g
            else:
                mp[g] = c

    def _unit_declarations(self, g0: int, end: int) -> None:
        """One compilation unit has one `struct foo`: its declarations of one
        name (and kind) become one node, still undecided."""
        lab, mp = self.lab, self.map
        first: dict = {}
        for g in range(g0, end):
            lg = lab[g]
            k = lg[0]
            if k == FWD or (k in ENUM_KINDS and len(lg) == 4):
                rep = first.setdefault(lg, g)
                if rep != g:
                    mp[g] = rep

    def _graph_pass(self, ids) -> None:
        """STRUCT, UNION, TYPEDEF (and types on a cycle of reference kinds):
        candidates share the label (libbpf's shallow signature); the graph
        walk of `_equiv` decides, FWDs on either side compatible."""
        lab, mp = self.lab, self.map
        for g in ids:
            if mp[g] != UNSET:
                continue
            lg = lab[g]
            if lg[0] not in GRAPH_KINDS and g not in self._cyclic:
                continue
            new = g
            cands = self._candidates(g, lg)
            if cands:
                for c in cands:
                    found = self._equiv(g, c)
                    if found is None:
                        continue
                    hypot, wild, adjust = found
                    self._merge_hypot(hypot, wild, adjust)
                    if adjust:
                        continue
                    new = c
                    break
            mp[g] = new
            if new == g:
                self._add_candidate(g, lg)
                self._new_graph.append(lg)

    # A bucket of the graph table is a list of candidates with one label;
    # past BUCKET_SPLIT entries it becomes a dict shape -> list, so that the
    # hundreds of anonymous unions a macro stamps out with one layout
    # (DECLARE_KFIFO) do not make the pass quadratic.

    def _candidates(self, g: int, lg: Label):
        bucket = self.graph_table.get(lg)
        if bucket is None:
            bucket = self.base_buckets.get(lg)
        if bucket is not None and bucket.__class__ is not list:
            bucket = bucket.get(self._shape_key(g))
        if bucket and bucket[0] < self.base_end <= bucket[-1]:
            # Split types before base ones, as libbpf (newest first) tries
            # them: a module struct kept apart from its base counterpart
            # (hypot_adjust_canon) takes the module's other views of it.
            be = self.base_end
            bucket = [x for x in bucket if x >= be] + [x for x in bucket if x < be]
        return bucket

    def _add_candidate(self, g: int, lg: Label) -> None:
        graph = self.graph_table
        bucket = graph.get(lg)
        if bucket is None and graph is not self.base_buckets:
            shared = self.base_buckets.get(lg)
            if shared is not None:
                bucket = graph[lg] = shared[:] if shared.__class__ is list else \
                    {key: ids[:] for key, ids in shared.items()}
        if bucket is None:
            graph[lg] = [g]
        elif bucket.__class__ is list:
            bucket.append(g)
            if len(bucket) > BUCKET_SPLIT:
                split: dict = {}
                for x in bucket:
                    split.setdefault(self._shape_key(x), []).append(x)
                graph[lg] = split
        else:
            bucket.setdefault(self._shape_key(g), []).append(g)

    def _shape_key(self, g: int) -> tuple:
        """What `_equiv` can never disagree on, a few levels deep: labels of
        the types below, except that every struct, union and FWD shows only
        its kind and name and every enum only its name (a FWD and its
        definition, an enum fwd and its enum look the same)."""
        lab, ref, unpack = self.lab, self.ref, self._unpack

        def shape(x: int, depth: int):
            lx = lab[x] or unpack(x)
            k = lx[0]
            if k == FWD:
                return (UNION if lx[2] else STRUCT, lx[1])
            if k in AGGREGATES:
                return (k, lx[1])
            if k in ENUM_KINDS:
                return (ENUM, lx[1])
            if depth == 0:
                return lx
            return (lx, tuple([shape(r, depth - 1) for r in ref[x]]))

        return tuple([shape(r, SHAPE_DEPTH) for r in ref[g]])

    def _ref_pass(self, g0: int, end: int) -> None:
        """Everything else, children first: with canonical children a type is
        equal to a canonical one exactly when its (label, refs) key is."""
        if _cdedup is not None:
            g = g0
            while (g := _cdedup.ref_pass(self.lab, self.ref, self.map, self.ref_table,
                                         self._new_refs, g, end)) < end:
                self._cycles_to_graph(g0, end)
            return
        lab, ref, mp, table = self.lab, self.ref, self.map, self.ref_table
        new = self._new_refs
        resolve = self.resolve
        g = g0
        while g < end:
            if mp[g] != UNSET:
                g += 1
                continue
            stack = [g]
            mp[g] = BUSY
            cycle = False
            while stack:
                x = stack[-1]
                pushed = False
                for r in ref[x]:
                    m = mp[r]
                    if m == UNSET:
                        mp[r] = BUSY
                        stack.append(r)
                        pushed = True
                        break
                    if m == BUSY:
                        cycle = True
                        break
                if cycle:
                    break
                if pushed:
                    continue
                stack.pop()
                rr = tuple([resolve(r) for r in ref[x]])
                ref[x] = rr
                lx = lab[x]
                if lx[0] in NEVER_KINDS:
                    mp[x] = x
                    continue
                key = (lx, rr)
                c = table.get(key)
                if c is None:
                    table[key] = x
                    new.append(key)
                    mp[x] = x
                else:
                    mp[x] = c
            if cycle:
                # A loop of reference kinds (never in C, possible in other
                # producers' BTF): hand the loop to the graph pass.
                for x in stack:
                    mp[x] = UNSET
                self._cycles_to_graph(g0, end)
            # resume at g (now mapped, or pushed through the graph pass)

    def _cycles_to_graph(self, g0: int, end: int) -> None:
        """Find the undecided unit types that lie on cycles and decide them
        with the graph pass."""
        ref, mp = self.ref, self.map
        todo = [g for g in range(g0, end) if mp[g] == UNSET]
        index = {g: i for i, g in enumerate(todo)}
        succ = [[index[r] for r in ref[g] if r in index] for g in todo]
        cyclic = set()
        for comp in sccs(len(todo), succ):
            if len(comp) > 1 or comp[0] in succ[comp[0]]:
                cyclic.update(todo[i] for i in comp)
        self._cyclic = cyclic
        try:
            self._graph_pass(sorted(cyclic))
        finally:
            self._cyclic = set()

    # -- the graph walk ----------------------------------------------------

    def _equiv(self, cand: int, canon: int):
        """Is the unit type `cand` equivalent to the canonical `canon`?

        libbpf's `btf_dedup_is_equiv`, without recursion: walk the pairs
        (candidate, canonical) together; every pair must agree on its label,
        except that a FWD (or enum forward declaration) agrees with a type of
        its name and kind.  The hypothetical map canonical -> candidate
        closes cycles (a pair seen again is assumed equal: coinduction) and
        must stay a function, unless the two candidate types it would need
        are identical, or one is the unit's own FWD of the other.  Returns
        (hypothetical map, candidate FWD -> canonical type it met, whether a
        base FWD would have to be resolved) or None.
        """
        if _cdedup is not None:
            return _cdedup.equiv(self.lab, self.ref, self.map, self._live, self.base_end,
                                 cand, canon, self._unpack, self._identical)
        lab, ref, mp = self.lab, self.ref, self.map
        resolve, unpack = self.resolve, self._unpack
        base_end = self.base_end
        hypot: dict[int, int] = {}
        wild: dict[int, int] = {}      # candidate FWD -> the canonical type it met
        adjust = False
        fwdish = FWDISH
        live = self._live
        work = [(cand, canon, canon < base_end)]
        while work:
            t, c, via_base = work.pop()
            rt = mp[t]                  # resolve(t) and resolve(c), inlined
            if rt < 0 or rt == t:
                rt = t
            elif mp[rt] != rt:
                rt = resolve(rt)
            rc = mp[c]
            if rc == c or (c < base_end and c not in live):
                # A base type means what the base says, until a walk of this
                # round resolved a base FWD (libbpf's hypot_adjust_canon:
                # the walk that needed it fails, later walks follow it).
                rc = c
            elif rc < 0:
                rc = c
            elif mp[rc] != rc:
                rc = resolve(rc)
            if rt == rc:
                continue
            lc = lab[c] or unpack(c)
            if rc != c and lc[0] in fwdish and (lc[0] == FWD or len(lc) == 4):
                if not is_fwd_label(lab[rc] or unpack(rc)):
                    c = rc
                    lc = lab[c]
            lt = lab[t] or unpack(t)
            t_fwd = lt[0] in fwdish and (lt[0] == FWD or len(lt) == 4)
            h = hypot.get(c)
            if h is not None and h != t:
                lh = lab[h] or unpack(h)
                if t_fwd and _declares(lt, lh):
                    pass                         # the unit's FWD of h: same type
                elif is_fwd_label(lh) and _declares(lh, lt):
                    hypot[c] = t                 # now the definition: compare it
                elif self._identical(h, t):
                    continue
                else:
                    return None
            elif h is not None:
                continue
            else:
                hypot[c] = t
            if t_fwd and not is_fwd_label(lc):
                # The first definition a FWD meets is the one it will stand
                # for; like libbpf, a FWD is compatible with any definition
                # of its name within the walk (one unit may be many CUs).
                d = t                            # the declaration node itself
                m = mp[d]
                while m >= 0 and m != d and is_fwd_label(lab[m] or unpack(m)):
                    d, m = m, mp[m]
                wild.setdefault(d, rc)
            if lt == lc:
                tr = ref[t]
                if tr:
                    cr = ref[c]
                    # inside a base struct or union, or on a chain of
                    # base references hanging off a module type?
                    vb = c < base_end if lc[0] in AGGREGATES else via_base
                    for i in range(len(tr) - 1, -1, -1):
                        work.append((tr[i], cr[i], vb))
                continue
            if lt[1] != lc[1]:
                return None
            kt, kc = lt[0], lc[0]
            if kt == FWD or kc == FWD:
                if kt == kc:
                    return None                  # struct FWD vs union FWD
                if kt == FWD:
                    fwd_kind, real = (UNION if lt[2] else STRUCT), kc
                else:
                    fwd_kind, real = (UNION if lc[2] else STRUCT), kt
                    if fwd_kind == real and c < base_end and via_base:
                        # a base type's FWD would need resolving; one a
                        # module type refers to stands for the module's
                        # struct anyway
                        adjust = True
                if fwd_kind != real:
                    return None
                continue
            if kt in ENUM_KINDS and kc in ENUM_KINDS and (len(lt) == 4 or len(lc) == 4):
                continue                         # enum fwd vs any enum of the name
            return None
        return hypot, wild, adjust

    def _identical(self, a: int, b: int) -> bool:
        """Are two candidate-side types exactly equal (bisimilar)?  Rescues the
        compiler's duplicates inside one unit; unlike libbpf's depth-16
        check this one is exact and handles cycles."""
        key = (a, b) if a < b else (b, a)
        memo = self._same
        known = memo.get(key)
        if known is not None:
            return known
        lab, ref = self.lab, self.ref
        resolve, unpack = self.resolve, self._unpack
        seen = set()
        work = [(a, b)]
        ok = True
        while work:
            x, y = work.pop()
            if x == y or (x, y) in seen:
                continue
            if resolve(x) == resolve(y):
                continue
            seen.add((x, y))
            if (lab[x] or unpack(x)) != (lab[y] or unpack(y)):
                ok = False
                break
            work.extend(zip(ref[x], ref[y]))
        memo[key] = ok
        return ok

    def _merge_hypot(self, hypot: dict, wild: dict, adjust: bool) -> None:
        """libbpf's `btf_dedup_merge_hypot_map`: after a successful walk, a
        canonical FWD paired with a real type now stands for it; a candidate
        FWD likewise for the canonical type it met; and candidate structs
        paired with canonical ones are mapped at once (the walk proved it)."""
        lab, mp = self.lab, self.map
        resolve, unpack = self.resolve, self._unpack
        g0 = self._unit[0]
        touched = self._touched
        merge_kinds = MERGE_KINDS
        base_end = self.base_end
        live = self._live
        for c, t in hypot.items():
            lt, lc = lab[t] or unpack(t), lab[c] or unpack(c)
            if lt[0] not in merge_kinds and lc[0] not in merge_kinds:
                continue                 # no correspondence kept for the rest
            t_id = resolve(t)
            if c < base_end and c not in live and is_fwd_label(lc):
                c_id = c                 # a base FWD not resolved this round
            else:
                c_id = resolve(c)
            c_fwd = is_fwd_label(lab[c_id] or unpack(c_id))
            if c_fwd and not is_fwd_label(lab[t_id] or unpack(t_id)):
                mp[c_id] = t_id          # a canonical FWD met its definition
                if c_id < g0:
                    touched.append(c_id)
                if c_id < base_end:
                    live.add(c_id)
            elif (not adjust and not c_fwd and lt[0] in AGGREGATES
                  and mp[t] == UNSET and mp[c_id] >= 0):
                mp[t] = c_id             # proven by the walk: map it now
        if adjust:
            return
        prim = self.prim_table
        for t, c in wild.items():        # a candidate FWD met its definition
            if mp[t] == UNSET or mp[t] == t:     # (still undecided: a FWD node)
                c = resolve(c)
                mp[t] = c
                if t < g0:
                    touched.append(t)
                    if t < base_end:
                        live.add(t)
                # Declarations that will meet no definition (in later units)
                # stand for the first one this name met, as libbpf's global
                # FWD node does.
                lt = lab[t] or unpack(t)
                node = prim.get(lt)
                if node is None:
                    prim[lt] = c
                    self._new_prim.append(lt)
                elif mp[node] == node and is_fwd_label(lab[node] or unpack(node)):
                    mp[node] = c
                    if node < g0:
                        touched.append(node)
                        if node < base_end:
                            live.add(node)

    # -- end of a unit -----------------------------------------------------

    def _final(self, nid: list[int], g0: int):
        """A type's final id once the unit from g0 is renumbered by `nid`:
        that of what it resolves to (a store id stays)."""
        resolve = self.resolve

        def final(x: int) -> int:
            x = resolve(x)
            return nid[x - g0] if x >= g0 else x
        return final

    def _renumber(self, g0: int, end: int) -> tuple[bytes, list, list, list]:
        """`_cdedup.renumber`: the unit's canonical types (mapped to
        themselves) numbered densely from g0 in order.  Returns the unit's
        map (each type's final id, uint32 bytes), `nid` (unit type -> its
        new id, UNSET if dropped), the kept types and their refs renumbered."""
        ref, mp = self.ref, self.map
        nid = [UNSET] * (end - g0)
        k = g0
        keep = []
        for g in range(g0, end):
            if mp[g] == g:
                nid[g - g0] = k
                keep.append(g)
                k += 1
        final = self._final(nid, g0)
        unit_map = array.array("I", [final(g) for g in range(g0, end)]).tobytes()
        return unit_map, nid, keep, [tuple([final(r) for r in ref[g]]) for g in keep]

    def _compact(self, g0: int, end: int) -> array.array:
        """Keep the unit's new canonical types (renumbered densely after the
        store), drop the rest, and fix every id that pointed into the unit."""
        lab, ref, mp = self.lab, self.ref, self.map
        raw, nid, keep, kept_refs = self._renumber(g0, end) if _cdedup is None else \
            _cdedup.renumber(ref, mp, g0, end)
        final = self._final(nid, g0)
        unit_map = array.array("I")
        unit_map.frombytes(raw)
        touched = {s: final(s) for s in self._touched}
        kept = list(zip([lab[g] for g in keep], kept_refs))
        prim = self.prim_table
        new_prim = [(lg, final(prim[lg])) for lg in self._new_prim]
        table = self.ref_table
        new_refs = [(key[0], final(table.pop(key))) for key in self._new_refs]
        graph = self.graph_table
        new_graph = []
        for lg in dict.fromkeys(self._new_graph):
            bucket = graph[lg]
            if bucket.__class__ is list:
                new_graph.append((lg, [final(x) for x in bucket]))
            else:
                new_graph.append((lg, {key: [final(x) for x in ids]
                                       for key, ids in bucket.items()}))
        for s, v in touched.items():
            mp[s] = v
        del lab[g0:], ref[g0:], mp[g0:]
        for i, (lg, rg) in enumerate(kept):
            lab.append(lg)
            ref.append(rg)
            mp.append(g0 + i)
        for lg, v in new_prim:
            prim[lg] = v
        for lg, v in new_refs:
            table.setdefault((lg, ref[v]), v)
        for lg, ids in new_graph:
            graph[lg] = ids
        self._unit = None
        self._touched, self._new_prim, self._new_graph, self._new_refs = [], [], [], []
        self._same = {}
        return unit_map

    # -- settling the whole store ------------------------------------------

    def settle(self) -> array.array:
        """Resolve what the names allow, then minimise exactly.

        Repeats (unique-name FWD resolution, exact minimisation) until no
        FWD resolves any more; rebuilds the store from one representative
        per class (the lowest id: base first, then first occurrence).
        Returns old id -> new id for every id of the store before the call.
        """
        lab, ref, mp = self.lab, self.ref, self.map
        bend = self.base_end
        n_old = len(lab)
        base = self.base
        base_classes = base.partition()
        while True:
            canon = [g for g in range(bend, n_old) if mp[g] == g]
            spos = [UNSET] * (n_old - bend)
            for i, g in enumerate(canon):
                spos[g - bend] = bend + i

            dense = self._dense(spos)
            # the base's nodes, then one per canonical store type
            labels, succ, cls = base.scratch()
            labels += [lab[g] for g in canon]
            succ += self._dense_refs(canon, spos) if _cdedup is None else \
                _cdedup.dense_refs(ref, mp, canon, spos, bend)

            def unpack(b: int, labels=labels, succ=succ) -> None:
                labels[b] = self._unpack(b)
                succ[b] = ref[b]

            cls = base_classes.fork(cls).extend(labels, succ, unpack)
            if not self._resolve_fwds(labels, cls, canon):
                break
        # One representative per class: the lowest id.  A base class's is a
        # base id, known per base; only the store's nodes are visited here.
        base_first, base_canon = base.class_first, base.canon
        rep: dict[int, int] = {}
        store_new = []                  # node bend + i -> its new id
        keep = []
        for d in range(bend, len(cls)):
            c = cls[d]
            r = base_first.get(c)
            if r is None:
                r = rep.setdefault(c, d)
                if r == d:
                    r = bend + len(keep)
                    keep.append(d)
                else:
                    r = store_new[r - bend]
            store_new.append(r)

        def new_id(d: int) -> int:
            return base_canon[d] if d < bend else store_new[d - bend]

        # a base id stands for its class's first, or (a resolved
        # declaration) for what it was resolved to
        relabel = base_canon[:]
        for b in base.declarations:
            if mp[b] != b:
                relabel[b] = new_id(dense(b))
        relabel.extend([new_id(dense(g)) for g in range(bend, n_old)])
        new_lab = [labels[d] for d in keep]
        new_ref = [tuple([new_id(s) for s in succ[d]]) for d in keep]
        for b in self.base.declarations:              # base FWD resolutions
            if mp[b] != b:
                mp[b] = relabel[b]
        del lab[bend:], ref[bend:], mp[bend:]
        lab.extend(new_lab)
        ref.extend(new_ref)
        mp.extend(range(bend, bend + len(keep)))
        self._tables_for_store()
        return relabel

    def _dense(self, spos: list[int]):
        """settle's node of what x resolves to: a base id is its own, a
        store id its position among the canonical types (spos)."""
        resolve, bend = self.resolve, self.base_end

        def dense(x: int) -> int:
            x = resolve(x)
            return x if x < bend else spos[x - bend]
        return dense

    def _dense_refs(self, canon: list[int], spos: list[int]) -> list[tuple]:
        """`_cdedup.dense_refs`: each canonical type's refs as settle's nodes."""
        dense, ref = self._dense(spos), self.ref
        return [tuple([dense(r) for r in ref[g]]) for g in canon]

    def _tables_for_store(self) -> None:
        self._tables()
        lab, ref = self.lab, self.ref
        for g in range(self.base_end, len(lab)):
            lg = lab[g]
            k = lg[0]
            if k in PRIM_KINDS:
                self.prim_table.setdefault(lg, g)
            elif k in GRAPH_KINDS:
                self._add_candidate(g, lg)
            elif k in REF_KINDS:
                self.ref_table.setdefault((lg, ref[g]), g)

    def _resolve_fwds(self, labels, cls, canon: list[int]) -> int:
        """libbpf's `btf_dedup_resolve_fwds`, on classes: a FWD whose name
        belongs to exactly one class of its kind (a `struct foo;` cannot mean
        a union, so unlike libbpf a union of the name does not count) now
        stands for it.  An enum forward declaration stands for the first
        full enum of its name, or if there is none for the first enum
        forward declaration of its name, whatever its size (libbpf's prim
        pass does the same).  `labels` and `cls` are indexed by base id, then
        by position in `canon` (the store's canonical ids).  Returns how many
        were resolved."""
        mp = self.map
        base = self.base
        bend = self.base_end
        aggregates = layered(base.aggregates)
        enums = layered(base.enums)
        for i, g in enumerate(canon):
            _note_definition(aggregates, enums, labels[bend + i], cls[bend + i], g)
        decls = [b for b in base.declarations if mp[b] == b]
        decls += [g for i, g in enumerate(canon) if is_fwd_label(labels[bend + i])]
        enum_fwds: dict = {}
        for g in decls:
            lg = self.lab[g]
            if lg[0] != FWD:
                enum_fwds.setdefault(lg[1], g)
        resolved = 0
        for g in decls:
            lg = self.lab[g]
            if lg[0] == FWD:
                found = aggregates.get((UNION if lg[2] else STRUCT, lg[1]))
                if found:
                    mp[g] = found[1]
                    resolved += 1
            else:
                found = enums.get(lg[1])
                if found is None:
                    found = enum_fwds[lg[1]]
                if found != g:
                    mp[g] = found
                    resolved += 1
        return resolved
