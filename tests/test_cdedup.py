"""dedup's compiled inner loops (dedup/_cdedup.c) against engine.py's.

The dedup tests run with both (conftest's `dedup_walks`); here the two are
compared step by step on real units: after every merge the store (labels,
refs, map) and the unit's map must be the same, and so must the bytes at
the end.  Bad references are refused the same way by both.
"""

from __future__ import annotations

import random

import pytest

from dedup import Deduper, engine, minimize
from dedup.compact import INT, PTR, STRUCT, compact_unit
from dedup.reach import reach_declarations_py as reach_py
from encoder import api, learned
from encoder.btf.model import type_refs
from encoder.btf.reader import load
from encoder.btf.writer import encode as write
from encoder.errors import BtfError
from test_dedup_props import _with_refs, random_units, run_dedup
from util import REPO

OBJ = REPO / "fixtures" / "obj"
compiled = engine._cdedup
needs_compiled = pytest.mark.skipif(compiled is None, reason="dedup/_cdedup.c was not built")


def _recording(monkeypatch, use_c: bool) -> list:
    """Switch dedup to one implementation and record, after every merge, its
    result and the store (labels, refs, map); monkeypatch.undo() ends it."""
    steps = []
    merge = engine.Graph.merge

    def traced(g, *args, **kw):
        m = merge(g, *args, **kw)
        steps.append((list(m), g.lab[g.base_end:], g.ref[g.base_end:], g.map[:]))
        return m

    monkeypatch.setattr(engine, "_cdedup", compiled if use_c else None)
    monkeypatch.setattr(engine.Graph, "merge", traced)
    return steps


def _trace(monkeypatch, path, base, use_c: bool):
    """Encode `path` with one implementation: the merges and the bytes."""
    steps = _recording(monkeypatch, use_c)
    learned._LEARNED.clear()        # each run starts from nothing learned
    data = write(api.encode(path, base, features="default"))
    monkeypatch.undo()
    return steps, data


@needs_compiled
@pytest.mark.parametrize("over_base", [False, True], ids=["vmlinux-like", "split"])
def test_every_merge_leaves_the_same_store(monkeypatch, over_base):
    base = load(OBJ / "kinds.gcc.dwarf5.btf") if over_base else None
    paths = sorted(OBJ.glob("*.gcc.dwarf5.o")) + sorted(OBJ.glob("*.clang.dwarf4.o"))
    merges = 0
    for path in paths:
        c_steps, c_data = _trace(monkeypatch, path, base, True)
        py_steps, py_data = _trace(monkeypatch, path, base, False)
        assert c_steps == py_steps, path.name
        assert c_data == py_data, path.name
        merges += len(c_steps)
    assert merges > 2 * len(paths), "too few merges compared: the test proves little"


@pytest.mark.parametrize("use_c", [True, False], ids=["compiled", "reference"])
@pytest.mark.parametrize("first, refs, known, where, bad", [
    (2, [(), (1,), (9,)], (), 4, 9),           # past the unit's last type
    (2, [(), (-1,)], (), 3, -1),               # negative
    (200, [(1,), (101,)], (1,), 201, 101),     # between the known ids and the unit's
])
def test_a_bad_reference_names_its_type_and_target(monkeypatch, use_c, first, refs, known,
                                                    where, bad):
    if use_c and compiled is None:
        pytest.skip("dedup/_cdedup.c was not built")
    monkeypatch.setattr(engine, "_cdedup", compiled if use_c else None)
    g = engine.Graph(engine.BaseIndex([(INT, "int", 4, 0, 32, 1)], [()]))
    with pytest.raises(BtfError, match=rf"type \[{where}\] refers to type \[{bad}\], "
                                       r"which does not exist"):
        g.merge([(PTR, "")] * len(refs), refs, first, known=known, known_first=100)


@needs_compiled
def test_shift_matches_the_reference_on_random_units():
    rnd = random.Random(7)
    for _ in range(300):
        first, known_first = rnd.choice([(1, 0), (50, 0), (1000, 500)])
        known = [rnd.randrange(1, 40) for _ in range(rnd.randrange(0, 5))] \
            if known_first else []
        n = rnd.randrange(1, 8)
        pool = list(range(0, 5)) + list(range(first, first + n + 1)) + \
            list(range(known_first, known_first + len(known) + 1)) + [-1]
        refs = [tuple(rnd.choice(pool) for _ in range(rnd.randrange(0, 4))) for _ in range(n)]
        args = (refs, first, first + n, 7000, known, known_first)

        assert _outcome(compiled.shift, args) == _outcome(engine.Graph._shift, args), args


