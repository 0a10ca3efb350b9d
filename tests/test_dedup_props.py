"""Property tests of dedup against a brute-force oracle.

Random compilation units -- cycles through anything (reference kinds
included), FWDs and enum forward declarations, anonymous types, names
shared by different types, units duplicated as they are, permuted, or with
some of their structs cut down to FWDs (the partial views a C compilation
unit sees) -- go through `Deduper`, and the partition of the input it
induces (which input types got one final id) is compared with an oracle
small enough to be obviously right:

* `bisimulation` is naive Moore refinement to a fixpoint over the whole
  concatenated input: the coarsest partition where one class means equal
  labels and references pairwise in one class.  Labels come from the model
  (`repr` of a type with its references zeroed), not from dedup's code;
* `oracle` adds the rules for declarations: a FWD stands for the one
  struct (union) of its name when the name has exactly one class of struct
  (union) definitions, an enum forward declaration for the first full enum of its
  name; repeated until nothing changes (resolving can merge two views of a
  struct into one class, which can make another name unambiguous).

When every defined name ends up with one class, dedup's partition must
equal the oracle's.  With ambiguous names libbpf's rule applies (a FWD
stands for the definition it met inside a matching struct), which no
order-free oracle captures; there the properties are bounds: never coarser
than the declarations allow (two merged types are always *compatible*:
equal up to FWDs standing for definitions of their name) and never finer
than plain bisimulation where a declaration only equals the same
declaration of the same unit (in C, `struct foo;` names the one struct foo
of its compilation unit, and two units may mean different ones).
Always: deterministic, idempotent, and the output verifies when the input
does.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dedup import Deduper, dedup
from encoder.btf.kinds import FuncLinkage, IntEncoding
from encoder.btf.model import (Array, Btf, Const, Datasec, DeclTag, Enum, Enum64,
                               EnumValue, Float, Func, FuncProto, Fwd, Int, Member, Param,
                               Ptr, Struct, Typedef, TypeTag, Union, Var, VarSecinfo,
                               Volatile, type_refs)
from encoder.btf.reader import parse
from encoder.btf.verifier import PROFILES, verify_bytes
from encoder.btf.writer import encode
from encoder.errors import BtfError
from encoder.record import replace

pytestmark = pytest.mark.usefixtures("dedup_walks")   # _cdedup.c and engine.py's loops

AGG_NAMES = ["a", "b", "c", ""]
FWD_NAMES = ["a", "b", "c"]
FIELD_NAMES = ["x", "y"]

# ---------------------------------------------------------------------------
# Random units


def _random_type(rng: random.Random, n: int):
    """One random type of a unit whose own ids are 1..n."""
    def ref() -> int:
        return rng.randint(1, n)

    def ref_or_void() -> int:
        return rng.randint(0, n)

    k = rng.choices(
        ["int", "ptr", "const", "volatile", "typedef", "array", "struct", "union", "fwd",
         "enum", "proto", "func", "type_tag", "decl_tag", "float", "var"],
        [4, 6, 2, 1, 2, 2, 7, 2, 4, 2, 2, 1, 1, 1, 1, 1])[0]
    if k == "int":
        return Int(rng.choice(["int", "char"]), 4, 32, IntEncoding.SIGNED)
    if k == "ptr":
        return Ptr(ref_or_void())
    if k == "const":
        return Const(ref())
    if k == "volatile":
        return Volatile(ref())
    if k == "typedef":
        return Typedef(rng.choice(["t", "u"]), ref())
    if k == "array":
        return Array(ref(), ref(), rng.choice([1, 2]))
    if k in ("struct", "union"):
        cls = Struct if k == "struct" else Union
        members = [Member(rng.choice(FIELD_NAMES), ref(), 32 * i * (k == "struct"))
                   for i in range(rng.randint(0, 3))]
        return cls(rng.choice(AGG_NAMES), 8, members)
    if k == "fwd":
        return Fwd(rng.choice(FWD_NAMES), rng.random() < 0.3)
    if k == "enum":
        values = [EnumValue(f"E{i}", rng.choice([0, 1])) for i in range(rng.randint(0, 2))]
        if rng.random() < 0.2:
            return Enum64(rng.choice(["e", "f"]), 8, values)
        return Enum(rng.choice(["e", "f"]), 4, values)
    if k == "proto":
        return FuncProto(ref_or_void(), [Param(rng.choice(["p", "q"]), ref())
                                         for _ in range(rng.randint(0, 2))])
    if k == "func":
        return Func(rng.choice(["f", "g"]), ref(), rng.choice(list(FuncLinkage)))
    if k == "type_tag":
        return TypeTag("tag", ref())
    if k == "decl_tag":
        return DeclTag("dt", ref(), rng.choice([-1, 0]))
    if k == "float":
        return Float("double", 8)
    return Var(rng.choice(["v", "w"]), ref())


def _with_refs(t, refs: list[int]):
    """A copy of `t` with its references (in wire order) replaced."""
    t = replace(t) if not hasattr(t, "members") else t.__class__(
        t.name, t.size, [replace(m) for m in t.members], t.kflag)
    it = iter(refs)
    if isinstance(t, (Struct, Union)):
        for m in t.members:
            m.type = next(it)
    elif isinstance(t, FuncProto):
        t.params = [Param(p.name, p.type) for p in t.params]
        t.ret = next(it)
        for p in t.params:
            p.type = next(it)
    elif isinstance(t, Array):
        t.type, t.index_type = next(it), next(it)
    elif isinstance(t, Datasec):
        t.vars = [VarSecinfo(next(it), v.offset, v.size) for v in t.vars]
    elif hasattr(t, "type"):
        t.type = next(it)
    return t


def _permuted(rng: random.Random, unit: list) -> list:
    order = list(range(len(unit)))
    rng.shuffle(order)
    new_id = {old + 1: new + 1 for new, old in enumerate(order)}
    new_id[0] = 0
    return [_with_refs(unit[old], [new_id[r] for r in type_refs(unit[old])]) for old in order]


def _forwarded(rng: random.Random, unit: list) -> list:
    """The same unit as seen by a CU that only declares some of its structs."""
    out = []
    for t in unit:
        if isinstance(t, (Struct, Union)) and t.name and rng.random() < 0.5:
            out.append(Fwd(t.name, isinstance(t, Union)))
        else:
            out.append(t)
    return out


def _doubled(unit: list) -> list:
    """Two copies of a unit in one (the compiler's duplicates inside a CU)."""
    n = len(unit)
    return list(unit) + [_with_refs(t, [r + n if r else 0 for r in type_refs(t)])
                         for t in unit]


def random_units(seed: int, max_size: int = 8) -> list[list]:
    rng = random.Random(seed)
    units: list[list] = []
    for _ in range(rng.randint(1, 5)):
        if units and rng.random() < 0.6:
            u = rng.choice(units)
            if rng.random() < 0.5:
                u = _permuted(rng, u)
            if rng.random() < 0.5:
                u = _forwarded(rng, u)
            if rng.random() < 0.15:
                u = _doubled(u)
            units.append(u)
        else:
            n = rng.randint(1, max_size)
            units.append([_random_type(rng, n) for _ in range(n)])
    return units


# ---------------------------------------------------------------------------
# The oracle


def _label(t, node: int) -> str:
    """Everything a type says but its references (VAR and DATASEC unique)."""
    s = repr(_with_refs(t, [0] * len(list(type_refs(t)))))
    return f"{s}#{node}" if isinstance(t, (Var, Datasec)) else s


def bisimulation(labels: list, succ: list[list[int]]) -> list[int]:
    """Naive Moore refinement: class ids of the coarsest bisimulation."""
    def dense(keys) -> list[int]:
        table: dict = {}
        return [table.setdefault(k, len(table)) for k in keys]

    cls = dense(labels)
    while True:
        new = dense([(cls[v], tuple(cls[s] for s in succ[v])) for v in range(len(cls))])
        if max(new, default=-1) == max(cls, default=-1):
            return new
        cls = new


def _is_fwd(t) -> bool:
    return isinstance(t, Fwd) or (isinstance(t, (Enum, Enum64)) and not t.values)


def oracle(nodes: list, succ: list[list[int]]) -> tuple[list[int], bool]:
    """Classes with the declaration rules, and whether every defined name
    ended up with a single class (the case where dedup must equal this)."""
    alias: dict[int, int] = {}

    def target(v: int) -> int:
        while v in alias:
            v = alias[v]
        return v

    while True:
        labels = [_label(nodes[target(v)], target(v)) for v in range(len(nodes))]
        eff = [[target(s) for s in succ[target(v)]] for v in range(len(nodes))]
        cls = bisimulation(labels, eff)
        aggregates: dict[tuple, dict[int, int]] = {}
        enums: dict[str, dict[int, int]] = {}
        enum_fwds: dict[str, int] = {}
        for v, t in enumerate(nodes):
            if v in alias:
                continue
            if isinstance(t, (Struct, Union)):
                aggregates.setdefault((type(t), t.name), {}).setdefault(cls[v], v)
            elif isinstance(t, (Enum, Enum64)) and t.values:
                enums.setdefault(t.name, {}).setdefault(cls[v], v)
            elif isinstance(t, (Enum, Enum64)):
                enum_fwds.setdefault(t.name, v)
        changed = False
        for v, t in enumerate(nodes):
            if v in alias:
                continue
            if isinstance(t, Fwd):
                found = aggregates.get((Union if t.union else Struct, t.name), {})
                if len(found) == 1:
                    alias[v] = next(iter(found.values()))
                    changed = True
            elif _is_fwd(t) and enums.get(t.name):
                alias[v] = min(enums[t.name].values())
                changed = True
            elif _is_fwd(t) and enum_fwds[t.name] != v:
                alias[v] = enum_fwds[t.name]
                changed = True
        if not changed:
            names = list(aggregates.values()) + list(enums.values())
            return cls, all(len(c) == 1 for c in names)


def compatible(a: int, b: int, nodes: list, succ: list[list[int]]) -> bool:
    """Equal up to FWDs standing for definitions of their name (coinductive)."""
    seen = set()
    work = [(a, b)]
    while work:
        x, y = work.pop()
        if x == y or (x, y) in seen:
            continue
        seen.add((x, y))
        tx, ty = nodes[x], nodes[y]
        if _label(tx, x) == _label(ty, y):
            work.extend(zip(succ[x], succ[y]))
            continue
        if tx.name != ty.name:
            return False
        if isinstance(tx, Fwd) or isinstance(ty, Fwd):
            fwd, other = (tx, ty) if isinstance(tx, Fwd) else (ty, tx)
            if isinstance(other, Fwd) or type(other) is not (Union if fwd.union else Struct):
                return False
            continue
        if isinstance(tx, (Enum, Enum64)) and isinstance(ty, (Enum, Enum64)) \
                and (_is_fwd(tx) or _is_fwd(ty)):
            continue
        return False
    return True


def concatenated(units: list[list]) -> tuple[list, list[list[int]]]:
    """All units as one graph, in unit order; the last node stands for void
    (its label is unique: no type equals void)."""
    void = sum(len(u) for u in units)
    nodes, succ = [], []
    for u in units:
        first = len(nodes)
        for t in u:
            nodes.append(t)
            succ.append([first + r - 1 if r else void for r in type_refs(t)])
    return nodes + [Int("(void)", 0, 0)], succ + [[]]


def run_dedup(units: list[list]):
    d = Deduper()
    for u in units:
        d.add_unit(u)
    out, maps = d.finish()
    final = [m[j] for m, u in zip(maps, units) for j in range(1, len(u) + 1)]
    return out, final


def partition(keys: list) -> list[int]:
    table: dict = {}
    return [table.setdefault(k, len(table)) for k in keys]


def _valid(btf: Btf) -> bool:
    try:
        verify_bytes(encode(btf), profile=PROFILES["latest"], resolve=False)
    except BtfError:
        return False
    return True


# ---------------------------------------------------------------------------
# The properties

SETTINGS = settings(max_examples=400, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.integers(0, 2**32 - 1))
@example(0)
def test_matches_oracle(seed):
    units = random_units(seed)
    nodes, succ = concatenated(units)
    out, final = run_dedup(units)
    n = len(final)
    expect, unambiguous = oracle(nodes, succ)
    # A declaration means "the struct foo of this compilation unit": as a
    # plain label it is only equal to declarations of the same unit.
    unit_of = [i for i, u in enumerate(units) for _ in u] + [-1]
    plain = bisimulation([_label(t, v) + (f"@{unit_of[v]}" if _is_fwd(t) else "")
                          for v, t in enumerate(nodes)], succ)
    ours = partition(final)
    if unambiguous:
        assert ours == partition(expect[:n]), "dedup differs from the oracle"
    # never finer than plain bisimulation
    rep: dict[int, int] = {}
    for v in range(n):
        assert final[rep.setdefault(plain[v], v)] == final[v], \
            f"bisimilar types {rep[plain[v]]} and {v} were not merged"
    # never coarser than the declarations allow
    first: dict[int, int] = {}
    for v in range(n):
        w = first.setdefault(final[v], v)
        if w != v:
            assert compatible(w, v, nodes, succ), f"merged incompatible types {w} and {v}"


@SETTINGS
@given(st.integers(0, 2**32 - 1))
def test_idempotent_and_valid(seed):
    units = random_units(seed)
    out, _ = run_dedup(units)
    blob = encode(out)
    again, amap = dedup(parse(blob))
    assert encode(again) == blob
    assert list(amap) == list(range(len(out.types) + 1))
    if all(_valid(Btf(list(u))) for u in units):
        verify_bytes(blob, profile=PROFILES["latest"], resolve=False)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.integers(0, 2**32 - 1))
