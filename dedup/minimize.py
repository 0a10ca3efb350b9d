"""Exact minimisation of a type graph: the coarsest bisimulation.

Two nodes are equivalent when their labels are equal and their references
are pairwise equivalent, coinductively (so cycles are fine).  That is DFA
equivalence, and this module computes its classes in one sweep over the
strongly connected components, children before parents:

* a node outside any cycle is hash-consed: its class is the interned
  `(label, classes of its refs)` -- exact, no candidate checks;
* the nodes of one cycle (a non-trivial SCC) are first refined among
  themselves (Moore's algorithm, with the classes of the refs that leave the
  SCC as part of the labels), then matched against the cycles seen before:
  if any node of the SCC is equivalent to an earlier node, every node is
  (the SCC is strongly connected), and one product walk from a single start
  node proves it.  Candidates come from an index keyed by a
  bisimulation-invariant signature (own label plus the labels one step
  away), so a miss is cheap and a hit is verified, never assumed.

Every node registers its `(label, ref classes)` key, so a node outside a
cycle that is equivalent to a node on one (`p -> q` with `q` a self-loop
equal to `p`) lands in the same class too.

In C every cycle runs through a named struct or union and the cycles of a
deduplicated vmlinux are few (a few hundred SCCs, one of a few thousand
nodes); the sweep is linear apart from the refinement rounds of those.
"""

from __future__ import annotations

from typing import Hashable, Sequence

from encoder.frozen import layered

try:
    from . import _cdedup
except ImportError:          # pragma: no cover - depends on the installation
    _cdedup = None


def sccs(n: int, succ: Sequence[Sequence[int]]):
    """Strongly connected components of nodes 0..n-1, children first.

    Iterative Tarjan: yields each SCC (a list of nodes) after every SCC it
    can reach.  Nodes are started in increasing order, so the output is a
    deterministic function of the graph.
    """
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    stack: list[int] = []
    counter = 0
    for root in range(n):
        if index[root] >= 0:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        work = [(root, iter(succ[root]))]
        while work:
            v, it = work[-1]
            descended = False
            for w in it:
                if index[w] < 0:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack[w] = True
                    work.append((w, iter(succ[w])))
                    descended = True
                    break
                if on_stack[w] and index[w] < low[v]:
                    low[v] = index[w]
            if descended:
                continue
            work.pop()
            if work:
                u = work[-1][0]
                if low[v] < low[u]:
                    low[u] = low[v]
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    comp.append(w)
                    if w == v:
                        break
                yield comp


class Partition:
    """Bisimulation classes of a growing graph.

    `extend` classifies the nodes added since the last call; their
    references may point anywhere, the classes of older nodes never change
    (a node's class only depends on what it reaches).  `fork` copies the
    state, so the classes of a base BTF are computed once and reused under
    every split part.
    """

    def __init__(self):
        self.cls: list[int] = []
        self.keys: dict = {}             # (label, ref classes) -> class
        self.cycles: dict = {}           # invariant signature -> (one node per class on a cycle)
        self.n = 0                       # classes so far

    def fork(self, cls: list | None = None) -> "Partition":
        """A copy to extend, this one left as it is from now on (its tables
        are layered under the copy's); `cls`, if given, is a list to reuse
        that holds this partition's classes and nothing after them."""
        p = Partition()
        p.cls = self.cls.copy() if cls is None else cls
        p.keys = layered(self.keys)
        p.cycles = layered(self.cycles)     # its values are tuples: shared safely
        p.n = self.n
        return p

    def extend(self, labels: list, succ: list, unpack=None) -> list[int]:
        """Classify nodes len(self.cls).. of the graph (labels, succ).

        Older nodes may be left None in `labels` and `succ` (a base read
        lazily): `unpack(v)` fills in node v's label and successors."""
        start = len(self.cls)
        cls = self.cls
        cls.extend([-1] * (len(labels) - start))
        keys = self.keys
        if _cdedup is not None and type(labels) is list and type(succ) is list:
            # the same sweep in C (a batch settles every module's store)
            self.n = _cdedup.classes(
                labels, succ, cls, start, keys, self.n,
                lambda comp, n: _cycle(comp, labels, succ, cls, keys, self.cycles, n, unpack))
            return cls
        local = [[r - start for r in succ[v] if r >= start] for v in range(start, len(labels))]
        for comp in sccs(len(local), local):
            if len(comp) == 1:
                v = comp[0] + start
                refs = succ[v]
                if v not in refs:
                    key = (labels[v], tuple([cls[r] for r in refs]))
                    c = keys.get(key)
                    if c is None:
                        c = keys[key] = self.n
                        self.n += 1
                    cls[v] = c
                    continue
            self.n = _cycle([v + start for v in comp], labels, succ, cls, keys,
                            self.cycles, self.n, unpack)
        return cls


