"""Our BTF of every C fixture equals pahole 1.24's, by name and full structure.

The fixtures (fixtures/src, built by `make fixtures` with gcc and clang,
DWARF 4 and 5) carry pahole's BTF of each object, made with the kbuild flags
of the 6.1 era (`--btf_gen_floats --lang_exclude=rust`).  We encode the same
object with the same features and compare with encoder.btf.compare.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

from encoder.btf.compare import compare
from encoder.btf.reader import parse
from encoder.btf.verifier import PROFILES, verify_bytes
from encoder.btf.writer import encode as write
from encoder.encode import Request, encode
from encoder.features import Features

from util import REPO

OBJECTS = sorted((REPO / "fixtures" / "obj").glob("*.o"))
PAHOLE_1_24 = "var,float,decl_tag,type_tag,enum64"

# Where pahole 1.24 is wrong and we are not (docs/DIFFERENCES.md): it turns
# an _Atomic-qualified type into void under DWARF 5 and drops nothing else.
KNOWN = {"atomic": {("STRUCT", "refcount")}}


def _ours(obj: Path):
    result = encode(Request(str(obj), features=Features.parse(PAHOLE_1_24)))
    return result.btf


@pytest.mark.parametrize("obj", OBJECTS, ids=lambda p: p.stem)
def test_equals_pahole(obj: Path):
    ref = parse(obj.with_suffix(".btf").read_bytes())
    ours = _ours(obj)
    rep = compare(ref, ours)
    known = KNOWN.get(obj.name.split(".")[0], set())
    unexplained_differ = [(k, n) for k, n, _, _ in rep.differ if (k, n) not in known]
    assert not unexplained_differ, rep.text()
    assert not [k for k in rep.missing if k not in known], rep.text()
    assert not rep.extra, rep.text()
    assert rep.duplicates_cand == 0, rep.text()


@pytest.mark.parametrize("obj", OBJECTS[::7], ids=lambda p: p.stem)
def test_output_passes_the_verifier(obj: Path):
    verify_bytes(write(_ours(obj)), profile=PROFILES["latest"], resolve=True)


@pytest.mark.parametrize("name", ["static_dup.gcc.dwarf5", "fwd_split.clang.dwarf4"])
def test_same_bytes_for_any_jobs(name):
    obj = REPO / "fixtures" / "obj" / f"{name}.o"
    outs = {jobs: write(encode(Request(str(obj), features=Features.parse(PAHOLE_1_24),
                                       jobs=jobs)).btf) for jobs in (1, 2, 3)}
    assert outs[1] == outs[2] == outs[3]


# Each of pahole 1.24's switches, next to ours, run live on objects that
# exercise them (floats, tags, per-CPU variables, signed and wide enums).
SWITCHES = [
    ("var,decl_tag,type_tag,enum64", []),
    ("var,float,type_tag,enum64", ["--btf_gen_floats", "--skip_encoding_btf_decl_tag"]),
    ("var,float,decl_tag,enum64", ["--btf_gen_floats", "--skip_encoding_btf_type_tag"]),
    ("float,decl_tag,type_tag,enum64", ["--btf_gen_floats", "--skip_encoding_btf_vars"]),
    ("var,float,decl_tag,type_tag", ["--btf_gen_floats", "--skip_encoding_btf_enum64"]),
]
SWITCH_OBJECTS = ["btf_tags.clang.dwarf5", "kernel_user.clang.dwarf4", "floats.gcc.dwarf5",
                  "percpu.gcc.dwarf4", "enums.clang.dwarf5", "enums_sized.gcc.dwarf5"]


@pytest.mark.parametrize("features,flags", SWITCHES, ids=[s[0] for s in SWITCHES])
@pytest.mark.parametrize("name", SWITCH_OBJECTS)
def test_switches_equal_pahole(tmp_path, name, features, flags):
    if shutil.which("pahole") is None:
        pytest.skip("pahole is not installed (apt-get install dwarves)")
    obj = REPO / "fixtures" / "obj" / f"{name}.o"
    out = tmp_path / "pahole.btf"
    subprocess.run(["pahole", "-J", *flags, f"--btf_encode_detached={out}", str(obj)],
                   check=True, capture_output=True)
    ours = encode(Request(str(obj), features=Features.parse(features))).btf
    rep = compare(parse(out.read_bytes()), ours)
    assert rep.share_identical() == 1.0 and not rep.extra, rep.text()
