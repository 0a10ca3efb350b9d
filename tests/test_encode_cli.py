"""`dwarf2btf encode` as a user runs it: pahole's options, files, errors."""

import shutil
import subprocess
import sys

import pytest

from encoder.btf.reader import load, parse

from util import REPO, bpftool

OBJ = REPO / "fixtures" / "obj" / "kinds.gcc.dwarf5.o"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "encoder", "encode", *args],
                          capture_output=True, text=True)


def test_detached_output_equals_pahole_dump(tmp_path):
    out = tmp_path / "out.btf"
    r = run(str(OBJ), "--btf_gen_floats", f"--btf_encode_detached={out}")
    assert r.returncode == 0, r.stderr
    ours = bpftool("btf", "dump", "file", str(out)).decode()
    pahole = bpftool("btf", "dump", "file", str(OBJ.with_suffix(".btf"))).decode()
    assert sorted(ours.splitlines()) == sorted(pahole.splitlines())


def test_minus_J_writes_btf_into_the_object(tmp_path):
    if shutil.which("objcopy") is None:
        pytest.skip("objcopy is not installed")
    obj = tmp_path / "kinds.o"
    shutil.copyfile(OBJ, obj)
    r = run("-J", str(obj), "--btf_features=default")
    assert r.returncode == 0, r.stderr
    btf = load(obj)
    assert any(t.name == "with_anon" for t in btf.types)
    bpftool("btf", "dump", "file", str(obj))
    # again: replaces the section rather than adding a second one
    assert run("-J", str(obj), "--btf_features=default").returncode == 0
    assert load(obj).types == btf.types


def test_split_output_over_a_base(tmp_path):
    base = tmp_path / "base.btf"
    assert run(str(OBJ), "--btf_gen_floats", f"--btf_encode_detached={base}").returncode == 0
    split = tmp_path / "split.btf"
    other = REPO / "fixtures" / "obj" / "packed.gcc.dwarf5.o"
    r = run(str(other), "--btf_gen_floats", f"--btf_base={base}",
            f"--btf_encode_detached={split}")
    assert r.returncode == 0, r.stderr
    b = parse(base.read_bytes())
    s = parse(split.read_bytes(), base=b)
    assert s.start_id == b.type_count
    own_ints = [t.name for t in s.types if t.kind.name == "INT"]
    base_ints = {t.name for t in b.types if t.kind.name == "INT"}
    assert not set(own_ints) & base_ints, "split repeats base INTs"


def test_unknown_feature_warns_and_goes_on(tmp_path):
    r = run(str(OBJ), "--btf_features=var,no_such_thing", f"--btf_encode_detached={tmp_path / 'o'}")
    assert r.returncode == 0
    assert "unknown btf feature 'no_such_thing'" in r.stderr


@pytest.mark.parametrize("content", [b"", b"not an elf at all", b"\x7fELF\x02\x01\x01"])
def test_bad_input_is_one_line_exit_2_and_no_output(tmp_path, content):
    bad = tmp_path / "bad.o"
    bad.write_bytes(content)
    out = tmp_path / "out.btf"
    r = run(str(bad), f"--btf_encode_detached={out}")
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and str(bad) in r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists()


def test_object_without_dwarf(tmp_path):
    r = run("/bin/ls", f"--btf_encode_detached={tmp_path / 'o'}")
    assert r.returncode == 2 and "DWARF" in r.stderr


def test_nothing_to_do_is_an_error():
    r = run(str(OBJ))
    assert r.returncode == 2 and "nothing to do" in r.stderr


def test_verbose_lists_skipped_functions(tmp_path):
    obj = REPO / "fixtures" / "obj" / "ipa_clones.gcc.dwarf5.o"
    r = run(str(obj), "-v", f"--btf_encode_detached={tmp_path / 'o'}")
    assert r.returncode == 0
    assert "skipping function" in r.stderr
