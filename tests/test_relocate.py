"""Relocation (encoder/btf/relocate.py) against libbpf 1.6's btf__relocate.

libbpf and the kernel build the same btf_relocate.c, so libbpf's result is
the kernel's: the relocated bytes must be equal, and where libbpf refuses,
we refuse with its message (the line the kernel prints at module load).
Hand-made cases pin each matching rule; generated ones (hypothesis) look
for any disagreement; Linux 7.1's btf_testmod is the real-world case.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import libbpf16
from encoder.btf.kinds import IntEncoding
from encoder.btf.model import (Array, Btf, Enum, Enum64, Float, Fwd, Int, Member, Ptr,
                               Struct, Typedef, Union)
from encoder.btf.reader import parse
from encoder.btf.relocate import RelocationError, relocate
from encoder.btf.writer import encode
from util import REPO, external

INT = Int("int", 4, 32, IntEncoding.SIGNED)


def blobs(dist_types, split_of, base_types, extra_dist_strings=()):
    """(distilled base, split, new base) bytes; split_of(first split id) -> types."""
    dist = Btf(list(dist_types))
    for s in extra_dist_strings:
        dist.strings.add(s)
    dist_raw = encode(dist)
    split = Btf(split_of(dist.type_count), base=dist)
    return dist_raw, encode(split), encode(Btf(list(base_types)))


def ours(dist_raw: bytes, split_raw: bytes, base_raw: bytes) -> bytes | str:
    dist = parse(dist_raw)
    try:
        return encode(relocate(parse(split_raw, base=dist), dist, parse(base_raw)))
    except RelocationError as e:
        return e.what


def theirs(dist_raw: bytes, split_raw: bytes, base_raw: bytes) -> bytes | str:
    try:
        return libbpf16.relocate(split_raw, dist_raw, base_raw)
    except libbpf16.LibbpfError as e:
        assert e.log and e.log[0].startswith("libbpf: "), e.log
        return e.log[0][len("libbpf: "):]


def same_as_libbpf(*raw) -> bytes | str:
    got, want = ours(*raw), theirs(*raw)
    if isinstance(want, str):
        assert isinstance(got, str) and got.startswith(want), (got, want)
    else:
        assert got == want
    return got


def holds(n: int) -> list:
    """Split types that embed distilled type 2 by value (through a typedef
    and an array) and point at type 1."""
    return [Typedef("t", 2), Array(n, 1, 3), Ptr(1),
            Struct("mod", 64, [Member("a", n + 1, 0), Member("p", n + 2, 0)])]


def points(n: int) -> list:
    """Split types that only point at distilled types 1 and 2."""
    return [Ptr(1), Ptr(2), Struct("mod", 16, [Member("a", n, 0), Member("b", n + 1, 64)])]


FOO8 = Struct("foo", 8)


def test_relocates_and_renumbers_like_libbpf():
    raw = blobs([INT, FOO8, Fwd("bar"), Enum("e", 4), Float("double", 8)],
                lambda n: [Struct("mod", 16, [Member("x", 1, 0), Member("b", n + 1, 64)]),
                           Ptr(3), Ptr(4), Ptr(5), Typedef("bar_t", 3)],
                [Int("char", 1, 8), Struct("foo", 8, [Member("i", 3, 0)]), INT,
                 Float("double", 8), Struct("bar", 4), Enum64("e", 4)])
    out = parse(same_as_libbpf(*raw), base=parse(raw[2]))
    assert out.start_id == 7 and out[7].members[0].type == 3     # int is base id 3


@pytest.mark.parametrize("split_of, base_size, verdict", [
    (holds, 16, "distilled base BTF type 'foo' [2] is not mapped to base BTF id"),
    (points, 16, None),              # through a pointer the size may change
    (holds, 8, None),
])
def test_embedded_struct_must_keep_its_size(split_of, base_size, verdict):
    raw = blobs([INT, FOO8], split_of, [INT, Struct("foo", base_size)])
    got = same_as_libbpf(*raw)
    assert got == verdict if verdict else isinstance(got, bytes)


@pytest.mark.parametrize("base_types, verdict", [
    ([INT, FOO8, FOO8], "distilled base BTF type 'foo' [2], size 8 has multiple candidates "
                        "of the same size (ids [3, 2]) in base BTF"),
    ([INT, FOO8, Struct("foo", 16)], None),                 # the size tells them apart
    ([INT, Fwd("foo"), FOO8], None),                        # embedded: the FWD is too small
    ([INT, FOO8, Fwd("foo")], "distilled base BTF type 'foo' [2], size 0 has multiple "
                              "candidates of the same size (ids [3, 2]) in base BTF"),
    ([INT, Union("foo", 8)], None),                         # kinds of composites not compared
    ([Int("int", 4, 32), FOO8], "distilled base BTF type 'int' [1] is not mapped to base "
                                "BTF id"),                  # INT encoding differs
    ([Int("int", 8, 64, IntEncoding.SIGNED), FOO8], "distilled base BTF type 'int' [1] is "
                                                    "not mapped to base BTF id"),
])
def test_candidates_in_the_base(base_types, verdict):
    raw = blobs([INT, FOO8], holds, base_types)
    got = same_as_libbpf(*raw)
    assert got == verdict if verdict else isinstance(got, bytes)


@pytest.mark.parametrize("dist_type, base_type, ok", [
    (Fwd("foo"), Struct("foo", 8), True),
    (Fwd("foo"), Union("foo", 8), False),
    (Fwd("foo", union=True), Union("foo", 8), False),      # libbpf reads the union's
    (Fwd("foo", union=True), Union("foo", 8, kflag=True), True),   # kflag, not the FWD's
    (Fwd("foo"), Struct("foo", 8, kflag=True), False),
    (Fwd("foo"), Fwd("foo"), True),
    (Fwd("foo"), Fwd("foo", union=True), False),
    (Enum("foo", 8), Enum64("foo", 8), True),
    (Enum("foo", 4), Enum64("foo", 8), False),
    (Float("foo", 8), Float("foo", 8), True),
    (Float("foo", 8), Int("foo", 8, 64), False),
])
def test_kinds_that_match(dist_type, base_type, ok):
    raw = blobs([INT, dist_type], points, [INT, base_type])
    got = same_as_libbpf(*raw)
    assert isinstance(got, bytes) == ok, got


@pytest.mark.parametrize("bad, verdict", [
    (Ptr(1), "type [2] in distilled based BTF has unexpected kind [2]"),
    (Enum64("foo", 8), "type [2] in distilled based BTF has unexpected kind [19]"),
    (Struct("", 8), "type [2], kind [4] is invalid for distilled base BTF; it is anonymous"),
])
def test_distilled_base_may_hold_only_named_simple_kinds(bad, verdict):
    raw = blobs([INT, bad], points, [INT, FOO8])
    assert same_as_libbpf(*raw) == verdict


def test_split_string_inside_the_distilled_base_must_be_a_type_name():
    raw = blobs([INT, FOO8], lambda n: [Struct("mod", 4, [Member("zzz", 1, 0)]), Ptr(2)],
                [INT, FOO8], extra_dist_strings=["zzz"])
    got = same_as_libbpf(*raw)
    assert got.startswith("string '' [offset 1] is not mapped to base BTF") and "zzz" in got


NAMES = ("a", "b", "c")
SIMPLE = st.one_of(
    st.builds(lambda n, s: Int(n, s, 8 * s, IntEncoding.SIGNED), st.sampled_from(NAMES),
              st.sampled_from((1, 4))),
    st.builds(lambda n, s: Enum(n, s), st.sampled_from(NAMES), st.sampled_from((4, 8))),
    st.builds(lambda n, s: Enum64(n, s), st.sampled_from(NAMES), st.sampled_from((4, 8))),
    st.builds(lambda n, s: Struct(n, s), st.sampled_from(NAMES), st.sampled_from((4, 8))),
    st.builds(lambda n, s: Union(n, s), st.sampled_from(NAMES), st.sampled_from((4, 8))),
    st.builds(lambda n, u: Fwd(n, u), st.sampled_from(NAMES), st.booleans()),
    st.builds(lambda n: Float(n, 8), st.sampled_from(NAMES)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dist=st.lists(SIMPLE.filter(lambda t: not isinstance(t, Enum64)), min_size=1,
                     max_size=4),
       base=st.lists(SIMPLE, min_size=1, max_size=6),
       embed=st.lists(st.booleans(), min_size=4, max_size=4))
def test_any_small_case_agrees_with_libbpf(dist, base, embed):
    """Whatever the names, kinds, sizes and embeddings: libbpf's verdict."""
    def split_of(n):
        members = []
        for i in range(1, len(dist) + 1):
            by_value = embed[i - 1] and dist[i - 1].kind.name in ("STRUCT", "UNION")
            members.append(Member(f"m{i}", i if by_value else n + i - 1, 0))
        return [Ptr(i) for i in range(1, len(dist) + 1)] + [Struct("mod", 8, members)]
    same_as_libbpf(*blobs(dist, split_of, base))


