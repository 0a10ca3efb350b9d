"""Dedup on Debian's 6.1 kernel, the evidence issue 4 asks for (make kernel-check).

* vmlinux: the real pipeline (`encode(Request(..., jobs=2))`) runs once for
  the whole file, watched: every unit's converted types are streamed, ids
  shifted, into a *pre-dedup* BTF (a plain concatenation, what pahole hands
  to libbpf), followed by the FUNC_PROTO/FUNC (+ decl tags) of every
  function the pipeline selected and its VARs and DATASECs, with unit-local
  type ids.  libbpf's `btf__dedup` runs on that input (in a child process,
  for its own time and RSS) and must not do better than we do: on the type
  part alone against our Deduper's result, and on the whole against the
  pipeline's output.  pahole 1.24 on the same vmlinux: our count excluding
  VAR/DATASEC is at most its count, and the VARs differ by exactly the ones
  docs/DIFFERENCES.md explains.
* vmlinux: no named type twice with one definition; the kernel's rules
  (6.1, resolve pass included) accept the blob.
* 50 modules, split over the vmlinux BTF Debian shipped: no split type whose
  canonical description (`compare.Canon`: anonymous types inline, named ones
  by kind and name) equals a base type's, and libbpf's dedup of our split
  BTF over that base removes nothing.
* vmlinux at jobs=1 and jobs=4: the same bytes as jobs=2 (the expensive one,
  last).

Figures and wall times are printed; run with -s to see them.
"""

from __future__ import annotations

import array
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import corpus
import libbpf
from dedup.compact import from_compact
from encoder.btf.compare import ENTRY_KINDS, Canon, entries
from encoder.btf.kinds import FuncLinkage, Kind
from encoder.btf.model import (Btf, Datasec, DeclTag, Func, FuncProto, Param, Ptr, Struct,
                               Var, VarSecinfo, type_refs)
from encoder.btf.reader import parse
from encoder.btf.strings import StringTable
from encoder.btf.verifier import PROFILES, verify_bytes
from encoder.btf.wire import Header
from encoder.btf.writer import _put
from encoder.btf.writer import encode as write
from encoder.encode import Request, encode
from encoder.features import Features
from test_dedup_props import _with_refs

pytestmark = pytest.mark.kernel_check

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
FEATURES = "var,float,decl_tag,type_tag,enum64"
PAHOLE_FLAGS = ["--btf_gen_floats", "--lang_exclude=rust"]
NAMED_KINDS = ("STRUCT", "UNION", "ENUM", "ENUM64", "TYPEDEF", "FWD", "INT", "FLOAT", "FUNC")
# VARs we encode and pahole 1.24 does not, each explained in docs/DIFFERENCES.md.
DOCUMENTED_EXTRA_VARS = frozenset({"fixed_percpu_data"})
N_MODULES = 50
MUST_MODULES = ("kernel/fs/xfs/xfs.ko",)
JOBS = 2

T0 = time.perf_counter()


def _features() -> Features:
    return Features.parse(FEATURES)


def _rss_mb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return -1


def _kinds(types) -> Counter:
    return Counter(t.kind.name for t in types)


def _fmt_kinds(c: Counter) -> str:
    return ", ".join(f"{k} {n}" for k, n in sorted(c.items()))


@pytest.fixture(autouse=True)
def _wall_time(request):
    t = time.perf_counter()
    yield
    print(f"\n[{request.node.name}] wall {time.perf_counter() - t:.1f} s "
          f"(file so far {time.perf_counter() - T0:.1f} s)")


@pytest.fixture(scope="module")
def root(corpus_dir):
    return corpus_dir


# ---------------------------------------------------------------------------
# The pre-dedup BTF: a concatenation of the units, streamed as raw records


