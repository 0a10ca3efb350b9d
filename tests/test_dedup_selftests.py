"""The kernel selftests' dedup cases, re-expressed as tables.

Sources: tools/testing/selftests/bpf/prog_tests/btf.c (`dedup_tests[]`) and
prog_tests/btf_dedup_split.c.  Inputs are model types; expected outputs are
the `bpftool btf dump` text the selftests validate (VALIDATE_RAW_BTF), or
model lists for the `dedup_tests[]` that encode raw words.  Names the C
tests pick from a string section by index are spelled out here.

Where we differ from the kernel's expectation on purpose, the case says so.
"""

from __future__ import annotations

import pytest

from dedup import Deduper, dedup
from encoder.btf.dump import dump_text
from encoder.btf.kinds import FuncLinkage, IntEncoding
from encoder.btf.model import (Array, Btf, Const, Datasec, DeclTag, Enum, Enum64,
                               EnumValue, Float, Func, FuncProto, Fwd, Int, Member, Param,
                               Ptr, Restrict, Struct, Typedef, TypeTag, Union, Var,
                               VarSecinfo, Volatile)
from encoder.btf.writer import encode

pytestmark = pytest.mark.usefixtures("dedup_walks")   # _cdedup.c and engine.py's loops

SIGNED, CHAR, BOOL = IntEncoding.SIGNED, IntEncoding.CHAR, IntEncoding.BOOL


def INT(name="", size=4, bits=32, enc=SIGNED, offset=0):
    return Int(name, size, bits, enc, offset)


def S(name, size, *members, kflag=False):
    return Struct(name, size, [Member(n, t, o, b) for n, t, o, *rest in members
                               for b in [rest[0] if rest else 0]], kflag)


def U(name, size, *members):
    return Union(name, size, [Member(n, t, o) for n, t, o in members])


def E(name, size, *values, signed=False):
    return Enum(name, size, [EnumValue(n, v) for n, v in values], signed)


def E64(name, size, *values):
    return Enum64(name, size, [EnumValue(n, v) for n, v in values])


def PROTO(ret, *params):
    return FuncProto(ret, [Param(n, t) for n, t in params])


def TAG(name, target, component=-1):
    return DeclTag(name, target, component)


def dump(types, base=None) -> str:
    return "".join(dump_text(Btf(types, base=base)))