def _outcome(shift, args):
    try:
        return shift(*args)
    except IndexError as e:
        return ("bad", int(e.args[0]))


def _trace_units(monkeypatch, units, base, use_c: bool):
    """Merge units (compact) with one implementation: the merges, then the
    result of finish."""
    steps = _recording(monkeypatch, use_c)
    d = Deduper(base)
    for labels, refs in units:
        d.add_compact(labels, refs)
    out, maps = d.finish()
    monkeypatch.undo()
    return steps, write(out), [list(m.own) for m in maps]


@needs_compiled
def test_random_units_leave_the_same_store(monkeypatch):
    """The props tests' random units (FWDs of either kind, permuted and
    doubled units, cycles), alone and split over a base made of others."""
    merges = 0
    for seed in range(300):
        units = random_units(seed)
        base = None
        if seed % 2:
            base, _ = run_dedup(random_units(seed + 10_000))
            first = base.type_count
            units = [[_with_refs(t, [r + first - 1 if r else 0 for r in type_refs(t)])
                      for t in u] for u in units]
        units = [compact_unit(u) for u in units]     # VAR serials fixed once for both
        c = _trace_units(monkeypatch, units, base, True)
        py = _trace_units(monkeypatch, units, base, False)
        assert c == py, seed
        merges += len(c[0])
    assert merges > 600


def _scenarios():
    """Hand-made units for the walk's rarer rules, as (base, units)."""
    from encoder.btf.kinds import IntEncoding
    from encoder.btf.model import Btf, Fwd, Int, Member, Ptr, Struct, Union
    i32 = Int("int", 4, 32, IntEncoding.SIGNED)

    def holder(first: int, target) -> list:       # struct s { <target> *p; }
        return [i32, target, Ptr(first + 1), Struct("s", 8, [Member("p", first + 2, 0)])]

    # a struct FWD against a union definition of its name, both ways round
    union_x = Union("x", 4, [Member("a", 1, 0)])
    yield None, [holder(1, union_x), holder(1, Fwd("x"))]
    yield None, [holder(1, Fwd("x")), holder(1, union_x)]
    yield None, [holder(1, Fwd("x", union=True)), holder(1, Struct("x", 4, [Member("a", 1, 0)]))]
    # a base struct whose member is a FWD the module defines, reached through
    # a module struct (the walk enters the base: a base FWD would resolve)
    base = Btf([i32, Fwd("x"), Ptr(2), Struct("B", 8, [Member("p", 3, 0)])])
    f = base.type_count

    def module_unit(defined: bool, s_first: bool) -> list:
        x = Struct("x", 4, [Member("a", f, 0)]) if defined else Fwd("x")
        if s_first:     # the graph pass meets s before the base FWD is resolved
            return [i32, Struct("s", 8, [Member("b", f + 2, 0)]), Ptr(f + 3),
                    Struct("B", 8, [Member("p", f + 4, 0)]), Ptr(f + 5), x]
        return [i32, x, Ptr(f + 1), Struct("B", 8, [Member("p", f + 2, 0)]), Ptr(f + 3),
                Struct("s", 8, [Member("b", f + 4, 0)])]
    for s_first in (False, True):
        yield base, [module_unit(False, s_first), module_unit(True, s_first)]
        yield base, [module_unit(True, s_first), module_unit(False, s_first),
                     module_unit(True, s_first)]


@needs_compiled
@pytest.mark.parametrize("n", range(7))
def test_the_walks_rarer_rules_leave_the_same_store(monkeypatch, n):
    base, units = list(_scenarios())[n]
    units = [compact_unit(u) for u in units]
    assert _trace_units(monkeypatch, units, base, True) == \
        _trace_units(monkeypatch, units, base, False)


# -- which unit types reach a declaration (dedup/reach.py) -----------------------

_S, _F, _E = (4, "s", 8, False), (7, "f", False), (6, "e", 4, True)   # struct, FWD, enum FWD


