"""Standalone module BTF (encoder/btf/standalone.py), and the module forms
of `dwarf2btf encode`: --standalone and --btf_features=...,distilled_base.

Judges: the running kernel (BPF_BTF_LOAD takes standalone BTF as it is),
bpftool (reads it without a base), our verifier with the kernel's resolve
pass, and the semantic comparer (the module's types mean what they meant).
"""

from __future__ import annotations

import subprocess
import sys
from functools import lru_cache

import pytest

import kernel
from encoder.btf.compare import entries
from encoder.btf.kinds import IntEncoding, Kind
from encoder.btf.model import Btf, Fwd, Int, Member, Ptr, Struct, Typedef
from encoder.btf.reader import load, parse, read_sections
from encoder.btf.relocate import relocate
from encoder.btf.standalone import reached_base_ids, standalone
from encoder.btf.verifier import verify_bytes
from encoder.btf.writer import encode
from util import REPO, bpftool, external

INT = Int("int", 4, 32, IntEncoding.SIGNED)


def means_the_same(split: Btf, out: Btf) -> None:
    """Every named entry of `split` is defined identically in `out` (which may
    hold it once where the split held duplicates: dedup merged them)."""
    have = entries(out)
    for key, bodies in entries(split).items():
        assert set(bodies) <= set(have.get(key, ())), key


def small() -> Btf:
    base = Btf([
        INT,                                                            # 1
        Struct("list", 8, [Member("next", 3, 0)]),                      # 2
        Ptr(2),                                                         # 3
        Struct("task", 16, [Member("l", 2, 0), Member("pid", 1, 64)]),  # 4
        Struct("unused", 4, [Member("x", 6, 0)]),                       # 5
        Int("unused_int", 4, 32),                                       # 6
        Typedef("task_t", 4),                                           # 7
    ])
    encode(base)
    n = base.type_count
    return Btf([
        Struct("mod", 16, [Member("t", n + 1, 0), Member("f", n + 3, 64)]),  # n
        Ptr(7),                                                         # n+1
        Fwd("task"),                                                    # n+2
        Ptr(n + 2),                                                     # n+3
    ], base=base)


def test_only_what_the_module_reaches_is_copied():
    split = small()
    assert reached_base_ids(split) == [1, 2, 3, 4, 7]
    out = standalone(split, dedup=False)
    assert out.base is None and out.start_id == 1
    assert [t.name for t in out.types[:5]] == ["int", "list", "", "task", "task_t"]
    assert out[6] == Struct("mod", 16, [Member("t", 7, 0), Member("f", 9, 64)])


def test_dedup_makes_the_modules_fwd_the_copied_struct():
    out = standalone(small())
    assert not [t for t in out.types if t.kind == Kind.FWD]
    [task] = [i for i in out.own_ids() if out[i].name == "task"]
    [mod] = [t for t in out.types if t.name == "mod"]
    assert out[out[mod.members[1].type].type] is out[task]
    data = encode(out)
    assert parse(data).type_count == out.type_count
    verify_bytes(data, resolve=True)


@lru_cache(maxsize=None)
def _testmod() -> tuple[Btf, Btf]:
    """Linux 7.1's btf_testmod, relocated onto its vmlinux, and standalone."""
    vm = parse(external("vmlinux.btf"))
    dist = parse(external("btf_testmod.btf.base"))
    split = relocate(parse(external("btf_testmod.btf"), base=dist), dist, vm)
    return split, standalone(split)


def test_btf_testmod_standalone_means_what_the_split_meant():
    split, out = _testmod()
    means_the_same(split, out)
    assert out.base is None and len(out.types) <= len(split.types) + len(
        reached_base_ids(split))
    verify_bytes(encode(out), resolve=True)


def test_btf_testmod_standalone_reads_without_a_base(tmp_path):
    _, out = _testmod()
    path = tmp_path / "standalone.btf"
    path.write_bytes(encode(out))
    text = bpftool("btf", "dump", "file", str(path)).decode()
    assert sum(line.startswith("[") for line in text.splitlines()) == len(out.types)
    assert "STRUCT 'bpf_testmod_struct_arg_1'" in text


