"""`dwarf2btf dump` prints what bpftool prints, byte for byte."""

import json
import subprocess
import sys

import pytest

from encoder.btf.dump import dump_json, dump_text
from encoder.btf.reader import parse
from encoder.btf.writer import encode

from badblobs import good_btf as every_kind
from util import EXTERNAL, bpftool, external


def ours(*args: str) -> bytes:
    return subprocess.run([sys.executable, "-m", "encoder", "dump", *args],
                          check=True, capture_output=True).stdout


def test_every_kind_equals_bpftool(tmp_path):
    path = tmp_path / "every.btf"
    path.write_bytes(encode(every_kind()))
    assert ours(str(path)).decode() == bpftool("btf", "dump", "file", str(path)).decode()


def test_every_kind_json_equals_bpftool(tmp_path):
    path = tmp_path / "every.btf"
    path.write_bytes(encode(every_kind()))
    theirs = json.loads(bpftool("-j", "btf", "dump", "file", str(path)))
    assert json.loads(ours("--format", "json", str(path))) == theirs


@pytest.mark.parametrize("fmt", ["raw", "json"])
def test_linux_7_1_vmlinux_equals_bpftool(tmp_path, fmt):
    path = tmp_path / "vmlinux.btf"
    path.write_bytes(external("vmlinux.btf"))
    btf = parse(path.read_bytes())
    if fmt == "raw":
        assert "".join(dump_text(btf)).encode() == bpftool("btf", "dump", "file", str(path))
    else:
        assert json.loads(dump_json(btf)) == json.loads(
            bpftool("-j", "btf", "dump", "file", str(path)))


def test_split_over_distilled_base_equals_bpftool():
    external("btf_testmod.btf")
    split, base = str(EXTERNAL / "btf_testmod.btf"), str(EXTERNAL / "btf_testmod.btf.base")
    assert ours(split, "--base", base) == bpftool("-B", base, "btf", "dump", "file", split)
    assert json.loads(ours("--format", "json", split, "-B", base)) == json.loads(
        bpftool("-j", "-B", base, "btf", "dump", "file", split))
