"""dedup against libbpf's `btf__dedup` (through ctypes) on the same input.

The requirement is "at least as tight": our type count never exceeds
libbpf's.  On real BTF both come out equal; on random graphs we are
sometimes tighter (exact minimisation, per-unit declarations) and libbpf
often refuses the input (pointer loops: -ELOOP).

Inputs: the Linux 7.1 vmlinux sample from ../shared (concatenated with
itself) and its bpf_testmod split BTF, the fixture BTF pahole made (fixtures/obj/*.btf) in several
copies and all together, and the property tests' random units.  Also here:
output byte-identical across processes with different hash seeds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

import libbpf
from dedup import Deduper, dedup
from encoder.btf.model import Btf, Datasec, DeclTag, Var, type_refs
from encoder.btf.reader import parse
from encoder.btf.writer import encode
from test_dedup_props import _with_refs, random_units
from util import REPO, external

pytestmark = pytest.mark.usefixtures("dedup_walks")   # _cdedup.c and engine.py's loops

FIXTURES = sorted((REPO / "fixtures" / "obj").glob("*.btf"))


def concat(parts: list[list]) -> Btf:
    """Standalone units one after the other, as one standalone BTF."""
    out: list = []
    for types in parts:
        off = len(out)
        out += [_with_refs(t, [r + off if r else 0 for r in type_refs(t)]) for t in types]
    return Btf(out)


def libbpf_count(btf: Btf, base: Btf | None = None) -> int:
    """How many own types libbpf's dedup leaves."""
    cnt, _ = libbpf.dedup_bytes(encode(btf), encode(base) if base is not None else None)
    return cnt - (base.type_count if base is not None else 1)


@pytest.fixture(scope="module")
def vmlinux71() -> Btf:
    return parse(external("vmlinux.btf"))


def test_vmlinux71_doubled(vmlinux71):
    libbpf.require()
    doubled = concat([vmlinux71.types, vmlinux71.types])
    theirs = libbpf_count(doubled)
    ours, m = dedup(doubled)
    assert len(ours.types) <= theirs
    # Both keep one copy of every type but VAR and DATASEC (never merged).
    n = len(vmlinux71.types)
    kinds = Counter(type(t).__name__ for t in vmlinux71.types)
    assert len(ours.types) == n - 4 + kinds["Var"] + kinds["Datasec"]
    assert list(m[n + 1:n + 50]) == list(m[1:50])


def test_vmlinux71_alone_is_a_fixpoint(vmlinux71):
    """libbpf left 4 duplicates in the 7.1 sample; once deduplicated, a
    second pass changes nothing."""
    once, _ = dedup(vmlinux71)
    blob = encode(once)
    twice, m = dedup(parse(blob))
    assert encode(twice) == blob
    assert list(m) == list(range(len(once.types) + 1))


def test_testmod_split_over_distilled_base():
    """7.1's bpf_testmod: split BTF over its distilled .BTF.base."""
    libbpf.require()
    base_blob, mod_blob = external("btf_testmod.btf.base"), external("btf_testmod.btf")
    base = parse(base_blob)
    mod = parse(mod_blob, base=base)
    ours, m = dedup(mod)
    cnt, _ = libbpf.dedup_bytes(mod_blob, base_blob)
    assert ours.base is base
    assert len(ours.types) <= cnt - base.type_count
    assert list(m[:base.type_count]) == list(range(base.type_count))
    again, _ = dedup(parse(encode(ours), base=base))
    assert encode(again) == encode(ours)


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture_copies(path):
    libbpf.require()
    b = parse(path.read_bytes())
    cat = concat([b.types] * 3)
    ours, m = dedup(cat)
    assert len(ours.types) <= libbpf_count(cat)
    # every copy maps onto the first, but for variables (never merged) and
    # what refers to them
    n = len(b.types)
    own = {i for i, t in enumerate(b.types, 1) if isinstance(t, (Var, Datasec))}
    own |= {i for i, t in enumerate(b.types, 1)
            if isinstance(t, DeclTag) and t.type in own}
    shared = [i for i in range(1, n + 1) if i not in own]
    for k in (1, 2):
        assert [m[k * n + i] for i in shared] == [m[i] for i in shared]


def test_all_fixtures_together():
    """156 programs' BTF as one input (clashing names, shared headers), as
    one unit and as one unit per program."""
    libbpf.require()
    parts = [parse(p.read_bytes()).types for p in FIXTURES]
    cat = concat(parts)
    theirs = libbpf_count(cat)
    ours, _ = dedup(cat)
    d = Deduper()
    for types in parts:
        d.add_unit(types)
    streamed, _ = d.finish()
    assert len(ours.types) <= theirs
    assert len(streamed.types) <= theirs


def test_random_units_never_looser_than_libbpf():
    libbpf.require()
    compared = 0
    for seed in range(300):
        units = random_units(seed, 10)
        try:
            theirs = libbpf_count(concat(units))
        except (RuntimeError, ValueError):
            continue                       # libbpf refuses pointer loops and the like
        d = Deduper()
        for u in units:
            d.add_unit(u)
        ours, _ = d.finish()
        assert len(ours.types) <= theirs, f"seed {seed}"
        compared += 1
    assert compared > 50


_SCRIPT = textwrap.dedent("""
    import sys, hashlib
    sys.path.insert(0, {tests!r})
    from test_dedup_libbpf import FIXTURES, concat
    from encoder.btf.reader import parse
    from encoder.btf.writer import encode
    from dedup import Deduper
    d = Deduper()
    for p in FIXTURES:
        d.add_unit(parse(p.read_bytes()).types)
    out, maps = d.finish()
    h = hashlib.sha256(encode(out))
    for m in maps:
        h.update(m.tobytes())
    print(h.hexdigest())
""")


def test_same_bytes_in_any_process():
    """Names are strings, and Python randomises string hashes per process:
    nothing in the output may depend on it."""
    tests = str(Path(__file__).resolve().parent)
    digests = set()
    for seed in ("1", "2", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed,
                   PYTHONPATH=os.pathsep.join([str(REPO), tests]))
        r = subprocess.run([sys.executable, "-c", _SCRIPT.format(tests=tests)],
                           env=env, capture_output=True, text=True, check=True)
        digests.add(r.stdout.strip())
    assert len(digests) == 1