class PreDedup:
    """A standalone BTF written record by record to a file: each unit's
    types with their ids shifted after the previous units' (a plain
    concatenation), then whatever `add` appends with ids already global.
    Records are made by the writer's own `_put`, strings interned in one
    table, first come, first placed, as `writer.encode` does."""

    def __init__(self, path: Path, keep_units: int = 0):
        assert sys.byteorder == "little"
        self.path = path
        self.file = open(path, "wb")
        self.strings = StringTable()
        self.count = 0                       # own types so far (ids 1..count)
        self.type_bytes = 0
        self.unit_kinds: Counter = Counter()
        self.tail_kinds: Counter = Counter()
        self.units = 0
        self.unit_type_bytes = 0             # set by end_units()
        self.unit_count = 0
        self.kept: list[list] = []           # the first units, for a self-check
        self.keep_units = keep_units
        self.kept_bytes = 0

    def add_unit(self, types) -> int:
        """Append one unit (local ids 1..n); returns its offset."""
        off = self.count
        words = array.array("I")
        add = self.strings.add
        for t in types:
            _put(_with_refs(t, [r + off if r else 0 for r in type_refs(t)]), add, words)
        data = words.tobytes()
        self.file.write(data)
        self.type_bytes += len(data)
        self.count += len(types)
        self.unit_kinds.update(t.kind.name for t in types)
        self.units += 1
        if self.units <= self.keep_units:
            self.kept.append(list(types))
            self.kept_bytes = self.type_bytes
        return off

    def end_units(self) -> None:
        self.unit_type_bytes = self.type_bytes
        self.unit_count = self.count

    def add(self, t) -> int:
        """Append one type whose references are already global ids."""
        words = array.array("I")
        _put(t, self.strings.add, words)
        data = words.tobytes()
        self.file.write(data)
        self.type_bytes += len(data)
        self.count += 1
        self.tail_kinds[t.kind.name] += 1
        return self.count

    def close(self) -> None:
        self.file.close()

    def blob(self, type_bytes: int) -> bytes:
        """The BTF of the first `type_bytes` bytes of records, with all strings."""
        strings = self.strings.bytes()
        with open(self.path, "rb") as f:
            types = f.read(type_bytes)
        h = Header(24, 0, len(types), len(types), len(strings))
        return h.pack() + types + strings


@dataclass
class Watched:
    """What the watched pipeline run saw."""
    pre: PreDedup
    offsets: list[int] = field(default_factory=list)      # per unit handle
    type_part: list = field(default_factory=list)         # our Deduper's output types
    selected: list = field(default_factory=list)          # (handle, FuncCandidate)
    n_before_vars: int = 0