def test_btf_testmod_onto_linux_7_1_equals_libbpf():
    vm_raw = external("vmlinux.btf")
    dist_raw, split_raw = external("btf_testmod.btf.base"), external("btf_testmod.btf")
    want = libbpf16.relocate(split_raw, dist_raw, vm_raw)
    dist = parse(dist_raw)
    got = encode(relocate(parse(split_raw, base=dist), dist, parse(vm_raw)))
    assert got == want


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "encoder", *args], cwd=REPO,
                          capture_output=True, text=True)


def test_cli_relocates_raw_module_btf_with_its_base_beside_it(tmp_path):
    for name in ("btf_testmod.btf", "btf_testmod.btf.base", "vmlinux.btf"):
        (tmp_path / name).write_bytes(external(name))
    out = tmp_path / "relocated.btf"
    r = _cli("relocate", str(tmp_path / "btf_testmod.btf"), "--base",
             str(tmp_path / "vmlinux.btf"), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "157 base types matched" in r.stderr
    want = libbpf16.relocate(external("btf_testmod.btf"), external("btf_testmod.btf.base"),
                             external("vmlinux.btf"))
    assert out.read_bytes() == want


def test_cli_says_why_the_kernel_would_refuse(tmp_path):
    mod = tmp_path / "btf_testmod.btf"
    mod.write_bytes(external("btf_testmod.btf"))
    (tmp_path / "btf_testmod.btf.base").write_bytes(external("btf_testmod.btf.base"))
    other = tmp_path / "other.btf"
    other.write_bytes(encode(Btf([INT])))
    r = _cli("relocate", str(mod), "--base", str(other))
    assert r.returncode == 2 and r.stdout == ""
    [line] = r.stderr.splitlines()
    assert line.startswith(f"dwarf2btf: {mod}: distilled base BTF type ")
    assert line.endswith("is not mapped to base BTF id; the kernel refuses the module: "
                         "failed to validate module [btf_testmod] BTF: -22")
