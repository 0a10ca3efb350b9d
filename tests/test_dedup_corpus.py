"""dedup on Debian's real BTF (the corpus; `python -m pytest -m corpus`).

Debian's build made the vmlinux BTF and, per module, split BTF over it.
From those we build compilation-unit-like inputs whose right answer is
known:

* unit 0 is the vmlinux BTF as standalone types, and each module becomes
  one standalone unit: its own split types together with the vmlinux types
  it uses, renumbered.  Dedup must give back the vmlinux types (first, none
  merged, each as it was -- but for the vmlinux FWDs of structs a module
  defines, which now stand for the definition) plus at most the modules'
  own types;
* the same module units over the vmlinux as base (split mode) must leave
  only what the base lacks: no split type equivalent to a base type;
* synthetic CU views: the closure of a few random vmlinux types, with
  structs met through a pointer cut down to FWDs at random (what a C
  compilation unit that only declares them sees), plus the whole vmlinux.

Each count is compared with libbpf's `btf__dedup` on the same
concatenation.  The big scenarios run in a child process so that time and
peak RSS are their own; they are printed (run with -s to see them).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

import corpus
import libbpf
from dedup import Deduper, dedup
from encoder.btf.dump import dump_text
from encoder.btf.model import (Btf, Datasec, DeclTag, Enum, Enum64, Fwd, Ptr, Struct,
                               Union, Var, type_refs)
from encoder.btf.reader import parse, read_sections
from encoder.btf.writer import encode
from test_dedup_props import _label, _with_refs, bisimulation

pytestmark = pytest.mark.corpus

MODULES = int(os.environ.get("DEDUP_MODULES", "50"))
TESTS = Path(__file__).resolve().parent


# ---------------------------------------------------------------------------
# Building the inputs


def standalone(module: Btf) -> tuple[list, int]:
    """A split module BTF as one standalone unit: the base types it uses
    (in base order), then its own types; and how many base types that is."""
    base = module.base
    start = module.start_id
    need: set[int] = set()
    work = [r for t in module.types for r in type_refs(t) if 0 < r < start]
    while work:
        r = work.pop()
        if r not in need:
            need.add(r)
            work.extend(x for x in type_refs(base[r]) if x and x not in need)
    used = sorted(need)
    new_id = {0: 0}
    for i, b in enumerate(used, 1):
        new_id[b] = i
    for i in range(len(module.types)):
        new_id[start + i] = len(used) + 1 + i
    out = [_with_refs(base[b], [new_id[r] for r in type_refs(base[b])]) for b in used]
    out += [_with_refs(t, [new_id[r] for r in type_refs(t)]) for t in module.types]
    return out, len(used)


def over_base(unit: list, first: int) -> list:
    """A standalone unit renumbered as split over a base of `first` ids."""
    return [_with_refs(t, [r + first - 1 if r else 0 for r in type_refs(t)]) for t in unit]


def concat(parts: list[list]) -> list:
    out: list = []
    for types in parts:
        off = len(out)
        out += [_with_refs(t, [r + off if r else 0 for r in type_refs(t)]) for t in types]
    return out


def cu_view(v: Btf, rng: random.Random, roots: int, p_fwd: float) -> list:
    """A compilation unit's view of vmlinux: the closure of a few types, a
    named struct met through a pointer only declared (FWD) now and then."""
    picked = [rng.randrange(1, v.type_count) for _ in range(roots)]
    order: list[int] = []            # vmlinux ids; -id for "FWD of id"
    seen = set(picked)
    queue = list(dict.fromkeys(picked))
    i = 0
    while i < len(queue):
        x = queue[i]
        i += 1
        order.append(x)
        t = v[x]
        for r in type_refs(t):
            if r == 0 or r in seen:
                continue
            seen.add(r)
            target = v[r]
            if (isinstance(t, Ptr) and isinstance(target, (Struct, Union)) and target.name
                    and rng.random() < p_fwd):
                order.append(-r)
            else:
                queue.append(r)
    local = {0: 0}
    for k, x in enumerate(order, 1):
        local[abs(x)] = k
    return [Fwd(v[-x].name, isinstance(v[-x], Union)) if x < 0
            else _with_refs(v[x], [local[r] for r in type_refs(v[x])]) for x in order]


def load_modules(root: Path, vmlinux: Btf, n: int) -> list[Btf]:
    return [parse(read_sections(p)[0], base=vmlinux) for p in corpus.module_paths(n, root)]


# ---------------------------------------------------------------------------
# Measuring in a child process


def _rss_mb() -> int:
    """Peak RSS of this process's address space (VmHWM: unlike ru_maxrss it
    does not inherit the parent's peak across fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def scenario(name: str, n_modules: int) -> dict:
    """Run one scenario in this process, streaming: each module is read,
    made a unit, added and dropped before the next, as the encoder streams
    CUs.  Returns the figures (times exclude reading and converting)."""
    root = corpus.corpus_root()
    v = parse(corpus.vmlinux_btf_path(root).read_bytes())
    rss0 = _rss_mb()
    d = Deduper(v) if name == "split" else Deduper()
    add_s = 0.0
    n_in = 0
    if name == "standalone":
        t = time.perf_counter()
        d.add_unit(v.types)
        add_s += time.perf_counter() - t
        n_in += len(v.types)
    elif name != "split":
        raise ValueError(name)
    for path in corpus.module_paths(n_modules, root):
        unit = standalone(parse(read_sections(path)[0], base=v))[0]
        if name == "split":
            unit = over_base(unit, v.type_count)
        n_in += len(unit)
        t = time.perf_counter()
        d.add_unit(unit)
        add_s += time.perf_counter() - t
        del unit
    t = time.perf_counter()
    out, maps = d.finish()
    finish_s = time.perf_counter() - t
    blob = encode(out)
    return {"scenario": name, "modules": n_modules, "input_types": n_in,
            "output_types": len(out.types),
            "add_s": round(add_s, 2), "finish_s": round(finish_s, 2),
            "rss_with_vmlinux_model_mb": rss0, "peak_rss_mb": _rss_mb(),
            "sha256": __import__("hashlib").sha256(blob).hexdigest()}