@contextmanager
def watching(pre: PreDedup):
    """Run `encode` as is, but see each unit as it goes into the Deduper and
    which functions and variables the pipeline selects after it."""
    import dedup as dedup_pkg
    import encoder.encode as enc

    w = Watched(pre)
    real_deduper = dedup_pkg.Deduper
    real_funcs, real_vars = enc.emit_functions, enc.emit_variables

    class WatchedDeduper(real_deduper):
        # every unit enters through add_compact (add_unit calls it too)
        def add_compact(self, labels, refs, **kw):
            w.offsets.append(pre.add_unit([from_compact(lb, r) for lb, r in zip(labels, refs)]))
            handle = super().add_compact(labels, refs, **kw)
            assert handle == len(w.offsets) - 1
            return handle

    class SelectRecorder:
        def __init__(self, table, handle_of):
            self._table, self._handle_of = table, handle_of

        def select(self, f):
            why = self._table.select(f)
            if why is None:
                w.selected.append((self._handle_of[id(f)], f))
            return why

        def __getattr__(self, name):
            return getattr(self._table, name)

    def emit_functions(btf, maps, funcs, table, *rest, **kw):
        pre.end_units()
        w.type_part = list(btf.types)
        handle_of = {id(f): h for h, f, _ in funcs}
        real_funcs(btf, maps, funcs, SelectRecorder(table, handle_of), *rest, **kw)
        # the pre-dedup FUNC_PROTO + FUNC (+ decl tags), one per selection
        for h, f in w.selected:
            off = w.offsets[h]
            p = f.proto
            proto = FuncProto(p.ret + off if p.ret else 0,
                              [Param(x.name, x.type + off if x.type else 0) for x in p.params])
            fid = pre.add(Func(f.name, pre.add(proto), FuncLinkage.STATIC))
            for value, idx in f.tags:
                pre.add(DeclTag(value, fid, idx))

    def emit_variables(btf, maps, vars_, table, *rest, **kw):
        n0 = len(btf.types)
        w.n_before_vars = n0
        real_vars(btf, maps, vars_, table, *rest, **kw)
        # Which candidate each emitted VAR came from: the emitted VARs are a
        # subsequence of the candidates, in order, with the name the ELF
        # symbol gives and the candidate's type after dedup.
        cands = iter(vars_)
        pre_id: dict[int, int] = {}
        for tid, t in zip(range(btf.start_id + n0, btf.type_count), btf.types[n0:]):
            if isinstance(t, Var):
                for h, v, _ in cands:
                    where = table.place(v)
                    if (not isinstance(where, str) and where[2] == t.name
                            and v.type and maps[h][v.type] == t.type):
                        break
                else:
                    raise AssertionError(f"no candidate for VAR {t.name}")
                pre_id[tid] = pre.add(Var(t.name, v.type + w.offsets[h], t.linkage))
            elif isinstance(t, DeclTag):
                pre_id[tid] = pre.add(DeclTag(t.name, pre_id[t.type], t.component_idx,
                                              t.attr))
            elif isinstance(t, Datasec):
                pre_id[tid] = pre.add(Datasec(t.name, t.size, [
                    VarSecinfo(pre_id[x.type], x.offset, x.size) for x in t.vars]))
            else:
                raise AssertionError(f"emit_variables added a {t.kind.name}")

    dedup_pkg.Deduper = WatchedDeduper
    enc.emit_functions, enc.emit_variables = emit_functions, emit_variables
    try:
        yield w
    finally:
        dedup_pkg.Deduper = real_deduper
        enc.emit_functions, enc.emit_variables = real_funcs, real_vars
        pre.close()


# ---------------------------------------------------------------------------
# libbpf in a child process (its own time and peak RSS; a crash stays there)

_CHILD = """
import json, sys, time
sys.path.insert(0, {tests!r})
import libbpf
src, out = sys.argv[1], sys.argv[2]
base = sys.argv[3] if len(sys.argv) > 3 else None
data = open(src, "rb").read()
bdata = open(base, "rb").read() if base else None
t = time.perf_counter()
cnt, raw = libbpf.dedup_bytes(data, bdata)
secs = time.perf_counter() - t
open(out, "wb").write(raw)
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
print(json.dumps({{"type_cnt": cnt, "secs": round(secs, 1), "peak_rss_mb": int(hwm) // 1024}}))
"""