# (description, input types, expected types)
CASES = [
    ("unused strings filtering",
     [INT("int"), INT("long", 8, 64)],
     [INT("int"), INT("long", 8, 64)]),
    ("strings deduplication",
     [INT("int"), INT("long int", 8, 64), INT("int"), INT("long int", 8, 64), INT("int")],
     [INT("int"), INT("long int", 8, 64)]),
    ("struct example #1",
     [INT("int"),                                               # [1]
      Array(1, 1, 16),                                          # [2]
      S("s", 88, ("next", 4, 0), ("a", 5, 64), ("b", 2, 128), ("c", 1, 640),
        ("d", 15, 672)),                                        # [3]
      Ptr(3),                                                   # [4]
      Ptr(6),                                                   # [5]
      Const(1),                                                 # [6]
      TAG("s", 3), TAG("s", 3, 1),                              # [7] [8]
      INT("int"),                                               # [9] full copy
      Array(9, 9, 16),                                          # [10]
      S("s", 88, ("next", 12, 0), ("a", 13, 64), ("b", 10, 128), ("c", 9, 640),
        ("d", 15, 672)),                                        # [11]
      Ptr(11), Ptr(14), Const(9),                               # [12]-[14]
      Float("float", 4),                                        # [15]
      TAG("s", 11), TAG("s", 11, 1)],                           # [16] [17]
     [INT("int"), Array(1, 1, 16),
      S("s", 88, ("next", 4, 0), ("a", 5, 64), ("b", 2, 128), ("c", 1, 640),
        ("d", 9, 672)),
      Ptr(3), Ptr(6), Const(1), TAG("s", 3), TAG("s", 3, 1), Float("float", 4)]),
    ("struct <-> fwd resolution w/ hash collision",
     [Fwd("x"), Ptr(1), S("s", 8, ("x", 2, 0)),                 # CU 1
      S("x", 0), Ptr(4), S("s", 8, ("x", 5, 0))],               # CU 2
     [Ptr(3), S("s", 8, ("x", 1, 0)), S("x", 0)]),
    ("void equiv check",
     [S("", 1), Ptr(1), S("s", 8, ("x", 2, 0)),
      Ptr(0), S("s", 8, ("x", 4, 0))],
     [S("", 1), Ptr(1), S("s", 8, ("x", 2, 0)),
      Ptr(0), S("s", 8, ("x", 4, 0))]),
    ("all possible kinds (no duplicates)",
     all_kinds := [INT("A", 8), E("B", 4, ("C", 0), ("D", 1)), Fwd("E", True),
                   Array(2, 1, 7), S("F", 4, ("G", 1, 0)), U("H", 4, ("I", 1, 0)),
                   Typedef("J", 1), Ptr(0), Const(8), Volatile(8), Restrict(8),
                   PROTO(1, ("K", 1), ("L", 18)), Func("M", 12), Float("N", 2),
                   TAG("O", 13), TAG("P", 13, 1), TAG("Q", 7), TypeTag("R", 8),
                   E64("S", 8, ("T", 0), ("U", 1 << 32 | 1))],
     all_kinds),
    ("no int/float duplicates",
     ints := [INT("int", 8), INT("some other int", 8), INT("int", 8, enc=CHAR),
              INT("int", 8, enc=BOOL), INT("int", 8, offset=8), INT("int", 8, bits=27),
              INT("int", 4), Float("float", 2), Float("float", 4), Float("float", 8),
              Float("float", 12), Float("float", 16)],
     ints),
    ("enum fwd resolution",
     [E("e1", 4),                       # [1] fwd enum 'e1' before full enum
      E("e1", 4, ("e1_val", 123)),      # [2] full enum 'e1' after fwd
      E("e2", 4, ("e2_val", 456)),      # [3] full enum 'e2' before fwd
      E("e2", 4),                       # [4] fwd enum 'e2' after full enum
      E("e1", 1),                       # [5] fwd enum with different size
      E("e1", 4, ("e1_val", 321))],     # [6] incompatible full enum
     [E("e1", 4, ("e1_val", 123)), E("e2", 4, ("e2_val", 456)),
      E("e1", 4, ("e1_val", 321))]),
    ("datasec and vars pass-through",
     [INT(), Var("t", 1), Datasec(".bss", 4, [VarSecinfo(2, 0, 4)]),
      INT(), Var("t", 4), Datasec(".bss", 4, [VarSecinfo(5, 0, 4)])],
     [INT(), Var("t", 1), Datasec(".bss", 4, [VarSecinfo(2, 0, 4)]),
      Var("t", 1), Datasec(".bss", 4, [VarSecinfo(4, 0, 4)])]),
    ("func/func_arg/var tags",
     [INT(), Var("t", 1), PROTO(0, ("a1", 1), ("a2", 1)), Func("f", 3),
      TAG("tag", 2), TAG("tag", 2), TAG("tag", 4), TAG("tag", 4),
      TAG("tag", 4, 1), TAG("tag", 4, 1)],
     [INT(), Var("t", 1), PROTO(0, ("a1", 1), ("a2", 1)), Func("f", 3),
      TAG("tag", 2), TAG("tag", 4), TAG("tag", 4, 1)]),
    ("func/func_param tags",
     [INT(), PROTO(0, ("a1", 1), ("a2", 1)), Func("f", 2),
      PROTO(0, ("a1", 1), ("a2", 1)), Func("f", 4),
      TAG("tag1", 3), TAG("tag2", 3), TAG("tag1", 3, 1), TAG("tag2", 3, 1),
      TAG("tag1", 5), TAG("tag3", 5), TAG("tag1", 5, 1), TAG("tag3", 5, 1)],
     [INT(), PROTO(0, ("a1", 1), ("a2", 1)), Func("f", 2),
      TAG("tag1", 3), TAG("tag2", 3), TAG("tag1", 3, 1), TAG("tag2", 3, 1),
      TAG("tag3", 3), TAG("tag3", 3, 1)]),
    ("struct/struct_member tags",
     [INT(), S("t", 8, ("m1", 1, 0), ("m2", 1, 32)), S("t", 8, ("m1", 1, 0), ("m2", 1, 32)),
      TAG("tag1", 2), TAG("tag2", 2), TAG("tag1", 2, 1), TAG("tag2", 2, 1),
      TAG("tag1", 3), TAG("tag3", 3), TAG("tag1", 3, 1), TAG("tag3", 3, 1)],
     [INT(), S("t", 8, ("m1", 1, 0), ("m2", 1, 32)),
      TAG("tag1", 2), TAG("tag2", 2), TAG("tag1", 2, 1), TAG("tag2", 2, 1),
      TAG("tag3", 2), TAG("tag3", 2, 1)]),
    ("typedef tags",
     [INT(), Typedef("t", 1), Typedef("t", 1),
      TAG("tag1", 2), TAG("tag2", 2), TAG("tag1", 3), TAG("tag3", 3)],
     [INT(), Typedef("t", 1), TAG("tag1", 2), TAG("tag2", 2), TAG("tag3", 2)]),
    ("btf_type_tag #1",
     [INT(), TypeTag("tag1", 1), TypeTag("tag2", 2), Ptr(3),
      TypeTag("tag1", 1), TypeTag("tag2", 5), Ptr(6),
      TypeTag("tag1", 1), Ptr(8)],
     [INT(), TypeTag("tag1", 1), TypeTag("tag2", 2), Ptr(3), Ptr(2)]),
    ("btf_type_tag #2",
     two := [INT(), TypeTag("tag1", 1), TypeTag("tag2", 2), Ptr(3),
             TypeTag("tag2", 1), Ptr(5)],
     two),
    ("btf_type_tag #3",
     three := [INT(), TypeTag("tag1", 1), TypeTag("tag2", 2), Ptr(3),
               TypeTag("tag2", 1), TypeTag("tag1", 5), Ptr(6)],
     three),
    ("btf_type_tag #4",
     four := [INT(), TypeTag("tag1", 1), Ptr(2),
              INT("", 8, 64), TypeTag("tag1", 4), Ptr(5)],
     four),
    ("btf_type_tag #5, struct",
     [INT(), TypeTag("tag1", 1), S("t", 4, ("m", 2, 0), kflag=True),
      TypeTag("tag1", 1), S("t", 4, ("m", 4, 0), kflag=True)],
     [INT(), TypeTag("tag1", 1), S("t", 4, ("m", 2, 0), kflag=True)]),
    ("enum64, standalone",
     [E64("e1", 8, ("e1_val", 123 << 32 | 1)), E64("e1", 8, ("e1_val", 123 << 32 | 1))],
     [E64("e1", 8, ("e1_val", 123 << 32 | 1))]),
    ("enum64, fwd resolution",
     [E64("e1", 8), E64("e1", 8, ("e1_val", 123 << 32 | 1)),
      E64("e2", 8, ("e2_val", 456 << 32)), E64("e2", 8),
      E64("e1", 8, ("e1_val", 321 << 32))],
     [E64("e1", 8, ("e1_val", 123 << 32 | 1)), E64("e2", 8, ("e2_val", 456 << 32)),
      E64("e1", 8, ("e1_val", 321 << 32))]),
    ("enum and enum64, no dedup",
     no := [E("e1", 4, ("e1_val", 1)), E64("e1", 4, ("e1_val", 1))],
     no),
    ("enum of different size: no dedup",
     size := [E("e1", 4, ("e1_val", 1)), E("e1", 2, ("e1_val", 1))],
     size),
    ("enum fwd to enum64",
     [E64("e1", 8, ("e1_val", 1)), E("e1", 4), Typedef("td", 2)],
     [E64("e1", 8, ("e1_val", 1)), Typedef("td", 1)]),
    ("enum64 fwd to enum",
     [E("e1", 4, ("e1_val", 1)), E64("e1", 8), Typedef("td", 2)],
     [E("e1", 4, ("e1_val", 1)), Typedef("td", 1)]),
    ("standalone fwd declaration struct",
     [S("foo", 4, ("x", 2, 0)), INT(), Fwd("foo"), Ptr(3), Typedef("foo_ptr", 4)],
     [S("foo", 4, ("x", 2, 0)), INT(), Ptr(1), Typedef("foo_ptr", 3)]),
    ("standalone fwd declaration union",
     [U("foo", 4, ("x", 2, 0)), INT(), Fwd("foo", True), Ptr(3), Typedef("foo_ptr", 4)],
     [U("foo", 4, ("x", 2, 0)), INT(), Ptr(1), Typedef("foo_ptr", 3)]),
    ("standalone fwd declaration wrong kind",
     wrong := [S("foo", 4, ("x", 2, 0)), INT(), Fwd("foo", True), Ptr(3),
               Typedef("foo_ptr", 4)],
     wrong),
    ("standalone fwd declaration name conflict",
     conflict := [S("foo", 4, ("x", 2, 0)), INT(), Fwd("foo"), Ptr(3),
                  Typedef("foo_ptr", 4), S("foo", 8, ("x", 2, 0), ("y", 2, 0))],
     conflict),
    ("recursive typedef",
     [Typedef("Foo", 2), PROTO(1), Typedef("Foo", 4), PROTO(3)],
     [Typedef("Foo", 2), PROTO(1)]),
    ("typedef",
     [INT(), Typedef("foo", 1), INT(), Typedef("foo", 3)],
     [INT(), Typedef("foo", 1)]),
]