def run_child(name: str, n_modules: int) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS.parent), str(TESTS)]))
    code = (f"import json, test_dedup_corpus as T; "
            f"print(json.dumps(T.scenario({name!r}, {n_modules})))")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                       text=True, check=True)
    figures = json.loads(r.stdout.strip().splitlines()[-1])
    print(f"\ndedup corpus: {figures}")
    return figures


# ---------------------------------------------------------------------------
# The tests


def test_vmlinux_is_already_deduplicated(vmlinux_btf):
    libbpf.require()
    out, m = dedup(vmlinux_btf)
    assert list(m) == list(range(vmlinux_btf.type_count))
    assert "".join(dump_text(out)) == "".join(dump_text(vmlinux_btf))
    cnt, _ = libbpf.dedup_bytes(encode(vmlinux_btf))
    assert len(out.types) == cnt - 1


@pytest.fixture(scope="module")
def modules(corpus_dir, vmlinux_btf):
    mods = load_modules(corpus_dir, vmlinux_btf, MODULES)
    assert len(mods) == MODULES
    return mods


def test_vmlinux_and_modules_standalone(vmlinux_btf, modules):
    """vmlinux first, then each module with the vmlinux types it uses: the
    vmlinux comes back unchanged, every copied vmlinux type maps onto it,
    and no more remains than the modules' own types."""
    libbpf.require()
    v = vmlinux_btf
    units = [standalone(m) for m in modules]
    d = Deduper()
    d.add_unit(v.types)
    for u, _ in units:
        d.add_unit(u)
    out, maps = d.finish()
    n = len(v.types)
    vm = maps[0]
    # No two vmlinux types merge, each keeps its label -- but a vmlinux FWD
    # a module defines (uniquely) now stands for that definition.
    assert len(set(vm[1:])) == n
    resolved = 0
    for i in range(1, n + 1):
        t, o = v[i], out[vm[i]]
        if isinstance(t, Fwd) and not isinstance(o, Fwd):
            assert o.name == t.name and isinstance(o, Union if t.union else Struct)
            resolved += 1
        elif isinstance(t, (Enum, Enum64)) and not t.values and o.values:
            assert o.name == t.name and isinstance(o, (Enum, Enum64))
            resolved += 1
        else:
            assert _label(t, 0) == _label(o, 0)
    print(f"\n{resolved} vmlinux declarations resolved by the modules' definitions")
    for (_, used), m, mod in zip(units, maps[1:], modules):
        base_ids = sorted(_closure(v, mod))
        # copies of vmlinux types map where vmlinux's own do
        assert list(m[1:used + 1]) == [vm[b] for b in base_ids]
    own = sum(len(mod.types) for mod in modules)
    assert n - resolved < len(out.types) <= n + own
    cnt, _ = libbpf.dedup_bytes(encode(Btf(concat([v.types] + [u for u, _ in units]))))
    assert len(out.types) <= cnt - 1
    _no_identical_records(out)


