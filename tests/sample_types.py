"""A small BTF with every kind and the corners of each, built by hand."""

from encoder.btf.kinds import FuncLinkage, IntEncoding, VarLinkage
from encoder.btf.model import (Array, Btf, Const, Datasec, DeclTag, Enum, Enum64, EnumValue,
                               Float, Func, FuncProto, Fwd, Int, Member, Param, Ptr,
                               Restrict, Struct, Typedef, TypeTag, Union, Var, VarSecinfo,
                               Volatile)


def every_kind() -> Btf:
    """One or more types of each of the 19 kinds, valid for the kernel."""
    b = Btf()
    i32 = b.add(Int("int", 4, 32, IntEncoding.SIGNED))
    u8 = b.add(Int("unsigned char", 1, 8))
    b.add(Int("char", 1, 8, IntEncoding.CHAR))
    b.add(Int("_Bool", 1, 8, IntEncoding.BOOL))
    u128 = b.add(Int("__int128 unsigned", 16, 128))
    ptr = b.add(Ptr(0))
    arr = b.add(Array(u8, i32, 16))
    fwd_s = b.add(Fwd("later"))
    b.add(Fwd("later_u", union=True))
    st = b.add(Struct("s", 24, [Member("a", i32, 0), Member("", ptr, 64),
                                Member("buf", arr, 128)]))
    b.add(Struct("bits", 8, [Member("x", i32, 0, 3), Member("y", i32, 3, 29),
                             Member("z", u8, 32)], kflag=True))
    b.add(Union("u", 16, [Member("a", i32, 0), Member("w", u128, 0)]))
    b.add(Enum("e", 4, [EnumValue("E_A", 0), EnumValue("E_B", 0xFFFFFFFF)]))
    b.add(Enum("se", 4, [EnumValue("SE_NEG", -5), EnumValue("SE_POS", 7)], signed=True))
    b.add(Enum("", 4, []))
    b.add(Enum64("e64", 8, [EnumValue("BIG", 1 << 40), EnumValue("TOP", (1 << 64) - 1)]))
    b.add(Enum64("se64", 8, [EnumValue("NEG64", -(1 << 40))], signed=True))
    td = b.add(Typedef("s_t", st))
    vol = b.add(Volatile(i32))
    cst = b.add(Const(vol))
    b.add(Restrict(ptr))
    proto = b.add(FuncProto(i32, [Param("x", cst), Param("p", fwd_s + 100 - 100)]))
    b.add(FuncProto(0, [Param("fmt", ptr), Param("", 0)]))
    f = b.add(Func("f", proto, FuncLinkage.GLOBAL))
    b.add(Func("g", proto, FuncLinkage.STATIC))
    v1 = b.add(Var("counter", i32, VarLinkage.GLOBAL_ALLOCATED))
    v2 = b.add(Var("local", td, VarLinkage.STATIC))
    b.add(Datasec(".data..percpu", 64, [VarSecinfo(v1, 0, 4), VarSecinfo(v2, 8, 24)]))
    b.add(Float("double", 8))
    b.add(Float("long double", 16))
    b.add(DeclTag("kfunc", f))
    b.add(DeclTag("param_tag", f, 0))
    b.add(DeclTag("member_tag", st, 2))
    b.add(DeclTag("var_tag", v1))
    tt = b.add(TypeTag("user", i32))
    b.add(Ptr(tt))
    return b
