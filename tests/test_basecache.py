"""The base cache (encoder/basecache.py): a base's derived data kept between runs.

What must hold: an encode over a base gives the same bytes whether the base's
data was computed, read back from a snapshot, or the cache is off; what a
snapshot hands back equals what would be computed; base types decoded on
demand equal those decoded up front; a snapshot that does not load is
ignored and replaced.
"""

import os
import subprocess
import sys
import time

import pytest

from encoder import basecache
from encoder.btf.perbase import PerBase
from encoder.btf.reader import load, parse, record_starts

from util import REPO

OBJ = REPO / "fixtures" / "obj"
BASES = [OBJ / "kinds.gcc.dwarf5.btf", OBJ / "kinds.clang.dwarf5.btf",
         OBJ / "anon_nested.gcc.dwarf4.btf"]
MODULES = [OBJ / "packed.gcc.dwarf5.o", OBJ / "kinds.clang.dwarf4.o",
           OBJ / "anon_typedefs.gcc.dwarf5.o"]
FEATURES = "--btf_features=default,decl_tag_kfuncs"


def encode(module, base, out, cache_home, *, cache=True) -> bytes:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home),
           "DWARF2BTF_BASE_CACHE": "1" if cache else "0"}
    r = subprocess.run([sys.executable, "-m", "encoder", "encode", FEATURES,
                        f"--btf_base={base}", f"--btf_encode_detached={out}", str(module)],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out.read_bytes()


def snapshots(cache_home) -> list:
    return sorted((cache_home / "dwarf2btf" / "base").glob("*.snap"))


@pytest.mark.parametrize("base", BASES, ids=lambda p: p.stem)
def test_same_bytes_computed_from_a_snapshot_and_without_cache(tmp_path, base):
    for module in MODULES:
        home = tmp_path / module.stem
        off = encode(module, base, tmp_path / "off.btf", home, cache=False)
        assert snapshots(home) == [], "the cache is off"
        first = encode(module, base, tmp_path / "first.btf", home)
        [snap] = snapshots(home)
        stamp = snap.stat().st_mtime_ns
        again = encode(module, base, tmp_path / "again.btf", home)
        assert off == first == again, module.name
        assert snapshots(home) == [snap] and snap.stat().st_mtime_ns == stamp, \
            "a run served by the snapshot wrote it again"


def test_a_snapshot_that_does_not_load_is_replaced(tmp_path):
    home = tmp_path / "cache"
    base, module = BASES[0], MODULES[0]
    want = encode(module, base, tmp_path / "a.btf", home)
    [snap] = snapshots(home)
    good = snap.read_bytes()
    # the last: one value's bytes changed (found when the value is thawed)
    for junk in (b"", b"not marshal", good[: len(good) // 2],
                 good[:-1] + bytes([good[-1] ^ 1])):
        snap.write_bytes(junk)
        assert encode(module, base, tmp_path / "b.btf", home) == want
        again = snap.read_bytes()
        assert again != junk, "written again"
        assert encode(module, base, tmp_path / "c.btf", home) == want
        assert snap.read_bytes() == again, "and read by the next run"


def test_another_base_gets_its_own_snapshot(tmp_path):
    home = tmp_path / "cache"
    encode(MODULES[0], BASES[0], tmp_path / "a.btf", home)
    encode(MODULES[0], BASES[1], tmp_path / "b.btf", home)
    assert len(snapshots(home)) == 2


@pytest.mark.parametrize("path", sorted(OBJ.glob("*.btf"))[::7], ids=lambda p: p.stem)
def test_types_decoded_on_demand_equal_those_decoded_up_front(path):
    eager = load(path)
    lazy = parse(eager.source[0], starts=record_starts(eager))
    assert len(lazy.types) == len(eager.types)
    assert list(lazy.types) == eager.types
    assert lazy.types[-1] == eager.types[-1] and lazy.types[1:3] == eager.types[1:3]


def _adopted_equal_computed(base_path, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("DWARF2BTF_BASE_CACHE", "1")
    computed = basecache.load_base(base_path)
    assert getattr(computed, "snapshot_key", None), "the first load parses"
    basecache.keep(computed)
    adopted = basecache.load_base(base_path)
    assert getattr(adopted, "snapshot_key", None) is None, "the second load adopts"
    assert adopted.types.__class__.__name__ == "LazyTypes"
    for name, value in sorted(PerBase.ALL.items()):
        assert value.export(adopted) == value.export(computed), name


@pytest.mark.parametrize("base", BASES, ids=lambda p: p.stem)
def test_adopted_values_equal_computed_ones(base, monkeypatch, tmp_path):
    _adopted_equal_computed(base, monkeypatch, tmp_path)


@pytest.mark.corpus
def test_adopted_values_equal_computed_ones_on_vmlinux(vmlinux_btf_file, monkeypatch, tmp_path):
    _adopted_equal_computed(vmlinux_btf_file, monkeypatch, tmp_path)


def test_learned_signatures_change_no_output():
    """encoder/learned.py: modules encoded one after another in one process
    (as in a batch worker) skip what earlier ones proved to be base types;
    the bytes must be those of a process that knew nothing."""
    from encoder import api, learned
    from encoder.btf.writer import encode as write

    base = load(OBJ / "kinds.gcc.dwarf5.btf")
    modules = sorted(OBJ.glob("*.gcc.dwarf4.o")) + sorted(OBJ.glob("*.clang.dwarf5.o"))
    fresh = []
    for m in modules:
        learned._LEARNED.clear()
        fresh.append(write(api.encode(m, base, features="default")))
    learned._LEARNED.clear()
    for _ in range(2):
        assert [write(api.encode(m, base, features="default")) for m in modules] == fresh
    assert sum(len(t) for by in learned._LEARNED.values() for t, _ in by.values()) > 10, \
        "nothing was learned: the test proves nothing"


def test_snapshots_of_an_older_encoder_and_beyond_the_newest_few_are_dropped(tmp_path):
    home = tmp_path / "cache"
    encode(MODULES[0], BASES[0], tmp_path / "a.btf", home)
    [mine] = snapshots(home)
    folder = mine.parent
    old = folder / (mine.stem.split("-")[0] + "-0123456789abcdef.snap")
    old.write_bytes(b"from an older encoder")
    others = [folder / f"{i:032x}-{mine.stem.split('-')[1]}.snap" for i in range(basecache.KEEP)]
    for i, p in enumerate(others):
        p.write_bytes(b"x")
        os.utime(p, (1000 + i, 1000 + i))
    mine.unlink()
    encode(MODULES[0], BASES[0], tmp_path / "b.btf", home)
    left = snapshots(home)
    assert old not in left and mine in left
    assert len(left) == basecache.KEEP and others[0] not in left


def test_the_code_hash_covers_the_c_sources(monkeypatch, tmp_path):
    """A cache made by other compiled code is another cache: the base cache
    keeps signatures that _cwalk.c computes."""
    from encoder import cachedir
    for pkg in ("encoder", "dedup"):
        (tmp_path / pkg).mkdir()
    (tmp_path / "encoder" / "a.py").write_text("x = 1\n")
    (tmp_path / "dedup" / "b.c").write_text("int x;\n")
    monkeypatch.setattr(cachedir, "__file__", str(tmp_path / "encoder" / "cachedir.py"))
    before = cachedir.code_hash()
    (tmp_path / "dedup" / "b.c").write_text("int y;\n")
    assert cachedir.code_hash() != before


def test_the_code_hash_sees_an_edit_that_keeps_size_and_mtime(monkeypatch, tmp_path):
    """Files count by their stat, not their bytes: an edit of the same size
    whose modification time is put back still makes another hash (the
    change time moves), and nothing changed makes the same."""
    from encoder import cachedir
    for pkg in ("encoder", "dedup"):
        (tmp_path / pkg / "sub").mkdir(parents=True)
    src = tmp_path / "encoder" / "sub" / "a.py"
    src.write_text("x = 1\n")
    monkeypatch.setattr(cachedir, "__file__", str(tmp_path / "encoder" / "cachedir.py"))
    before = cachedir.code_hash()
    assert cachedir.code_hash() == before
    st = src.stat()
    time.sleep(0.01)
    src.write_text("x = 2\n")
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert src.stat().st_mtime_ns == st.st_mtime_ns and src.stat().st_size == st.st_size
    assert cachedir.code_hash() != before