def _closure(v: Btf, mod: Btf) -> set[int]:
    need: set[int] = set()
    work = [r for t in mod.types for r in type_refs(t) if 0 < r < mod.start_id]
    while work:
        r = work.pop()
        if r not in need:
            need.add(r)
            work.extend(x for x in type_refs(v[r]) if x and x not in need)
    return need


def test_modules_split_over_vmlinux(vmlinux_btf, modules):
    """Split mode: base untouched, and no split type equals a base type."""
    libbpf.require()
    v = vmlinux_btf
    before = encode(v)
    units = [over_base(standalone(m)[0], v.type_count) for m in modules]
    d = Deduper(v)
    for u in units:
        d.add_unit(u)
    out, maps = d.finish()
    assert encode(v) == before
    assert out.base is v
    for m in maps:
        assert list(m[:v.type_count]) == list(range(v.type_count))
    _no_split_type_equals_a_base_type(out)
    cnt, _ = libbpf.dedup_bytes(encode(Btf(_concat_split(units, v.type_count), base=v)),
                                encode(v))
    assert len(out.types) <= cnt - v.type_count
    # each module's own types are in the split part, once
    assert len(out.types) <= sum(len(mod.types) for mod in modules)


def _concat_split(units: list[list], first: int) -> list:
    out: list = []
    for types in units:
        off = len(out)
        out += [_with_refs(t, [r + off if r >= first else r for r in type_refs(t)])
                for t in types]
    return out


def _no_split_type_equals_a_base_type(btf: Btf) -> None:
    """Bisimulation classes over base and split part together (the property
    tests' naive Moore refinement, independent of dedup's code): no split
    type shares a class with a base type, nor with another split type."""
    base = btf.base
    nodes = [base[i] for i in range(1, base.type_count)] + list(btf.types)
    void = len(nodes)
    succ = [[r - 1 if r else void for r in type_refs(t)] for t in nodes] + [[]]
    cls = bisimulation([_label(t, v) for v, t in enumerate(nodes)] + ["void"], succ)
    first = len(base.types) if base.base is None else base.type_count - 1
    base_classes = set(cls[:first])
    split = cls[first:void]
    clash = [first + 1 + i for i, c in enumerate(split) if c in base_classes]
    assert not clash, f"split types equal to base types: {clash[:10]}"
    assert len(set(split)) == len(split)


def _no_identical_records(btf: Btf) -> None:
    """No two types (but variables) have the same record: the output is
    canonical, so equal records would be equal types."""
    records = Counter()
    for t in btf.types:
        if isinstance(t, (Var, Datasec)) or (isinstance(t, DeclTag)
                                             and isinstance(btf[t.type], (Var, Datasec))):
            continue
        records[repr(t)] += 1
    dups = [r for r, c in records.items() if c > 1]
    assert not dups, dups[:3]


@pytest.mark.parametrize("p_fwd", [0.3, 0.7])
def test_synthetic_cu_views(vmlinux_btf, p_fwd):
    """Partial views of vmlinux, then vmlinux itself: what the encoder
    streams per CU.  At most libbpf's count; the vmlinux types come back."""
    libbpf.require()
    v = vmlinux_btf
    rng = random.Random(int(p_fwd * 10))
    units = [cu_view(v, rng, 20, p_fwd) for _ in range(150)] + [list(v.types)]
    d = Deduper()
    for u in units:
        d.add_unit(u)
    out, maps = d.finish()
    cnt, _ = libbpf.dedup_bytes(encode(Btf(concat(units))))
    assert len(out.types) <= cnt - 1
    # every vmlinux type is in the output, as itself
    last = maps[-1]
    assert len(set(last[1:])) == len(v.types)
    _no_identical_records(out)


def test_figures_and_jobs():
    """Time and peak RSS of both module scenarios (child processes), and the
    same bytes whatever `jobs` is."""
    if corpus.corpus_root() is None:
        pytest.skip(corpus.MISSING)
    a = run_child("standalone", MODULES)
    b = run_child("split", MODULES)
    assert a["output_types"] > b["output_types"]
    v = parse(corpus.vmlinux_btf_path().read_bytes())
    blobs = set()
    for jobs in (1, 2, 4):
        d = Deduper(jobs=jobs)
        d.add_unit(v.types)
        blobs.add(encode(d.finish()[0]))
    assert len(blobs) == 1
