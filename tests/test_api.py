"""The Python API (encoder/api.py): encode, load, Btf.dump/write, diff, stats.

Judged by pahole 1.24's BTF of the fixtures and by bpftool reading what the
API wrote, never by our own output alone.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from encoder import api
from encoder.btf.compare import compare
from encoder.btf.reader import parse
from encoder.errors import Dwarf2BtfError

from util import REPO, bpftool

OBJ = REPO / "fixtures" / "obj"
PAHOLE_1_24 = "var,float,decl_tag,type_tag,enum64"


def test_encode_equals_pahole_and_writes_what_bpftool_reads(tmp_path):
    obj = OBJ / "fwd_split.clang.dwarf5.o"
    btf = api.encode(obj, features=PAHOLE_1_24)
    rep = compare(parse(obj.with_suffix(".btf").read_bytes()), btf)
    assert rep.share_identical() == 1.0 and not rep.extra, rep.text()
    out = tmp_path / "out.btf"
    btf.write(out)
    assert btf.dump() == bpftool("btf", "dump", "file", str(out)).decode()
    assert btf.to_bytes() == out.read_bytes()
    assert api.load(out).dump("json") == btf.dump("json")


def test_encode_over_a_base_given_as_path_or_btf():
    base_path = OBJ / "kinds.gcc.dwarf5.btf"
    obj = OBJ / "packed.gcc.dwarf5.o"
    by_path = api.encode(obj, base=base_path, features=PAHOLE_1_24)
    by_btf = api.encode(obj, base=api.load(base_path), features=PAHOLE_1_24)
    assert by_path.start_id == by_btf.start_id == len(parse(base_path.read_bytes()).types) + 1
    assert by_path.to_bytes() == by_btf.to_bytes()


def test_encode_result_has_the_skipped_functions():
    res = api.encode_result(OBJ / "ipa_clones.gcc.dwarf5.o", features=PAHOLE_1_24)
    skipped = {s.name for s in res.skips if s.kind == "function"}
    funcs = {t.name for t in res.btf.types if t.kind.name == "FUNC"}
    ref = {t.name for t in parse((OBJ / "ipa_clones.gcc.dwarf5.btf").read_bytes()).types
           if t.kind.name == "FUNC"}
    assert funcs == ref and skipped - funcs     # the clones pahole 1.24 leaves out


def test_bad_input_raises_the_one_line_error(tmp_path):
    bad = tmp_path / "bad.o"
    bad.write_bytes(b"\x7fELF\x02\x01\x01")
    with pytest.raises(Dwarf2BtfError) as e:
        api.encode(bad)
    assert str(bad) in str(e.value) and "\n" not in str(e.value)


def test_diff_and_stats():
    a, b = OBJ / "kinds.gcc.dwarf5.btf", OBJ / "kinds.clang.dwarf5.btf"
    assert api.diff(a, a).same
    d = api.diff(a, b, kinds={"TYPEDEF"})
    assert not d.same and {c.kind for c in d.changes} == {"TYPEDEF"}
    s = api.stats(a)
    assert s.types == len(parse(a.read_bytes()).types) and s.total_bytes == a.stat().st_size


def test_import_stays_cheap():
    """`import encoder.api` must not pull in the encoder pipeline: scripts
    that only load or diff BTF, and kbuild's `--version`, stay quick."""
    code = "import sys, encoder.api; print(sorted(m for m in sys.modules if 'encoder' in m))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True).stdout
    assert "encoder.encode" not in out and "encoder.dwarf" not in out