@pytest.mark.kernel
def test_btf_testmod_standalone_loads_into_the_kernel():
    why = kernel.available()
    if why:
        pytest.skip(why)
    _, out = _testmod()
    ok, err, log = kernel.load_btf(encode(out))
    assert ok, kernel.last_line(log)


# --- dwarf2btf encode: the module forms ----------------------------------------------

OBJ = REPO / "fixtures" / "obj" / "kinds.clang.dwarf5.o"
BASE = REPO / "fixtures" / "obj" / "kinds.gcc.dwarf5.btf"   # pahole's BTF of the gcc build


def _encode(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "encoder", "encode", str(OBJ),
                           "--btf_base", str(BASE), *args],
                          cwd=REPO, capture_output=True, text=True)


@pytest.fixture(scope="module")
def plain_split(tmp_path_factory) -> Btf:
    """The plain split BTF of OBJ over BASE, as `encode` writes it."""
    out = tmp_path_factory.mktemp("plain") / "split.btf"
    r = _encode("--btf_features=default", f"--btf_encode_detached={out}")
    assert r.returncode == 0, r.stderr
    return load(out, base=load(BASE))


def test_encode_standalone(tmp_path, plain_split):
    out = tmp_path / "standalone.btf"
    r = _encode("--btf_features=default", "--standalone", f"--btf_encode_detached={out}")
    assert r.returncode == 0, r.stderr
    got = load(out)
    assert got.base is None
    assert encode(standalone(plain_split)) == out.read_bytes()
    means_the_same(plain_split, got)
    bpftool("btf", "dump", "file", str(out))
    if kernel.available() is None:
        ok, _, log = kernel.load_btf(out.read_bytes())
        assert ok, kernel.last_line(log)


def test_encode_distilled_base_writes_btf_and_btf_base(tmp_path, plain_split):
    out = tmp_path / "mod.btf"
    r = _encode("--btf_features=default,distilled_base", f"--btf_encode_detached={out}")
    assert r.returncode == 0, r.stderr
    dist = load(tmp_path / "mod.btf.base")
    assert {t.kind for t in dist.types} <= {Kind.INT, Kind.FLOAT, Kind.STRUCT,
                                            Kind.UNION, Kind.ENUM, Kind.FWD}
    assert all(not getattr(t, "members", None) for t in dist.types)
    # relocated onto the base it was made over, it is the plain split again
    back = relocate(load(out, base=dist), dist, plain_split.base)
    means_the_same(plain_split, back)
    # `dwarf2btf relocate` finds MOD.base beside a raw MOD by itself
    r = subprocess.run([sys.executable, "-m", "encoder", "relocate", str(out), "--base",
                        str(BASE), "-o", str(tmp_path / "back.btf")],
                       cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "back.btf").read_bytes() == encode(back)


def test_module_forms_need_a_base(tmp_path):
    r = subprocess.run([sys.executable, "-m", "encoder", "encode", str(OBJ), "--standalone",
                        f"--btf_encode_detached={tmp_path / 'x.btf'}"],
                       cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 2 and "give --btf_base" in r.stderr
    assert len(r.stderr.splitlines()) == 1 and not (tmp_path / "x.btf").exists()


def test_encode_distilled_base_into_the_object(tmp_path):
    """-J puts the same two blobs into .BTF and .BTF.base, and `relocate`
    reads them from there."""
    obj = tmp_path / "mod.o"
    obj.write_bytes(OBJ.read_bytes())
    detached = tmp_path / "mod.btf"
    feats = "--btf_features=default,distilled_base"
    assert _encode(feats, f"--btf_encode_detached={detached}").returncode == 0
    r = subprocess.run([sys.executable, "-m", "encoder", "encode", str(obj), "-J",
                        "--btf_base", str(BASE), feats], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    btf, base, _ = read_sections(obj)
    assert btf == detached.read_bytes()
    assert base == (tmp_path / "mod.btf.base").read_bytes()
    outs = []
    for module in (obj, detached):
        out = tmp_path / f"{module.name}.relocated"
        r = subprocess.run([sys.executable, "-m", "encoder", "relocate", str(module), "-B",
                            str(BASE), "-o", str(out), "-q"],
                           cwd=REPO, capture_output=True, text=True)
        assert r.returncode == 0 and r.stderr == "", r.stderr
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
