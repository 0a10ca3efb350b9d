"""The BTF verifier: real BTF passes, each crafted bad blob fails for its
reason at its record, and the running kernel agrees with both verdicts."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import badblobs
import kernel
from util import external

from encoder.btf.kinds import FuncLinkage, IntEncoding
from encoder.btf.model import (Array, Btf, Const, Datasec, DeclTag, Enum, EnumValue, Float,
                               Func, FuncProto, Fwd, Int, Member, Param, Ptr, Struct,
                               Typedef, TypeTag, Union, Var, VarSecinfo)
from encoder.btf.reader import parse
from encoder.btf.verifier import PROFILES, Profile, verify_bytes
from encoder.btf.writer import encode
from encoder.cli import main
from encoder.errors import BtfError, BtfInvalid

BAD = badblobs.bad_blobs()
GOOD = badblobs.good_blobs()
KERNEL_BAD = [c for c in BAD if c.kernel]
# Refused only by an older kernel: the running one must take them.
OLDER_ONLY = [c for c in BAD if c.profile not in ("6.18", "latest")]


def refusal(data: bytes, **kw) -> BtfInvalid:
    with pytest.raises(BtfInvalid) as e:
        verify_bytes(data, **kw)
    return e.value


# --- real BTF -------------------------------------------------------------------

@pytest.fixture(scope="module")
def vmlinux() -> bytes:
    return external("vmlinux.btf")


def test_vmlinux_7_1_passes_latest(vmlinux):
    summary = verify_bytes(vmlinux)
    assert summary.types > 100_000 and summary.first_id == 1 and summary.resolved
    assert verify_bytes(vmlinux, resolve=False).types == summary.types


def test_vmlinux_7_1_passes_7_1(vmlinux):
    verify_bytes(vmlinux, profile=PROFILES["7.1"])


def test_vmlinux_7_1_header_refused_by_6_18(vmlinux):
    e = refusal(vmlinux, profile=PROFILES["6.18"])
    assert e.what == "Unsupported btf_header" and e.offset == 24


def test_vmlinux_without_layout_passes_6_18(vmlinux):
    verify_bytes(encode(parse(vmlinux), hdr_len=24, layout=False), profile=PROFILES["6.18"])


def test_distilled_base_passes():
    assert verify_bytes(external("btf_testmod.btf.base")).types == 157


@pytest.mark.parametrize("resolve", [False, True])
@pytest.mark.parametrize("as_model", [False, True])
def test_module_split_over_its_base(resolve, as_model):
    base = external("btf_testmod.btf.base")
    summary = verify_bytes(external("btf_testmod.btf"), base=parse(base) if as_model else base,
                           resolve=resolve)
    assert summary.first_id == 158 and summary.types == 1444


def test_identifier_pass_reads_a_splits_own_strings_only():
    """The one-pass identifier check scans only a split's own strings (a
    module's would otherwise rescan vmlinux's every time); names in the
    base still get the full check, with the same verdicts."""
    from encoder.btf.verifier import _Verifier
    base = external("btf_testmod.btf.base")
    v = _Verifier(external("btf_testmod.btf"), base, PROFILES["latest"], False, 8)
    v.run()
    assert v.own_strs > 0
    idents = v._ident_offsets()
    assert idents and min(idents) >= v.own_strs
    for off in (0, 1, v.own_strs - 2, v.own_strs, *sorted(idents)[:50]):
        assert v.ident_ok(off) == v.name_ok(off, 0), off


# --- crafted blobs ---------------------------------------------------------------

def test_enough_distinct_bad_blobs():
    assert len({c.name for c in BAD}) == len(BAD)
    assert len(BAD) >= 40 and len(KERNEL_BAD) >= 40


@pytest.mark.parametrize("name", GOOD)
def test_good_blob_passes(name):
    data, profile = GOOD[name]
    verify_bytes(data, profile=PROFILES[profile])
    verify_bytes(data, profile=PROFILES[profile], resolve=False)


@pytest.mark.parametrize("case", BAD, ids=lambda c: c.name)
def test_bad_blob_fails_at_its_record(case):
    e = refusal(case.blob, profile=PROFILES[case.profile], resolve=case.resolve)
    assert case.reason in e.what
    assert e.offset == case.offset, f"{e} points at {e.offset:#x}, not {case.offset:#x}"


@pytest.mark.parametrize("case", OLDER_ONLY, ids=lambda c: c.name)
def test_newer_kernel_takes_what_an_older_refuses(case):
    verify_bytes(case.blob, profile=PROFILES["6.18"], resolve=case.resolve)


def test_layout_section_only_where_known():
    data = encode(badblobs.good_btf(), layout=True)
    assert verify_bytes(data, profile=PROFILES["7.1"]).types == len(badblobs.good_btf().types)
    assert refusal(data, profile=PROFILES["6.18"]).what == "Unsupported btf_header"


def test_wide_info_is_not_reserved_on_latest():
    # 6.18 reserves bits 16-23 of info; in 2026 they are vlen bits.
    data = badblobs.or_info(badblobs.blob([badblobs.INT]), 1, 1 << 16)
    assert "Invalid btf_info" in refusal(data, profile=PROFILES["6.18"]).what
    assert "vlen != 0" in refusal(data, profile=PROFILES["latest"]).what


def test_error_names_file_and_section():
    case = BAD[0]
    e = refusal(case.blob, source="x.o", section=".BTF")
    assert str(e) == f"x.o: .BTF: offset {case.offset:#x}: {case.reason}"


def test_big_endian_blob():
    good = badblobs.good_btf()
    good.endian = ">"
    verify_bytes(encode(good), profile=PROFILES["6.18"])
    bad = Btf([Int("int", 4, 32), Ptr(1, "p")], endian=">")
    assert refusal(encode(bad)).what == "[2] PTR p: Invalid name"


def test_profiles():
    assert {"latest", "7.1", "6.18", "6.12", "6.6", "6.1", "5.15", "5.10", "5.4"} <= set(PROFILES)
    p = PROFILES["6.18"]
    assert isinstance(p, Profile) and not p.layout and p.tag_kflag and p.max_vlen == 0xFFFF
    with pytest.raises(AttributeError):
        p.layout = True  # frozen


# --- split BTF --------------------------------------------------------------------

def _split(*types) -> tuple[Btf, bytes]:
    base = Btf([Int("int", 4, 32, IntEncoding.SIGNED), Struct("b", 4, [Member("x", 1, 0)])])
    split = Btf(base=base)
    for t in types:
        split.add(t)
    return base, encode(split)


def test_split_names_resolve_in_the_base():
    base, data = _split(Struct("s", 4, [Member("int", 1, 0)]), Ptr(2))
    assert verify_bytes(data, base=base).first_id == 3
    base, data = _split(Ptr(1), Const(3))  # no strings of its own
    verify_bytes(data, base=base)


def test_split_name_past_its_strings():
    base, data = _split(Typedef("t", 1))
    data = badblobs.put(data, 24, 10_000)
    e = refusal(data, base=base)
    assert e.what == "[3] Invalid name_offset:10000" and e.offset == 24


def test_split_reference_past_the_last_type():
    base, data = _split(Ptr(1), Ptr(9))
    e = refusal(data, base=base, resolve=False)
    assert "Invalid type_id" in e.what and e.what.startswith("[4] PTR") and e.offset == 36


def test_split_type_tags_after_modifiers():
    base, data = _split(TypeTag("t", 1), Const(3))
    e = refusal(data, base=base, resolve=False)
    assert "Type tags don't precede modifiers" in e.what and e.what.startswith("[4] CONST")


# --- the command line -------------------------------------------------------------

def test_cli_verify(tmp_path, capsys):
    good, bad = tmp_path / "good.btf", tmp_path / "bad.btf"
    good.write_bytes(GOOD["every kind"][0])
    case = next(c for c in BAD if c.name == "FUNC linkage extern")
    bad.write_bytes(case.blob)
    assert main(["verify", str(good), "--profile", "6.18"]) == 0
    assert main(["verify", str(bad), "--profile", "6.18"]) == 2
    err = capsys.readouterr().err
    assert f"offset {case.offset:#x}" in err and "Invalid func linkage" in err


# --- robustness ------------------------------------------------------------------

SEED = encode(badblobs.good_btf())
TYPES_AT = 24
TYPES_LEN = struct.unpack_from("<I", SEED, 12)[0]

word_patch = st.tuples(st.integers(0, TYPES_LEN // 4 - 1),
                       st.one_of(st.integers(0, 64), st.integers(0, 0xFFFFFFFF),
                                 st.sampled_from([0x80000000, 0xFFFF, 0x10000, 0xFFFFFFFF,
                                                  0x01000000, 0x1F000000])))


def mutate(patches, flips=()) -> bytes:
    data = bytearray(SEED)
    for index, value in patches:
        struct.pack_into("<I", data, TYPES_AT + 4 * index, value)
    for at in flips:
        data[at % len(data)] ^= 1 << (at % 8)
    return bytes(data)


@settings(max_examples=300, deadline=None)
@given(st.lists(word_patch, min_size=1, max_size=3),
       st.lists(st.integers(0, 1 << 20), max_size=2),
       st.sampled_from(sorted(PROFILES)), st.booleans())
def test_only_btf_errors_on_garbage(patches, flips, profile, resolve):
    try:
        verify_bytes(mutate(patches, flips), profile=PROFILES[profile], resolve=resolve)
    except BtfError:
        pass


# --- the running kernel agrees ------------------------------------------------------

@pytest.fixture(scope="session")
def load_btf():
    why = kernel.available()
    if why:
        pytest.skip(why)
    return kernel.load_btf


@pytest.mark.kernel
@pytest.mark.parametrize("name", [n for n, (_, p) in GOOD.items() if not PROFILES[p].layout])
def test_kernel_loads_good_blob(load_btf, name):
    ok, _, log = load_btf(GOOD[name][0])
    assert ok, kernel.last_line(log)


@pytest.mark.kernel
@pytest.mark.parametrize("case", KERNEL_BAD, ids=lambda c: c.name)
def test_kernel_refuses_bad_blob(load_btf, case):
    ok, _, log = load_btf(case.blob)
    assert not ok
    if case.kernel_log:
        assert case.reason in kernel.last_line(log)


@pytest.mark.kernel
@pytest.mark.parametrize("case", OLDER_ONLY, ids=lambda c: c.name)
def test_kernel_loads_what_only_older_kernels_refuse(load_btf, case):
    ok, _, log = load_btf(case.blob)
    assert ok, kernel.last_line(log)


@pytest.mark.kernel
def test_kernel_loads_vmlinux_without_layout(load_btf, vmlinux):
    ok, _, log = load_btf(encode(parse(vmlinux), hdr_len=24, layout=False))
    assert ok, kernel.last_line(log)


def _same_verdict(load_btf, data: bytes) -> None:
    """Ours and the kernel's: both accept, or both refuse for the same reason."""
    ok, _, log = load_btf(data)
    try:
        verify_bytes(data, profile=PROFILES["6.18"])
    except BtfInvalid as e:
        assert not ok, f"we refuse what the kernel loads: {e}"
        reason = e.what.rsplit(": ", 1)[-1].split(":")[0]
        assert reason in kernel.last_line(log)
    else:
        assert ok, f"we pass what the kernel refuses: {kernel.last_line(log)}"