@pytest.mark.parametrize("descr,types,expect", CASES, ids=[c[0] for c in CASES])
def test_dedup_selftest(descr, types, expect):
    out, _ = dedup(Btf(types))
    assert "".join(dump_text(out)) == dump(expect)


def test_strings_first_come_and_unused_dropped():
    """'unused strings filtering': the string section holds only the names of
    the surviving types, in the order they first appear."""
    out, _ = dedup(Btf([INT("int"), INT("long", 8, 64), INT("int")]))
    encode(out)
    assert out.strings.bytes() == b"\0int\0long\0"


# --- btf_dedup_split.c ---------------------------------------------------------

BASE_SIMPLE = [INT("int"), Ptr(1), S("s1", 4, ("f1", 1, 0))]


def split_dedup(base_types, split_types):
    base = Btf(base_types)
    before = encode(base)
    d = Deduper(base)
    d.add_unit(split_types)
    out, maps = d.finish()
    assert encode(base) == before, "base types must never change"
    assert out.base is base
    return out, maps[0]


def test_split_simple():
    out, m = split_dedup(BASE_SIMPLE, [
        S("s2", 16, ("f1", 6, 0), ("f2", 5, 32), ("f3", 2, 64)),     # [4]
        INT("int"),                                                 # [5]
        S("s1", 4, ("f1", 5, 0))])                                  # [6]
    assert "".join(dump_text(out)) == (
        "[4] STRUCT 's2' size=16 vlen=3\n"
        "\t'f1' type_id=3 bits_offset=0\n"
        "\t'f2' type_id=1 bits_offset=32\n"
        "\t'f3' type_id=2 bits_offset=64\n")
    assert list(m) == [0, 1, 2, 3, 4, 1, 3]