@pytest.mark.parametrize("reach", [reach_py, compiled and compiled.reach_declarations],
                         ids=["reference", "compiled"])
def test_reaching_a_declaration_spreads_to_whoever_refers(reach):
    """A unit of 9 (ids 10..18): marks of their own (a FWD, an enum FWD), a
    dirty known type (known id 5), a dirty base type (3), and whatever
    refers to any of them, through a loop; the rest stays clean."""
    if reach is None:
        pytest.skip("dedup/_cdedup.c was not built")
    labels = [_S, _F, _S, _S, _S, _E, _S, _S, _S]
    refs = [(11,),        # 10 -> a FWD
            (),           # 11 the FWD
            (10, 2),      # 12 -> 10, and clean base 2
            (5,),         # 13 -> known 5 (dirty)
            (6, 3),       # 14 -> known 6 (clean), base 3 (dirty)
            (),           # 15 enum FWD
            (17,),        # 16 <-> 17: a clean loop
            (16, 6, 2),   # 17
            (16, 18)]     # 18 -> the loop, itself
    got = reach(labels, refs, 10, 5, bytes([1, 0]), bytes([0, 0, 0, 1]))
    assert list(got) == [1, 1, 1, 1, 1, 1, 0, 0, 0]


@pytest.mark.parametrize("refs", [[(19,)], [(7,)], [(-1,)]],
                         ids=["past the unit", "past the known", "negative"])
def test_reach_refuses_a_reference_out_of_range(refs):
    for reach in filter(None, (reach_py, compiled and compiled.reach_declarations)):
        with pytest.raises(IndexError):
            reach([_S], refs, 18, 5, bytes(2), bytes(8))


@needs_compiled
def test_reach_matches_the_reference_on_random_units():
    rnd = random.Random(11)
    for _ in range(500):
        n, first, known_first = rnd.randrange(0, 30), 100, 50
        known_dirty = bytes(rnd.randrange(2) for _ in range(rnd.randrange(0, 6)))
        pool = list(range(first, first + n)) + \
            list(range(known_first, known_first + len(known_dirty))) + list(range(0, 8))
        labels = [rnd.choice([_S, _S, _S, _F, _E]) for _ in range(n)]
        refs = [tuple(rnd.choice(pool) for _ in range(rnd.randrange(0, 4))) for _ in range(n)]
        base_dirty = bytes(rnd.random() < 0.3 for _ in range(rnd.randrange(0, 9)))
        args = (labels, refs, first, known_first, known_dirty, base_dirty)
        assert compiled.reach_declarations(*args) == reach_py(*args), args


def _classes(monkeypatch, use_c: bool, labels, succ, split: int):
    """A base's partition of nodes 0..split, then a fork extended over the
    rest, with one implementation: (classes, count, and the keys the fork
    added, in order: the base cache packs them so)."""
    monkeypatch.setattr(minimize, "_cdedup", compiled if use_c else None)
    base = minimize.Partition()
    base.extend(labels[:split], succ[:split])
    p = base.fork()
    cls = p.extend(list(labels), list(succ))
    monkeypatch.undo()
    return cls, p.n, list(p.keys.own.items()), list(p.cycles.own.items())


@needs_compiled
def test_classes_match_the_reference_on_random_graphs(monkeypatch):
    """Partition.extend's sweep in C (_cdedup.classes) against minimize.py:
    the same class of every node, numbered alike, on graphs with self
    loops, cycles through the part already classified, and equal labels."""
    rnd = random.Random(5)
    cycles = 0
    for _ in range(400):
        n = rnd.randrange(1, 40)
        split = rnd.randrange(0, n + 1)
        labels = [(rnd.choice((STRUCT, PTR)), rnd.choice("ab")) for _ in range(n)]
        succ = [tuple(rnd.randrange(split if v < split else n)
                      for _ in range(rnd.randrange(0, 3))) for v in range(n)]
        want = _classes(monkeypatch, False, labels, succ, split)
        assert _classes(monkeypatch, True, labels, succ, split) == want, (labels, succ, split)
        cycles += bool(want[3])
    assert cycles > 50          # the cycle path is exercised, not only hash-consing


@needs_compiled
def test_classes_refuse_a_reference_out_of_range():
    with pytest.raises(IndexError):
        compiled.classes([(INT, "a")], [(3,)], [-1], 0, {}, 0, None)