def minimize(labels: Sequence[Hashable], succ: Sequence[Sequence[int]]) -> list[int]:
    """The class of every node: equal classes <=> bisimilar nodes.

    Class numbers are dense, in order of discovery (children first).
    """
    return Partition().extend(labels, succ)


def _signature(v: int, labels, succ) -> tuple:
    """A bisimulation-invariant key: the label and the labels one step away."""
    return (labels[v], tuple([labels[r] for r in succ[v]]))


def _cycle(comp, labels, succ, cls, keys, cycles, nclasses, unpack=None) -> int:
    inside = set(comp)
    start = min(comp)
    if unpack is not None:
        for v in comp:
            for r in succ[v]:
                if labels[r] is None:
                    unpack(r)
    for cand in cycles.get(_signature(start, labels, succ), ()):
        pairs = _match(start, cand, inside, labels, succ, cls, unpack)
        if pairs is not None:
            for x, y in pairs.items():
                cls[x] = cls[y]
            break
    else:
        blocks = _refine(comp, inside, labels, succ, cls)
        first: dict[int, int] = {}
        for v in sorted(comp):
            b = blocks[v]
            c = first.get(b)
            if c is None:
                c = first[b] = nclasses
                nclasses += 1
                sig = _signature(v, labels, succ)
                cycles[sig] = (*cycles.get(sig, ()), v)
            cls[v] = c
    for v in comp:
        keys.setdefault((labels[v], tuple([cls[r] for r in succ[v]])), cls[v])
    return nclasses


def _match(start, cand, inside, labels, succ, cls, unpack=None) -> dict | None:
    """Pair the SCC's nodes with earlier nodes, from (start, cand); None if
    some pair differs (the walk is the product automaton: exact)."""
    pairs: dict[int, int] = {}
    work = [(start, cand)]
    while work:
        x, y = work.pop()
        p = pairs.get(x)
        if p is not None:
            if cls[p] != cls[y]:
                return None
            continue
        if labels[y] is None:
            unpack(y)
        if labels[x] != labels[y]:
            return None
        pairs[x] = y
        for xr, yr in zip(succ[x], succ[y]):
            if xr in inside:
                work.append((xr, yr))
            elif cls[xr] != cls[yr]:
                return None
    return pairs


def _refine(comp, inside, labels, succ, cls) -> dict[int, int]:
    """Moore refinement inside one SCC; refs leaving it count by class."""
    def intern(table: dict, key) -> int:
        b = table.get(key)
        if b is None:
            b = table[key] = len(table)
        return b

    table: dict = {}
    block = {v: intern(table, (labels[v], tuple([-1 if r in inside else -2 - cls[r]
                                                  for r in succ[v]])))
             for v in comp}
    count = len(table)
    while True:
        table = {}
        new = {v: intern(table, (block[v], tuple([block[r] if r in inside else -2 - cls[r]
                                                  for r in succ[v]])))
               for v in comp}
        if len(table) == count:
            return block
        block, count = new, len(table)