def test_split_fwd_resolve():
    base = [INT("int"), Ptr(4), Ptr(5),
            S("s1", 16, ("f1", 2, 0), ("f2", 3, 64)), S("s2", 4, ("f1", 1, 0))]
    out, m = split_dedup(base, [
        INT("int"),                                                 # [6]
        Ptr(10),                                                    # [7]
        Fwd("s2"),                                                  # [8]
        Ptr(8),                                                     # [9]
        S("s1", 16, ("f1", 7, 0), ("f2", 9, 64))])                  # [10]
    assert out.types == []
    assert list(m[6:]) == [1, 2, 5, 3, 4]


def test_split_struct_duped():
    base = [INT("int"), Ptr(5), Fwd("s2"), Ptr(3),
            S("s1", 16, ("f1", 2, 0), ("f2", 4, 64))]
    out, _ = split_dedup(base, [
        INT("int"),                                                 # [6]
        Ptr(10),                                                    # [7]
        Fwd("s2"),                                                  # [8]
        Ptr(11),                                                    # [9]
        S("s1", 16, ("f1", 7, 0), ("f2", 9, 64)),                   # [10]
        S("s2", 40, ("f1", 7, 0), ("f2", 9, 64), ("f3", 6, 128),
          ("f4", 10, 192)),                                         # [11]
        Ptr(8),                                                     # [12]
        S("s3", 8, ("f1", 12, 0))])                                 # [13]
    assert "".join(dump_text(out)) == (
        "[6] PTR '(anon)' type_id=8\n"
        "[7] PTR '(anon)' type_id=9\n"
        "[8] STRUCT 's1' size=16 vlen=2\n"
        "\t'f1' type_id=6 bits_offset=0\n"
        "\t'f2' type_id=7 bits_offset=64\n"
        "[9] STRUCT 's2' size=40 vlen=4\n"
        "\t'f1' type_id=6 bits_offset=0\n"
        "\t'f2' type_id=7 bits_offset=64\n"
        "\t'f3' type_id=1 bits_offset=128\n"
        "\t'f4' type_id=8 bits_offset=192\n"
        "[10] STRUCT 's3' size=8 vlen=1\n"
        "\t'f1' type_id=7 bits_offset=0\n")