def libbpf_dedup_file(src: Path, out: Path, base: Path | None = None) -> dict:
    libbpf.require()
    args = [sys.executable, "-c", _CHILD.format(tests=str(TESTS)), str(src), str(out)]
    if base is not None:
        args.append(str(base))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(TESTS)]))
    r = subprocess.run(args, env=env, capture_output=True, text=True)
    assert r.returncode == 0, f"libbpf child failed: {r.stderr[-3000:]}"
    return json.loads(r.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------
# The vmlinux run every vmlinux test shares


@dataclass
class VmlinuxRun:
    path: Path
    btf: Btf
    blob: bytes
    secs: float
    rss_mb: int
    watched: Watched
    tmp: Path


@pytest.fixture(scope="module")
def vmlinux(root, tmp_path_factory):
    """One watched jobs=2 encode of the dbg vmlinux: our BTF and the pre-dedup input."""
    tmp = tmp_path_factory.mktemp("dedup_kernel")
    path = corpus.vmlinux_path(root)
    pre = PreDedup(tmp / "pre-dedup.types", keep_units=25)
    t = time.perf_counter()
    with watching(pre) as w:
        # every unit converted in full: the whole pre-dedup stream, as
        # pahole hands it to libbpf (signatures would skip what repeats)
        res = encode(Request(str(path), features=_features(), jobs=JOBS, signatures=False))
    secs = time.perf_counter() - t
    blob = write(res.btf)
    print(f"\nvmlinux: watched encode (jobs={JOBS}) {secs:.1f} s, {res.units} units, "
          f"{len(res.btf.types)} types, {len(blob)} bytes; peak RSS {_rss_mb()} MB")
    return VmlinuxRun(path, res.btf, blob, secs, _rss_mb(), w, tmp)


def test_vmlinux_count_vs_libbpf_and_pahole(vmlinux):
    w, pre, ours = vmlinux.watched, vmlinux.watched.pre, vmlinux.btf
    tmp = vmlinux.tmp

    # The streamed records are what writer.encode makes of the concatenation.
    first = []
    for types in pre.kept:
        off = len(first)
        first += [_with_refs(t, [r + off if r else 0 for r in type_refs(t)]) for t in types]
    ref = write(Btf(first))
    assert pre.blob(pre.kept_bytes)[24:24 + pre.kept_bytes] == ref[24:24 + pre.kept_bytes]
    del first, ref

    # The tail is what the pipeline selected, no more no less.
    ours_kinds = _kinds(ours.types)
    tail_ours = _kinds(ours.types[w.n_before_vars:])
    assert pre.tail_kinds["FUNC"] == _kinds(ours.types[len(w.type_part):])["FUNC"]
    for k in ("VAR", "DATASEC"):
        assert pre.tail_kinds[k] == tail_ours[k] == ours_kinds[k]

    full_path, types_path = tmp / "pre-dedup-full.btf", tmp / "pre-dedup-types.btf"
    full_path.write_bytes(pre.blob(pre.type_bytes))
    types_path.write_bytes(pre.blob(pre.unit_type_bytes))
    print(f"\npre-dedup: {pre.units} units, {pre.unit_count} unit types "
          f"({_fmt_kinds(pre.unit_kinds)}); + {pre.count - pre.unit_count} selected "
          f"({_fmt_kinds(pre.tail_kinds)}); {full_path.stat().st_size >> 20} MiB")

    lb_types = libbpf_dedup_file(types_path, tmp / "libbpf-types.btf")
    lb_full = libbpf_dedup_file(full_path, tmp / "libbpf-full.btf")
    lb_types_btf = parse((tmp / "libbpf-types.btf").read_bytes())
    lb_full_btf = parse((tmp / "libbpf-full.btf").read_bytes())
    ours_types_n = len(w.type_part)
    print(f"type part: pre-dedup {pre.unit_count} -> libbpf {lb_types['type_cnt'] - 1} "
          f"({lb_types['secs']} s, peak RSS {lb_types['peak_rss_mb']} MB), "
          f"ours {ours_types_n}")
    print(f"  libbpf: {_fmt_kinds(_kinds(lb_types_btf.types))}")
    print(f"  ours:   {_fmt_kinds(_kinds(w.type_part))}")
    print(f"whole:     pre-dedup {pre.count} -> libbpf {lb_full['type_cnt'] - 1} "
          f"({lb_full['secs']} s, peak RSS {lb_full['peak_rss_mb']} MB), "
          f"ours {len(ours.types)}")
    print(f"  libbpf: {_fmt_kinds(_kinds(lb_full_btf.types))}")
    print(f"  ours:   {_fmt_kinds(ours_kinds)}")

    # libbpf on our own output finds nothing left to merge.
    (tmp / "ours.btf").write_bytes(vmlinux.blob)
    again = libbpf_dedup_file(tmp / "ours.btf", tmp / "ours-libbpf.btf")
    print(f"libbpf dedup of our output: {len(ours.types)} -> {again['type_cnt'] - 1}")

    # pahole 1.24 on the same vmlinux
    if shutil.which("pahole") is None:
        pytest.skip("pahole is not installed (apt-get install dwarves)")
    t = time.perf_counter()
    out = tmp / "pahole.btf"
    subprocess.run(["pahole", "-J", *PAHOLE_FLAGS, f"--btf_encode_detached={out}",
                    str(vmlinux.path)], check=True, capture_output=True)
    pahole_secs = time.perf_counter() - t
    ph = parse(out.read_bytes())
    ph_kinds = _kinds(ph.types)
    no_var = ("VAR", "DATASEC")

    def count_no_var(b: Btf) -> int:
        return sum(1 for t in b.types if t.kind.name not in no_var
                   and not (t.kind.name == "DECL_TAG" and b[t.type].kind.name in no_var))

    ours_nv, ph_nv = count_no_var(ours), count_no_var(ph)
    ours_vars = Counter(t.name for t in ours.types if isinstance(t, Var))
    ph_vars = Counter(t.name for t in ph.types if isinstance(t, Var))
    print(f"pahole 1.24: {len(ph.types)} types in {pahole_secs:.1f} s "
          f"({_fmt_kinds(ph_kinds)}); without VAR/DATASEC (and their decl tags): "
          f"pahole {ph_nv}, ours {ours_nv}")
    print(f"VARs: ours {sum(ours_vars.values())}, pahole {sum(ph_vars.values())}; "
          f"ours only {sorted((ours_vars - ph_vars).elements())}, "
          f"pahole only {sorted((ph_vars - ours_vars).elements())}")
    print(f"watched encode {vmlinux.secs:.1f} s (jobs={JOBS}), peak RSS {vmlinux.rss_mb} MB")

    assert ours_types_n <= lb_types["type_cnt"] - 1
    assert len(ours.types) <= lb_full["type_cnt"] - 1
    assert again["type_cnt"] - 1 == len(ours.types)
    assert ours_nv <= ph_nv
    assert set((ours_vars - ph_vars).elements()) == DOCUMENTED_EXTRA_VARS
    assert sum((ours_vars - ph_vars).values()) == len(DOCUMENTED_EXTRA_VARS)
    assert not (ph_vars - ours_vars)
    doc = (REPO / "docs" / "DIFFERENCES.md").read_text()
    assert all(name in doc for name in DOCUMENTED_EXTRA_VARS)


def test_vmlinux_no_named_duplicates_and_verifies(vmlinux):
    t = time.perf_counter()
    ents = entries(vmlinux.btf)
    dups = {key: [(body, n) for body, n in c.items() if n > 1]
            for key, c in ents.items() if key[0] in NAMED_KINDS and any(
                n > 1 for n in c.values())}
    print(f"\n{sum(len(c) for k, c in ents.items() if k[0] in NAMED_KINDS)} distinct named "
          f"definitions ({len(ents)} names, all kinds); duplicated: {len(dups)} "
          f"({time.perf_counter() - t:.1f} s)")
    assert not dups, list(dups.items())[:5]
    t = time.perf_counter()
    s = verify_bytes(vmlinux.blob, profile=PROFILES["6.1"], resolve=True)
    print(f"verifier (6.1, resolve): {s.types} types accepted "
          f"({time.perf_counter() - t:.1f} s)")
    assert s.types == len(vmlinux.btf.types) and s.resolved


# ---------------------------------------------------------------------------
# Modules, split over Debian's vmlinux BTF


def module_picks(root: Path, n: int = N_MODULES) -> list[Path]:
    """xfs.ko and an even spread of the others, deterministic."""
    mods = corpus.dbg_module_paths(root)
    rels = {corpus.module_relpath(p, root): p for p in mods}
    picks = [rels[m] for m in MUST_MODULES if m in rels]
    step = max(1, len(mods) // (n - len(picks)))
    picks += [p for p in mods[::step] if p not in picks][:n - len(picks)]
    return picks


def _ptr_to(base: Btf, target: int) -> int:
    return next(i for i, t in zip(base.own_ids(), base.types)
                if isinstance(t, Ptr) and t.type == target)


class _Canon(Canon):
    """`compare.Canon`, refined for comparing a split BTF with its base.

    Canon refers to a named type by kind and name, so two types that refer
    to *different* definitions of one name read the same.  With
    `ambiguous`, a reference to a (kind, name) that has several distinct
    definitions (base and split together) reads with a digest of the
    referenced definition's own description (`plain`).  With `fwd_as_def`,
    a reference to FWD X reads as one to the struct or union X (a FWD
    stands for the definition of its name)."""

    def __init__(self, btf: Btf, *, fwd_as_def: bool = False,
                 ambiguous: frozenset = frozenset(), plain: "_Canon | None" = None):
        super().__init__(btf)
        self.fwd_as_def = fwd_as_def
        self.ambiguous = ambiguous
        self.plain = plain

    def key(self, t) -> tuple[Kind, str]:
        k = t.kind
        if self.fwd_as_def and k == Kind.FWD:
            k = Kind.UNION if t.union else Kind.STRUCT
        return k, t.name

    def ref(self, type_id: int, depth: int = 0) -> str:
        if type_id and self.btf.has(type_id):
            t = self.btf[type_id]
            if t.name and t.kind in ENTRY_KINDS:
                k, name = self.key(t)
                if (k, name) in self.ambiguous:
                    digest = hashlib.blake2b(self.plain.body(type_id).encode(),
                                             digest_size=6).hexdigest()
                    return f"{k.name.lower()} {name}#{digest}"
                return f"{k.name.lower()} {name}"
        return super().ref(type_id, depth)


def _definitions(canon: _Canon, btf: Btf, ids) -> dict[tuple, set[str]]:
    """(kind, name) -> the distinct descriptions of the named types `ids`."""
    out: dict[tuple, set[str]] = defaultdict(set)
    for i in ids:
        t = btf[i]
        if t.name and t.kind in ENTRY_KINDS and not (canon.fwd_as_def and t.kind == Kind.FWD):
            out[(t.kind, t.name)].add(canon.body(i))
    return out


class SplitCheck:
    """Own types of split BTFs against one base, by canonical description."""

    def __init__(self, base: Btf, *, fwd_as_def: bool = False, ambiguous_names: bool = True):
        self.base = base
        self.fwd_as_def = fwd_as_def
        self.ambiguous_names = ambiguous_names
        self.plain_base = _Canon(base, fwd_as_def=fwd_as_def)
        self.base_defs = _definitions(self.plain_base, base, base.own_ids())
        self.base_ambiguous = {k for k, v in self.base_defs.items() if len(v) > 1}
        self._cache: dict[frozenset, dict] = {}

    def _base_bodies(self, amb: frozenset) -> dict[tuple, int]:
        got = self._cache.get(amb)
        if got is None:
            q = _Canon(self.base, fwd_as_def=self.fwd_as_def, ambiguous=amb,
                       plain=self.plain_base)
            got = {}
            for i, t in zip(self.base.own_ids(), self.base.types):
                got.setdefault((t.kind, q.body(i)), i)
            if len(self._cache) > 2:
                self._cache.clear()
            self._cache[amb] = got
        return got

    def run(self, split: Btf) -> tuple[list, list, int]:
        """(clashes: (own id, base id, body), duplicated named definitions
        among the own types, how many names are ambiguous)."""
        plain = _Canon(split, fwd_as_def=self.fwd_as_def)
        amb: set = set()
        if self.ambiguous_names:
            own_defs = _definitions(plain, split, split.own_ids())
            amb = set(self.base_ambiguous)
            amb |= {k for k, v in own_defs.items() if len(v | self.base_defs.get(k, set())) > 1}
        amb = frozenset(amb)
        base_bodies = self._base_bodies(amb)
        q = _Canon(split, fwd_as_def=self.fwd_as_def, ambiguous=amb, plain=plain)
        clashes = []
        named = Counter()
        for i, t in zip(split.own_ids(), split.types):
            body = q.body(i)
            b = base_bodies.get((t.kind, body))
            if b is not None:
                clashes.append((i, b, body[:160]))
            if t.name and t.kind.name in NAMED_KINDS:
                named[(t.kind.name, t.name, body)] += 1
        dups = [(k, n, body[:160]) for (k, n, body), c in named.items() if c > 1]
        return clashes, dups, len(amb)


def test_modules_nothing_the_base_has(root, tmp_path):
    """For each module, encoded as split BTF over Debian's vmlinux BTF:

    * `clash` (asserted 0): own types whose canonical description equals a
      base type's.  Descriptions are `compare.Canon`'s -- anonymous types
      inline, named ones by kind and name -- except that a name with
      several distinct definitions (base and split together) is told apart
      by a digest of the referenced definition's own description, so
      "equal" means: the same down to the named types referred to, and
      those the same definition by their own description;
    * `dupes` (asserted 0): a named definition twice among the own types;
    * `libbpf` (asserted equal to `own`): btf__dedup of our split BTF over
      the same base removes nothing.

    Printed beside them, not asserted: `plain`, the same comparison with
    Canon as is (names never told apart, so it also counts types that only
    share names with base types), and `fwd`, with a reference to FWD X
    reading as one to struct X (base FWDs the module defines then match).
    """
    libbpf.require()
    base_file = corpus.vmlinux_btf_path(root)
    base = parse(base_file.read_bytes())
    t = time.perf_counter()
    check = SplitCheck(base)
    plain = SplitCheck(base, ambiguous_names=False)
    fwd = SplitCheck(base, fwd_as_def=True)
    print(f"\nbase: {len(base.types)} types, {len(check.base_ambiguous)} names with "
          f"several definitions ({time.perf_counter() - t:.1f} s)")
    # The check sees a planted copy of a base struct and of a pointer to it,
    # and so does libbpf.
    sid = next(i for i, bt in zip(base.own_ids(), base.types)
               if isinstance(bt, Struct) and bt.name == "task_struct")
    planted = Btf([_with_refs(base[sid], list(type_refs(base[sid]))), Ptr(sid)], base=base)
    assert [c[1] for c in check.run(planted)[0]] == [sid, _ptr_to(base, sid)]
    (tmp_path / "planted.btf").write_bytes(write(planted))
    lb = libbpf_dedup_file(tmp_path / "planted.btf", tmp_path / "planted.out", base_file)
    assert lb["type_cnt"] == base.type_count
    picks = module_picks(root)
    assert len(picks) == N_MODULES
    assert any(p.name == "xfs.ko" for p in picks)
    failures = []
    totals = Counter()
    print(f"{'module':24} {'own':>6} {'clash':>6} {'plain':>6} {'fwd':>6} {'dupes':>5} "
          f"{'libbpf':>6} {'enc s':>6}")
    for p in picks:
        t = time.perf_counter()
        ours = encode(Request(str(p), base=base, features=_features(), jobs=JOBS)).btf
        enc_s = time.perf_counter() - t
        assert ours.base is base
        split = tmp_path / f"{p.stem}.btf"
        split.write_bytes(write(ours))
        clashes, dups, _ = check.run(ours)
        n_plain = len(plain.run(ours)[0])
        n_fwd = len(fwd.run(ours)[0])
        lb = libbpf_dedup_file(split, tmp_path / f"{p.stem}.libbpf.btf", base_file)
        after = lb["type_cnt"] - base.type_count
        print(f"{p.name:24} {len(ours.types):6} {len(clashes):6} {n_plain:6} {n_fwd:6} "
              f"{len(dups):5} {after:6} {enc_s:6.1f}")
        totals.update(own=len(ours.types), clash=len(clashes), plain=n_plain, fwd=n_fwd,
                      dups=len(dups), libbpf=after)
        if clashes or dups or after != len(ours.types):
            failures.append((p.name, f"own {len(ours.types)}, libbpf {after}",
                             clashes[:3], dups[:3]))
    print(f"totals: {dict(totals)}")
    assert not failures, failures


# ---------------------------------------------------------------------------
# Last, the expensive one


def test_vmlinux_same_bytes_any_jobs(vmlinux):
    for jobs in (1, 4):
        t = time.perf_counter()
        blob = write(encode(Request(str(vmlinux.path), features=_features(), jobs=jobs)).btf)
        print(f"\njobs={jobs}: {time.perf_counter() - t:.1f} s, {len(blob)} bytes, "
              f"{'same' if blob == vmlinux.blob else 'DIFFERENT'} as jobs={JOBS}")
        assert blob == vmlinux.blob, f"jobs={jobs} differs from jobs={JOBS}"