@pytest.mark.kernel
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(word_patch, min_size=1, max_size=3))
def test_kernel_agrees_on_mutations(load_btf, patches):
    _same_verdict(load_btf, mutate(patches))


NAMES = st.sampled_from(["a", "b", "x", "a.b", "", "1x"])


def btf_types(n: int):
    """Strategies for small BTFs whose references stay mostly in range."""
    ref = st.integers(0, n + 1)
    member = st.builds(Member, NAMES, ref, st.sampled_from([0, 8, 32, 64, 3]),
                       st.sampled_from([0, 0, 3, 8, 33]))
    return st.one_of(
        st.builds(Int, NAMES, st.sampled_from([1, 2, 4, 8, 16]),
                  st.sampled_from([3, 8, 16, 32, 64, 128]),
                  st.sampled_from(list(IntEncoding)[:3])),
        st.builds(Ptr, ref), st.builds(Const, ref), st.builds(Typedef, NAMES, ref),
        st.builds(Array, ref, ref, st.sampled_from([0, 1, 4, 1 << 31])),
        st.builds(Struct, NAMES, st.sampled_from([4, 8, 16, 64]),
                  st.lists(member, max_size=3), st.booleans()),
        st.builds(Union, NAMES, st.sampled_from([4, 8]),
                  st.lists(member.map(lambda m: Member(m.name, m.type, 0)), max_size=2)),
        st.builds(Enum, NAMES, st.sampled_from([1, 4, 8]),
                  st.just([EnumValue("A", 1)])),
        st.builds(Fwd, st.sampled_from(["f", "g"])),
        st.builds(Func, st.sampled_from(["f", "g"]), ref, st.sampled_from(list(FuncLinkage)[:2])),
        st.builds(FuncProto, ref, st.lists(st.builds(Param, NAMES, ref), max_size=3)),
        st.builds(Var, st.sampled_from(["v", "w"]), ref),
        st.builds(Datasec, st.just(".d"), st.just(16),
                  st.lists(st.builds(VarSecinfo, ref, st.just(0), st.sampled_from([1, 4, 8])),
                           max_size=1)),
        st.builds(Float, st.just("f"), st.sampled_from([4, 8, 16])),
        st.builds(DeclTag, st.just("t"), ref, st.sampled_from([-1, 0, 1])),
        st.builds(TypeTag, st.just("tt"), ref),
    )


small_btf = st.integers(2, 10).flatmap(lambda n: st.lists(btf_types(n), min_size=n, max_size=n))


@pytest.mark.kernel
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_btf)
def test_kernel_agrees_on_random_btf(load_btf, types):
    _same_verdict(load_btf, encode(Btf(types)))
