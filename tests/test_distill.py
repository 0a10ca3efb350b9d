"""Distilled base BTF (encoder/btf/distill.py) against libbpf 1.6's btf__distill_base.

The oracle is libbpf itself (tests/libbpf16.py, the pylibbpf wheel): our
`.BTF.base` and `.BTF` must be the bytes libbpf makes from the same split
BTF.  The rules are also checked one by one on a small hand-made BTF, and
on Linux 7.1's btf_testmod a distill-then-relocate round trip must give the
module's types back unchanged.
"""

from __future__ import annotations

from functools import lru_cache

import pytest

import libbpf16
from encoder.btf.compare import compare
from encoder.btf.distill import distill
from encoder.btf.kinds import FuncLinkage, IntEncoding, Kind
from encoder.btf.model import (Array, Btf, Const, DeclTag, Enum, Enum64, EnumValue, Float,
                               Func, FuncProto, Fwd, Int, Member, Param, Ptr, Struct,
                               Typedef, TypeTag, Union, Var, Volatile)
from encoder.btf.reader import parse
from encoder.btf.relocate import relocate
from encoder.btf.writer import encode
from encoder.errors import BtfError
from util import external


def small_base() -> Btf:
    """A vmlinux in miniature: every kind module BTF may point at."""
    return Btf([
        Int("int", 4, 32, IntEncoding.SIGNED),                          # 1
        Struct("task", 16, [Member("pid", 1, 0), Member("next", 3, 64)]),  # 2
        Ptr(2),                                                         # 3
        Struct("", 8, [Member("a", 1, 0), Member("b", 1, 32)]),          # 4 anon
        Enum("mode", 4, [EnumValue("M_A", 0), EnumValue("M_B", -1)], signed=True),  # 5
        Enum64("big", 8, [EnumValue("B_X", 1 << 40)]),                   # 6
        Enum("", 4, [EnumValue("ANON_V", 7)]),                          # 7 anon
        Fwd("opaque", union=True),                                      # 8
        Typedef("task_t", 2),                                           # 9
        Const(1),                                                       # 10
        Array(1, 1, 4),                                                 # 11
        FuncProto(1, [Param("t", 3)]),                                  # 12
        TypeTag("user", 3),                                             # 13
        Float("double", 8),                                             # 14
        Volatile(10),                                                   # 15
        Union("u", 8, [Member("i", 1, 0)]),                             # 16
        Func("base_fn", 12, FuncLinkage.GLOBAL),                        # 17
        Int("unused", 2, 16),                                           # 18
    ])


def small_split(base: Btf) -> Btf:
    encode(base)            # interns the base's names: split strings start after them
    n = base.type_count
    return Btf([
        Struct("mod_s", 64, [Member("t", 9, 0), Member("anon", 4, 128),   # n
                             Member("m", 5, 192), Member("big", 6, 256),
                             Member("e", 7, 320), Member("o", n + 1, 384),
                             Member("arr", 11, 448), Member("d", 14, 128 * 4)]),
        Ptr(8),                                                         # n+1
        Ptr(15),                                                        # n+2
        FuncProto(0, [Param("p", n + 2), Param("f", 13)]),              # n+3
        Func("mod_fn", n + 3, FuncLinkage.STATIC),                      # n+4
        Typedef("fn_t", 12),                                            # n+5
        Var("mod_u", 16),                                               # n+6
    ], base=base)


def blobs(split: Btf) -> tuple[bytes, bytes]:
    base = encode(split.base)
    return base, encode(split)


def test_rules_on_a_small_btf():
    base_raw, split_raw = blobs(small_split(small_base()))
    vm = parse(base_raw)
    new_base, new_split = distill(parse(split_raw, base=vm))
    got = {(t.kind, t.name): t for t in new_base.types}
    # named composites: memberless, same size; enums: memberless unsigned ENUM of their size
    assert got[(Kind.STRUCT, "task")] == Struct("task", 16)
    assert got[(Kind.UNION, "u")] == Union("u", 8)
    assert got[(Kind.ENUM, "mode")] == Enum("mode", 4)
    assert got[(Kind.ENUM, "big")] == Enum("big", 8)
    # INT, FLOAT, FWD as they are; nothing the module does not reach
    assert got[(Kind.INT, "int")] == vm[1]
    assert got[(Kind.FLOAT, "double")] == vm[14]
    assert got[(Kind.FWD, "opaque")] == Fwd("opaque", union=True)
    assert (Kind.INT, "unused") not in got and len(new_base.types) == 7
    # the rest moved into the split, after the module's own types
    own = len(small_split(small_base()).types)
    moved = new_split.types[own:]
    assert sorted(t.kind.name for t in moved) == sorted(
        ["PTR", "STRUCT", "ENUM", "TYPEDEF", "CONST", "ARRAY", "FUNC_PROTO",
         "TYPE_TAG", "VOLATILE"])
    assert new_split.start_id == new_base.type_count
    # relocated back onto its base, the module means what it meant
    rep = compare(parse(split_raw, base=vm), relocate(new_split, new_base, vm))
    assert not rep.differ and not rep.missing and rep.extra == [("TYPEDEF", "task_t")]


def test_small_btf_equals_libbpf():
    base_raw, split_raw = blobs(small_split(small_base()))
    want_base, want_split = libbpf16.distill(split_raw, base_raw)
    new_base, new_split = distill(parse(split_raw, base=parse(base_raw)))
    assert encode(new_base) == want_base
    assert encode(new_split) == want_split


def test_reference_to_a_base_func_is_refused_as_libbpf_does():
    base = small_base()
    split = Btf([DeclTag("tag", 17)], base=base)      # a decl tag on the base's FUNC
    base_raw, split_raw = blobs(split)
    with pytest.raises(BtfError) as e:
        distill(parse(split_raw, base=parse(base_raw)))
    assert e.value.what == ("unexpected reference to base type[17] of kind [12] "
                            "when creating distilled base BTF.")
    with pytest.raises(libbpf16.LibbpfError) as lib:
        libbpf16.distill(split_raw, base_raw)
    assert lib.value.log == [f"libbpf: {e.value.what}"]


def test_base_btf_is_refused():
    with pytest.raises(BtfError):
        distill(small_base())


@lru_cache(maxsize=None)
def _linux71():
    """btf_testmod as split BTF over Linux 7.1's vmlinux (relocated by us)."""
    vm = parse(external("vmlinux.btf"))
    dist = parse(external("btf_testmod.btf.base"))
    split = relocate(parse(external("btf_testmod.btf"), base=dist), dist, vm)
    return vm, split


def test_btf_testmod_equals_libbpf():
    vm, split = _linux71()
    split_raw = encode(split)
    want_base, want_split = libbpf16.distill(split_raw, external("vmlinux.btf"))
    new_base, new_split = distill(parse(split_raw, base=vm))
    assert encode(new_base) == want_base
    assert encode(new_split) == want_split


def test_btf_testmod_distill_then_relocate_is_the_same_module():
    vm, split = _linux71()
    new_base, new_split = distill(split)
    again = relocate(new_split, new_base, vm)
    rep = compare(split, again)
    assert not rep.differ and not rep.missing
    # what distilling moved into the split (typedefs, ...) is the base's own
    assert all(entry in {(t.kind.name, t.name) for t in vm.types} for entry in rep.extra)
    # the distilled base is what the shipped one is: same kinds, names and sizes
    shipped = parse(external("btf_testmod.btf.base"))
    key = sorted((t.kind, t.name, getattr(t, "size", 0)) for t in shipped.types)
    assert sorted((t.kind, t.name, getattr(t, "size", 0)) for t in new_base.types) == key
