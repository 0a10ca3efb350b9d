"""`dwarf2btf dedup IN -o OUT [--base BASE]` on BTF other tools made."""

import subprocess
import sys

from encoder.btf.model import Btf
from encoder.btf.reader import parse
from encoder.btf.writer import encode

from util import REPO, bpftool

PAHOLE_BTF = REPO / "fixtures" / "obj" / "kinds.gcc.dwarf5.btf"


def _concatenated(raw: bytes, copies: int) -> bytes:
    """`copies` copies of a base BTF's types in one BTF, ids shifted."""
    one = parse(raw)
    out = Btf()
    for k in range(copies):
        shift = k * len(one.types)
        for t in parse(raw).types:
            _shift(t, shift)
            out.add(t)
    return encode(out)


def _shift(t, by: int) -> None:
    for f in ("type", "index_type", "ret"):
        if getattr(t, f, 0):
            setattr(t, f, getattr(t, f) + by)
    for coll in ("members", "params", "vars"):
        for x in getattr(t, coll, None) or ():
            if x.type:
                x.type += by


def test_three_copies_dedup_to_one(tmp_path):
    raw = PAHOLE_BTF.read_bytes()
    src, dst = tmp_path / "in.btf", tmp_path / "out.btf"
    src.write_bytes(_concatenated(raw, 3))
    r = subprocess.run([sys.executable, "-m", "encoder", "dedup", str(src), "-o", str(dst)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert len(parse(dst.read_bytes()).types) == len(parse(raw).types)
    # the first copy survives, in order: bpftool sees the original
    assert bpftool("btf", "dump", "file", str(dst)) == \
        bpftool("btf", "dump", "file", str(PAHOLE_BTF))


def test_bad_input_one_line(tmp_path):
    src = tmp_path / "in.btf"
    src.write_bytes(b"\x9f\xeb\x01")
    r = subprocess.run([sys.executable, "-m", "encoder", "dedup", str(src), "-o",
                        str(tmp_path / "o")], capture_output=True, text=True)
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1
    assert not (tmp_path / "o").exists()