def _dup_struct_in_cu(start: int) -> list:
    return [INT("int"),
            S("s", 8, ("a", start + 3, 0), ("b", start + 4, 0)),
            S("", 8, ("f1", start + 1, 0), ("f2", start + 1, 32)),
            S("", 8, ("f1", start + 1, 0), ("f2", start + 1, 32))]


def test_split_dup_struct_in_cu():
    base, _ = dedup(Btf(_dup_struct_in_cu(0)))
    assert "".join(dump_text(base)) == (
        "[1] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED\n"
        "[2] STRUCT 's' size=8 vlen=2\n"
        "\t'a' type_id=3 bits_offset=0\n"
        "\t'b' type_id=3 bits_offset=0\n"
        "[3] STRUCT '(anon)' size=8 vlen=2\n"
        "\t'f1' type_id=1 bits_offset=0\n"
        "\t'f2' type_id=1 bits_offset=32\n")
    out, m = split_dedup(base.types, _dup_struct_in_cu(3))
    assert out.types == []
    assert list(m[4:]) == [1, 2, 3, 3]


# --- beyond the selftests: the corner cases ---------------------------

def test_cu_views_merge_partial_structs():
    """libbpf's essay example: no CU knows A, B and S fully; one copy of each."""
    cu1 = [Fwd("S"), INT("int"),
           S("A", 24, ("a", 2, 0), ("self", 4, 64), ("parent", 5, 128)),   # [3]
           Ptr(3), Ptr(7), Fwd("B"),
           S("S", 16, ("a_ptr", 4, 0), ("b_ptr", 8, 64)), Ptr(6)]          # [7]
    cu2 = [Fwd("S"), Fwd("A"), INT("int"),
           S("B", 24, ("b", 3, 0), ("self", 5, 64), ("parent", 6, 128)),   # [4]
           Ptr(4), Ptr(7),
           S("S", 16, ("a_ptr", 8, 0), ("b_ptr", 5, 64)), Ptr(2)]          # [7]
    d = Deduper()
    d.add_unit(cu1)
    d.add_unit(cu2)
    out, maps = d.finish()
    kinds = sorted((type(t).__name__, t.name) for t in out.types)
    assert kinds == [("Int", "int"), ("Ptr", ""), ("Ptr", ""), ("Ptr", ""),
                     ("Struct", "A"), ("Struct", "B"), ("Struct", "S")]
    assert maps[0][1] == maps[1][7]          # FWD S in CU 1 is CU 2's struct S
    assert maps[1][2] == maps[0][3]          # FWD A in CU 2 is CU 1's struct A


def test_same_name_static_types_stay_apart():
    """Two different `struct state` (static in two files) never merge, and a
    FWD of the ambiguous name stays a FWD."""
    d = Deduper()
    d.add_unit([INT("int"), S("state", 4, ("a", 1, 0))])
    d.add_unit([INT("long", 8, 64), S("state", 8, ("a", 1, 0))])
    d.add_unit([Fwd("state"), Ptr(1)])
    out, maps = d.finish()
    assert [t.name for t in out.types if isinstance(t, Struct)] == ["state", "state"]
    assert isinstance(out[maps[2][1]], Fwd)


def test_func_linkage_kept_apart():
    types = [INT("int"), PROTO(1), Func("f", 2, FuncLinkage.STATIC),
             Func("f", 2, FuncLinkage.GLOBAL), Func("f", 2, FuncLinkage.EXTERN),
             Func("f", 2, FuncLinkage.GLOBAL)]
    out, m = dedup(Btf(types))
    assert len(out.types) == 5
    assert m[4] == m[6] != m[3]


def test_anonymous_types_merge_by_structure():
    types = [INT("int"), S("", 4, ("a", 1, 0)), U("", 4, ("a", 1, 0)),
             S("", 4, ("a", 1, 0)), S("", 4, ("b", 1, 0))]
    out, m = dedup(Btf(types))
    assert list(m) == [0, 1, 2, 3, 2, 4]


def test_cycles_through_pointers_only():
    """BTF from any producer: pointer loops (no struct on the cycle) merge
    like anything else; a const loop is not a pointer loop."""
    out, m = dedup(Btf([Ptr(1), Ptr(2), Ptr(1), Const(1), Const(3), Const(6)]))
    assert "".join(dump_text(out)) == ("[1] PTR '(anon)' type_id=1\n"
                                       "[2] CONST '(anon)' type_id=1\n"
                                       "[3] CONST '(anon)' type_id=3\n")
    assert list(m) == [0, 1, 1, 1, 2, 2, 3]