def test_deterministic(seed):
    units = random_units(seed)
    a = encode(run_dedup(units)[0])
    b = encode(run_dedup([[replace(t) for t in u] for u in units])[0])
    assert a == b


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_split_never_duplicates_base(seed_base, seed_split):
    """Over a base, no split type is equivalent to a base type, base types
    are untouched, and unit types equal to base types map onto them."""
    base_units = random_units(seed_base)
    base, _ = run_dedup(base_units)
    base_blob = encode(base)
    units = base_units[:1] + random_units(seed_split)
    first = base.type_count
    shifted = [[_with_refs(t, [r + first - 1 if r else 0 for r in type_refs(t)]) for t in u]
               for u in units]
    d = Deduper(base)
    for u in shifted:
        d.add_unit(u)
    out, maps = d.finish()
    assert out.base is base and encode(base) == base_blob
    for m in maps:
        assert list(m[:first]) == list(range(first))
    # the base and the split part as one graph: bisimulation classes
    nodes = list(base.types) + list(out.types)
    succ = [[r - 1 if r else len(nodes) for r in type_refs(t)] for t in nodes]
    labels = [_label(t, v) for v, t in enumerate(nodes)] + ["void"]
    cls = bisimulation(labels, succ + [[]])
    base_classes = set(cls[:len(base.types)])
    for i in range(len(base.types), len(nodes)):
        assert cls[i] not in base_classes, f"split type [{i + 1}] duplicates a base type"
    # the split part on its own is minimal too
    split_classes = cls[len(base.types):len(nodes)]
    assert len(set(split_classes)) == len(split_classes)
