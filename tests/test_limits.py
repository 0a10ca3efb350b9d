"""Hostile inputs end in bounded time and memory, with one clear line or a good output.

Every case of tests/fuzz/hostile.py (deep type graphs and DIE trees, cycles
through DW_AT_type / DW_AT_specification / DW_AT_abstract_origin, looping
forms and abbreviations, 4 GB lengths, decompression bombs, BTF past the
kernel's resolve depth, and the inputs we do not support) runs in a forked
child that may take LIMIT_S seconds and MEMORY_MB more address space than
this process; the kernel (BPF_BTF_LOAD) and pahole 1.24 judge where they can.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from fuzz import btfgen, hostile, oracle
from fuzz.oracle import explain, meets, try_input

LIMIT_S = 10.0
MEMORY_MB = 768


@pytest.mark.parametrize("case", hostile.CASES, ids=lambda c: c.name)
def test_hostile_input_is_bounded(case, tmp_path):
    data = case.make()
    verdict, run = try_input(case.command, data, tmp_path, forked=True, timeout=LIMIT_S,
                             memory_mb=MEMORY_MB)
    assert meets(verdict, case.expect), explain(verdict, run, f"{case.name} ({case.why}); "
                                                f"expected {case.expect!r}")
    assert run.seconds < LIMIT_S


# --- the kernel as the judge of resolve depth and loops --------------------------------------

def _kernel():
    import kernel
    why = kernel.available()
    if why:
        pytest.skip(f"kernel oracle: {why}")
    return kernel


@pytest.mark.parametrize("blob", [
    btfgen.chain(btfgen.TYPEDEF, 32, named=True), btfgen.chain(btfgen.TYPEDEF, 33, named=True),
    btfgen.chain(btfgen.CONST, 31), btfgen.chain(btfgen.PTR, 40),
    btfgen.nested_structs(32), btfgen.nested_structs(33),
    btfgen.blob([btfgen.ref(btfgen.TYPEDEF, 1, 1)], b"\0t\0"),
], ids=["typedef32", "typedef33", "const31", "ptr40", "struct32", "struct33", "self-loop"])
def test_resolve_depth_and_loops_as_the_kernel_judges(blob, tmp_path):
    kernel = _kernel()
    loaded, _, log = kernel.load_btf(blob)
    verdict, run = try_input("verify", blob, tmp_path, forked=True)
    assert verdict.ok, explain(verdict, run)
    assert (verdict.kind == "read") == loaded, (verdict.line, kernel.last_line(log))
    if not loaded:
        reason = kernel.last_line(log).rsplit(" ", 1)[-1]
        assert verdict.line.endswith(reason) or reason in verdict.line, \
            (verdict.line, kernel.last_line(log))


def test_struct_containing_itself_is_written_and_the_resolve_pass_finds_the_loop(tmp_path):
    """Module BTF is only meta-checked by the kernel, so the encoder writes
    the loop (as pahole does); `verify --resolve` finds it, as BPF_BTF_LOAD does."""
    verdict, run = try_input("encode", hostile.struct_contains_itself(), tmp_path, forked=True)
    assert verdict.kind == "written", explain(verdict, run)
    out = tmp_path / "encoded.btf"
    out.write_bytes(run.output)
    again = oracle.run_forked(["verify", "--resolve", str(out)])
    assert again.rc == 2 and "Loop detected" in again.stderr
    import kernel
    if kernel.available() is None:
        assert not kernel.load_btf(run.output)[0]


# --- pahole as the judge of what deep and odd DWARF becomes ----------------------------------

# Where pahole 1.24 is no judge: it dies of a signal 11 on deep_lexical_blocks
# (50000 nested blocks), drops the DIE of abbreviation code 2**63 (libdw
# keeps codes in 32 bits) and stops at a DW_FORM_indirect naming another.
PAHOLE_SAME = ("deep_typedef_chain", "deep_pointer_chain", "deep_struct_by_value",
               "atomic_cycle", "struct_contains_itself", "specification_cycle",
               "array_bound_huge", "typedef_cycle", "const_self_cycle")


@pytest.mark.parametrize("name", PAHOLE_SAME)
def test_hostile_dwarf_encodes_as_pahole_does(name, tmp_path):
    pahole = shutil.which("pahole")
    if pahole is None:
        pytest.skip("pahole is not installed (apt-get install dwarves)")
    case = hostile.by_name(name)
    verdict, run = try_input("encode", case.make(), tmp_path, forked=True, timeout=LIMIT_S)
    theirs = tmp_path / "pahole.btf"
    done = subprocess.run([pahole, "-J", f"--btf_encode_detached={theirs}",
                           str(tmp_path / "input")], capture_output=True, timeout=60)
    if case.expect == "ok":
        assert verdict.kind == "written", explain(verdict, run)
        assert done.returncode == 0 and run.output == theirs.read_bytes()
    else:       # we refuse what pahole fails on (its btf__dedup gives up on the cycle)
        assert meets(verdict, case.expect), explain(verdict, run)
        assert done.returncode != 0


def test_more_members_than_16_bits_count_is_for_the_wide_profile_only(tmp_path):
    """70000 members: written with a 24-bit vlen, which the `latest` profile
    takes and every released kernel refuses; pahole 1.24 silently keeps 4464
    of them (70000 mod 65536)."""
    from encoder.btf.verifier import PROFILES, verify_bytes
    from encoder.errors import BtfInvalid
    verdict, run = try_input("encode", hostile.struct_70000_members(), tmp_path, forked=True)
    assert verdict.kind == "written", explain(verdict, run)
    assert oracle.wide_vlen(run.output)
    with pytest.raises(BtfInvalid, match="Invalid btf_info"):      # vlen past 16 bits
        verify_bytes(run.output, profile=PROFILES["6.18"], resolve=False)


@pytest.mark.parametrize("name", ["zlib_section", "zstd_section_streamed", "legacy_zdebug"])
def test_compressed_debug_info_encodes_as_the_plain_one(name, tmp_path):
    plain, run = try_input("encode", hostile.FIXTURE.read_bytes(), tmp_path, forked=True)
    assert plain.kind == "written", explain(plain, run)
    verdict, packed = try_input("encode", hostile.by_name(name).make(), tmp_path, forked=True)
    assert verdict.kind == "written", explain(verdict, packed)
    assert packed.output == run.output
