"""Good and bad BTF blobs, each bad one breaking exactly one kernel rule.

Blobs are written with the project's writer from a model, then patched
where the model cannot say the fault (reserved bits, a non-zero ARRAY size,
a broken header).  Every bad blob names the reason the kernel gives, the
byte offset of the record at fault, and the profile it is bad for; those
with `kernel=True` are also refused by the kernel these tests run on (6.18).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from encoder.btf.kinds import FuncLinkage, IntEncoding, VarLinkage, info_word
from encoder.btf.model import (Array, Btf, Const, Datasec, DeclTag, Enum, Enum64, EnumValue,
                               Float, Func, FuncProto, Fwd, Int, Member, Param, Ptr,
                               Restrict, Struct, Typedef, TypeTag, Union, Var, VarSecinfo,
                               Volatile)
from encoder.btf.wire import parse_header, split_records, words_of
from encoder.btf.writer import encode

HDR = 24  # the writer's header, unless a case asks for another


# --- building blocks ----------------------------------------------------------

def blob(types, **kw) -> bytes:
    """Encode a list of model types (ids from 1) as a base BTF."""
    return encode(Btf(list(types)), **kw)


def record(data: bytes, type_id: int) -> int:
    """Byte offset in `data` of the record of `type_id` (base BTF)."""
    h = parse_header(data)
    words = words_of(data, h.hdr_len + h.type_off, h.type_len, h.endian)
    recs = split_records(words, None)
    return h.hdr_len + h.type_off + recs[type_id - 1].offset


def word_at(data: bytes, offset: int) -> int:
    return struct.unpack_from("<I", data, offset)[0]


def put(data: bytes, offset: int, value: int) -> bytes:
    """`data` with the u32 at `offset` replaced."""
    return data[:offset] + struct.pack("<I", value & 0xFFFFFFFF) + data[offset + 4:]


def put_word(data: bytes, type_id: int, index: int, value: int) -> bytes:
    """Replace word `index` of a record (0 name_off, 1 info, 2 size/type, 3.. tail)."""
    return put(data, record(data, type_id) + 4 * index, value)


def or_info(data: bytes, type_id: int, bits: int) -> bytes:
    at = record(data, type_id) + 4
    return put(data, at, word_at(data, at) | bits)


def header(data: bytes, **fields) -> bytes:
    """`data` with header fields replaced (type_off, type_len, str_off, str_len)."""
    names = ("type_off", "type_len", "str_off", "str_len")
    values = dict(zip(names, struct.unpack_from("<IIII", data, 8)))
    values.update(fields)
    return data[:8] + struct.pack("<IIII", *(values[n] for n in names)) + data[24:]


def str_start(data: bytes) -> int:
    h = parse_header(data)
    return h.hdr_len + h.str_off


# --- good BTF -------------------------------------------------------------------

def good_btf() -> Btf:
    """Every kind, with the corners the kernel accepts, loadable by 6.18."""
    b = Btf()
    i32 = b.add(Int("int", 4, 32, IntEncoding.SIGNED))
    u8 = b.add(Int("unsigned char", 1, 8))
    b.add(Int("char", 1, 8, IntEncoding.CHAR))
    b.add(Int("_Bool", 1, 8, IntEncoding.BOOL))
    u128 = b.add(Int("__int128 unsigned", 16, 128))
    vptr = b.add(Ptr(0))
    arr = b.add(Array(u8, i32, 16))
    fwd = b.add(Fwd("later"))
    b.add(Fwd("later_u", union=True))
    fwd_ptr = b.add(Ptr(fwd))
    st = b.add(Struct("s", 32, [Member("a", i32, 0), Member("", vptr, 64),
                                Member("buf", arr, 128)]))
    e = b.add(Enum("e", 4, [EnumValue("E_A", 0), EnumValue("E_B", 0xFFFFFFFF)]))
    dbl = b.add(Float("double", 8))
    b.add(Struct("bits", 24, [Member("x", i32, 0, 3), Member("y", i32, 3, 29),
                              Member("z", u8, 32), Member("f", e, 40, 4),
                              Member("d", dbl, 64), Member("p", fwd_ptr, 128)], kflag=True))
    b.add(Union("u", 16, [Member("a", i32, 0), Member("w", u128, 0)]))
    b.add(Enum("se", 4, [EnumValue("SE_NEG", -5), EnumValue("SE_POS", 7)], signed=True))
    b.add(Enum("", 4, []))
    b.add(Enum64("e64", 8, [EnumValue("BIG", 1 << 40), EnumValue("TOP", (1 << 64) - 1)]))
    b.add(Enum64("se64", 8, [EnumValue("NEG64", -(1 << 40))], signed=True))
    td = b.add(Typedef("s_t", st))
    vol = b.add(Volatile(i32))
    cst = b.add(Const(vol))
    b.add(Restrict(vptr))
    proto = b.add(FuncProto(i32, [Param("x", cst), Param("p", fwd_ptr)]))
    b.add(FuncProto(0, [Param("fmt", vptr), Param("", 0)]))
    f = b.add(Func("f", proto, FuncLinkage.GLOBAL))
    b.add(Func("g", proto, FuncLinkage.STATIC))
    v1 = b.add(Var("counter", i32, VarLinkage.GLOBAL_ALLOCATED))
    v2 = b.add(Var("local", td, VarLinkage.STATIC))
    b.add(Datasec(".data..percpu", 64, [VarSecinfo(v1, 0, 4), VarSecinfo(v2, 8, 32)]))
    b.add(Float("long double", 16))
    b.add(DeclTag("kfunc", f))
    b.add(DeclTag("param_tag", f, 1))
    b.add(DeclTag("member_tag", st, 2))
    b.add(DeclTag("var_tag", v1))
    b.add(DeclTag("typedef_tag", td))
    tt = b.add(TypeTag("user", i32))
    b.add(Ptr(tt))
    tt2 = b.add(TypeTag("rcu", cst))
    b.add(Ptr(tt2))
    b.add(Typedef("fn_t", proto))
    b.add(Ptr(b.add(Typedef("fn2_t", proto))))
    b.add(Array(arr, i32, 0))
    return b


def good_classic_btf() -> Btf:
    """Kinds up to DATASEC only, plain names: good for the 5.x profiles too."""
    b = Btf()
    i32 = b.add(Int("int", 4, 32, IntEncoding.SIGNED))
    st = b.add(Struct("s", 8, [Member("a", i32, 0), Member("b", i32, 32)]))
    proto = b.add(FuncProto(i32, [Param("x", b.add(Ptr(st)))]))
    b.add(Func("f", proto))
    v = b.add(Var("v", i32))
    b.add(Datasec(".bss", 4, [VarSecinfo(v, 0, 4)]))
    return b


def good_blobs() -> dict[str, tuple[bytes, str]]:
    """name -> (blob, profile): blobs every named kernel accepts."""
    return {
        "every kind": (encode(good_btf()), "6.18"),
        "every kind, latest": (encode(good_btf()), "latest"),
        "every kind, 32-byte header without layout": (encode(good_btf(), hdr_len=32), "6.18"),
        "every kind, layout section": (encode(good_btf(), layout=True), "latest"),
        "every kind, 7.1": (encode(good_btf(), layout=True), "7.1"),
        "classic kinds, 5.4": (encode(good_classic_btf()), "5.4"),
        "one int": (blob([Int("int", 4, 32)]), "6.18"),
        "dotted and 512-byte names": (blob([
            Int("int", 4, 32), FuncProto(1, [Param("x", 1)]), Func("f.isra.0", 2),
            Struct("s" * 512, 4, [Member("m", 1, 0)])]), "6.18"),
        "printable DATASEC name": (blob([
            Int("int", 4, 32), Var("v", 1),
            Datasec(".rodata.str1.1 ?x", 4, [VarSecinfo(2, 0, 4)])]), "6.18"),
        "tags with kind_flag": (blob([
            Int("int", 4, 32), TypeTag("attr", 1, attr=True), Ptr(2),
            Var("v", 1), DeclTag("x", 4, -1, attr=True)]), "6.18"),
        "pointer cycle through a struct": (blob([
            Struct("node", 8, [Member("next", 2, 0)]), Ptr(1)]), "6.18"),
        "latin-1 identifier": (blob([
            Int("int", 4, 32), Struct("caf\udce9", 4, [Member("x", 1, 0)])]), "6.18"),
    }


# --- bad BTF --------------------------------------------------------------------

@dataclass(frozen=True)
class Bad:
    """A blob that breaks one rule."""
    name: str
    blob: bytes
    reason: str                 # in our message; the kernel's wording
    offset: int                 # the record (or header field) at fault
    profile: str = "6.18"
    kernel: bool = True         # the running 6.18 kernel refuses it too
    kernel_log: bool = True     # ... and says `reason` in its last log line
    resolve: bool = True        # verify as BPF_BTF_LOAD does


INT = Int("int", 4, 32, IntEncoding.SIGNED)
U8 = Int("unsigned char", 1, 8)


def _one(types, tid: int, patch=None) -> tuple[bytes, int]:
    """Blob of `types`, patched by `patch(blob, tid)`, and tid's record offset."""
    data = blob(types)
    offset = record(data, tid)  # before the patch, which may hide the kind
    if patch is not None:
        data = patch(data, tid)
    return data, offset


def _case(name, reason, types, tid, patch=None, **kw) -> Bad:
    data, off = _one(types, tid, patch)
    return Bad(name, data, reason, off, **kw)


def header_cases() -> list[Bad]:
    good = blob([INT])
    n = len(good)
    types_len = struct.unpack_from("<I", good, 12)[0]
    strs = good[HDR + types_len:]
    with_layout = encode(Btf([INT]), layout=True)
    padded = strs + b"\0" * (-len(strs) % 4)
    unaligned = (good[:4] + struct.pack("<IIIII", HDR, 3, 0, 0, 3) + b"\0a\0")
    return [
        Bad("bad magic", b"\xeb\x9e" + good[2:], "Invalid magic", 0),
        Bad("version 2", good[:2] + b"\x02" + good[3:], "Unsupported version", 2),
        Bad("flags set", good[:3] + b"\x01" + good[4:], "Unsupported flags", 3),
        Bad("header longer than the data", good[:4] + struct.pack("<I", n + 4) + good[8:],
            "btf_header not found", 4),
        Bad("layout header on 6.18", with_layout, "Unsupported btf_header", 24),
        Bad("non-zero header tail on latest",
            with_layout[:4] + struct.pack("<I", 36) + with_layout[8:32] + b"\1\0\0\0"
            + with_layout[32:], "Unsupported btf_header", 32, profile="latest",
            kernel=False),
        Bad("header only", good[:HDR], "No data", 4),
        Bad("gap before strings", header(good[:HDR + types_len] + b"\0\0\0\0" + strs,
                                         str_off=types_len + 4),
            "Unsupported section found", 16),
        Bad("sections overlap", header(good + b"\0", str_off=types_len - 4,
                                       str_len=len(strs) + 5),
            "Section overlap found", 16),
        Bad("string section too long", header(good, str_len=len(strs) + 1),
            "Total section length too long", 20),
        Bad("data after the strings", good + b"\0\0\0\0", "Unsupported section found",
            n),
        Bad("strings before types", header(
            good[:HDR] + padded + good[HDR:HDR + types_len],
            type_off=len(padded), str_off=0, str_len=len(padded)),
            "String section is not at the end", 16),
        Bad("unaligned type section", unaligned, "Unaligned type_off", 8),
        Bad("no types", header(good[:HDR] + strs, type_len=0, str_off=0),
            "No type found", 12),
        Bad("strings do not start with NUL", good[:HDR + types_len] + b"x" + strs[1:],
            "Invalid string section", HDR + types_len),
        Bad("strings not NUL-terminated", good[:-1] + b"x", "Invalid string section",
            HDR + types_len),
        Bad("empty string section", header(good[:HDR + types_len], str_len=0),
            "Invalid string section", HDR + types_len),
        Bad("larger than BTF_MAX_SIZE",
            header(good + b"\0" * (16 << 20), str_len=len(strs) + (16 << 20)),
            "BTF_MAX_SIZE", 0, kernel_log=False),
    ]


def _layout_blob(sections: list[tuple[str, bytes]]) -> bytes:
    """A 32-byte-header blob with its sections in the order given."""
    off, body, fields = 0, b"", {}
    for name, data in sections:
        fields[name] = (off, len(data))
        off += len(data)
        body += data
    head = struct.pack("<HBBI", 0xEB9F, 1, 0, 32)
    for name in ("types", "strings", "layout"):
        head += struct.pack("<II", *fields.get(name, (0, 0)))
    return head + body


def layout_cases() -> list[Bad]:
    """The layout section's shape, checked by kernels that know it."""
    one = blob([Int("int", 4, 32)])
    types, strings = one[HDR:HDR + 16], one[HDR + 16:]
    return [
        Bad("layout section of 2 bytes", _layout_blob(
            [("types", types), ("layout", b"\4\0"), ("strings", strings)]),
            "Layout section is too small", 28, profile="latest", kernel=False),
        Bad("layout section of 6 bytes", _layout_blob(
            [("types", types), ("layout", b"\0" * 6), ("strings", strings)]),
            "layout_len is not multiple of 4", 28, profile="latest", kernel=False),
        Bad("unaligned layout section", _layout_blob(
            [("strings", strings), ("layout", b"\0" * 4), ("types", types)]),
            "Unaligned layout_off", 24, profile="latest", kernel=False),
    ]


def meta_cases() -> list[Bad]:
    """One rule of check_meta each, in the kernel's order per kind."""
    st = Struct("s", 8, [Member("a", 1, 0), Member("b", 1, 32)])
    c = [
        _case("reserved info bits", "Invalid btf_info", [INT], 1,
              lambda d, t: or_info(d, t, 1 << 16)),
        _case("kind 0", "Invalid kind", [INT, Ptr(1)], 2,
              lambda d, t: put_word(d, t, 1, 0)),
        _case("kind 20 on 6.18", "Invalid kind", [INT, Ptr(1)], 2,
              lambda d, t: put_word(d, t, 1, info_word(20, 0, False))),
        _case("kind 18 on 5.15", "Invalid kind", [INT, TypeTag("t", 1), Ptr(2)], 2,
              profile="5.15", kernel=False),
        _case("name offset past the strings", "Invalid name_offset", [INT, INT], 2,
              lambda d, t: put_word(d, t, 0, 1000)),
        _truncated(),
        _case("INT vlen", "vlen != 0", [INT], 1, lambda d, t: or_info(d, t, 1)),
        _case("INT kind_flag", "Invalid btf_info kind_flag", [INT], 1,
              lambda d, t: or_info(d, t, 1 << 31)),
        _case("INT reserved bits", "Invalid int_data", [INT], 1,
              lambda d, t: put_word(d, t, 3, 0x10000020)),
        _case("INT wider than 128 bits", "nr_bits exceeds 128",
              [Int("w", 16, 120, offset=16)], 1),
        _case("INT wider than its size", "nr_bits exceeds type_size", [Int("w", 2, 32)], 1),
        _case("INT two encodings", "Unsupported encoding",
              [Int("w", 4, 32, IntEncoding(3))], 1),
        _case("PTR with a name", "Invalid name", [INT, Ptr(1, "p")], 2),
        _case("TYPEDEF without a name", "Invalid name", [INT, Typedef("", 1)], 2),
        _case("TYPEDEF name with a dash", "Invalid name", [INT, Typedef("a-b", 1)], 2),
        _case("CONST kind_flag", "Invalid btf_info kind_flag", [INT, Const(1)], 2,
              lambda d, t: or_info(d, t, 1 << 31)),
        _case("VOLATILE vlen", "vlen != 0", [INT, Volatile(1)], 2,
              lambda d, t: or_info(d, t, 2)),
        _case("type id past BTF_MAX_TYPE", "Invalid type_id", [INT, Ptr(0x100000)], 2),
        _case("ARRAY size", "size != 0", [INT, Array(1, 1, 2)], 2,
              lambda d, t: put_word(d, t, 2, 8)),
        _case("ARRAY of void", "Invalid elem", [INT, Array(0, 1, 2)], 2),
        _case("ARRAY indexed by void", "Invalid index", [INT, Array(1, 0, 2)], 2),
        _case("ARRAY with a name", "Invalid name", [INT, Array(1, 1, 2, "a")], 2),
        _case("member name offset", "Invalid member name_offset", [INT, st], 2,
              lambda d, t: put_word(d, t, 6, 5000)),
        _case("member of type void", "Invalid type_id",
              [INT, Struct("s", 4, [Member("a", 0, 0)])], 2),
        _case("UNION member at an offset", "Invalid member bits_offset",
              [INT, Union("u", 8, [Member("a", 1, 0), Member("b", 1, 32)])], 2),
        _case("members out of order", "Invalid member bits_offset",
              [INT, Struct("s", 8, [Member("a", 1, 32), Member("b", 1, 0)])], 2),
        _case("member past the struct", "Member bits_offset exceeds its struct size",
              [INT, Struct("s", 4, [Member("a", 1, 0), Member("b", 1, 64)])], 2),
        _case("STRUCT name starts with a digit", "Invalid name",
              [INT, Struct("1s", 4, [Member("a", 1, 0)])], 2),
        _case("member name with a space", "Invalid name",
              [INT, Struct("s", 4, [Member("a b", 1, 0)])], 2),
        _case("name of 513 bytes", "Invalid name",
              [INT, Struct("s" * 513, 4, [Member("a", 1, 0)])], 2),
        _case("name of 129 bytes on 5.15", "Invalid name",
              [INT, Struct("s" * 129, 4, [Member("a", 1, 0)])], 2, profile="5.15",
              kernel=False),
        _case("dotted FUNC name on 6.1", "Invalid name",
              [INT, FuncProto(1, [Param("x", 1)]), Func("f.isra.0", 2)], 3, profile="6.1",
              kernel=False),
        _case("ENUM of 3 bytes", "Unexpected size", [Enum("e", 3, [EnumValue("A", 1)])], 1),
        _case("ENUM of 0 bytes", "Unexpected size", [Enum("e", 0, [])], 1),
        _case("anonymous enumerator", "Invalid name",
              [Enum("e", 4, [EnumValue("A", 1), EnumValue("", 2)])], 1),
        _case("enumerator name offset", "Invalid name_offset",
              [Enum("e", 4, [EnumValue("A", 1)])], 1, lambda d, t: put_word(d, t, 3, 999)),
        _case("signed ENUM on 5.15", "Invalid btf_info kind_flag",
              [Enum("e", 4, [EnumValue("A", -1)], signed=True)], 1, profile="5.15",
              kernel=False),
        _case("ENUM64 of 16 bytes", "Unexpected size",
              [Enum64("e", 16, [EnumValue("A", 1)])], 1),
        _case("FWD with a type", "type != 0", [INT, Fwd("f")], 2,
              lambda d, t: put_word(d, t, 2, 1)),
        _case("anonymous FWD", "Invalid name", [Fwd("")], 1),
        _case("FUNC linkage extern", "Invalid func linkage",
              [INT, FuncProto(1, []), Func("f", 2, FuncLinkage.EXTERN)], 3),
        _case("FUNC global on 5.4", "vlen != 0",
              [INT, FuncProto(1, []), Func("f", 2, FuncLinkage.GLOBAL)], 3, profile="5.4",
              kernel=False),
        _case("FUNC kind_flag", "Invalid btf_info kind_flag",
              [INT, FuncProto(1, []), Func("f", 2)], 3, lambda d, t: or_info(d, t, 1 << 31)),
        _case("anonymous FUNC", "Invalid name", [INT, FuncProto(1, []), Func("", 2)], 3),
        _case("FUNC_PROTO with a name", "Invalid name", [INT, FuncProto(1, [], "p")], 2),
        _case("FUNC_PROTO kind_flag", "Invalid btf_info kind_flag",
              [INT, FuncProto(1, [])], 2, lambda d, t: or_info(d, t, 1 << 31)),
        _case("VAR extern", "Linkage not supported",
              [INT, Var("v", 1, VarLinkage.GLOBAL_EXTERN)], 2),
        _case("VAR of void", "Invalid type_id", [INT, Var("v", 0)], 2),
        _case("VAR name with a dash", "Invalid name", [INT, Var("a-b", 1)], 2),
        _case("DATASEC of size 0", "size == 0",
              [INT, Var("v", 1), Datasec(".data", 0, [])], 3),
        _case("anonymous DATASEC", "Invalid name",
              [INT, Var("v", 1), Datasec("", 4, [VarSecinfo(2, 0, 4)])], 3),
        _case("DATASEC name with a tab", "Invalid name",
              [INT, Var("v", 1), Datasec(".da\tta", 4, [VarSecinfo(2, 0, 4)])], 3),
        _case("DATASEC name with a space on 6.6", "Invalid name",
              [INT, Var("v", 1), Datasec(".da ta", 4, [VarSecinfo(2, 0, 4)])], 3,
              profile="6.6", kernel=False),
        _case("DATASEC entry of void", "Invalid type_id",
              [INT, Var("v", 1), Datasec(".data", 4, [VarSecinfo(0, 0, 4)])], 3),
        _case("DATASEC entries overlap", "Invalid offset",
              [INT, Var("v", 1), Var("w", 1),
               Datasec(".data", 8, [VarSecinfo(2, 0, 4), VarSecinfo(3, 2, 4)])], 4),
        _case("DATASEC entry of size 0", "Invalid size",
              [INT, Var("v", 1), Datasec(".data", 4, [VarSecinfo(2, 0, 0)])], 3),
        _case("DATASEC entry past the end", "Invalid offset+size",
              [INT, Var("v", 1), Datasec(".data", 4, [VarSecinfo(2, 2, 4)])], 3),
        _case("DATASEC kind_flag", "Invalid btf_info kind_flag",
              [INT, Var("v", 1), Datasec(".data", 4, [VarSecinfo(2, 0, 4)])], 3,
              lambda d, t: or_info(d, t, 1 << 31)),
        _case("FLOAT of 3 bytes", "Invalid type_size", [Float("f", 3)], 1),
        _case("FLOAT vlen", "vlen != 0", [Float("f", 4)], 1, lambda d, t: or_info(d, t, 1)),
        _case("DECL_TAG without a value", "Invalid value",
              [INT, Var("v", 1), DeclTag("", 2)], 3),
        _case("DECL_TAG component -2", "Invalid component_idx",
              [INT, Var("v", 1), DeclTag("t", 2, -2)], 3),
        _case("DECL_TAG vlen", "vlen != 0", [INT, Var("v", 1), DeclTag("t", 2)], 3,
              lambda d, t: or_info(d, t, 1)),
        _case("DECL_TAG kind_flag on 6.1", "Invalid btf_info kind_flag",
              [INT, Var("v", 1), DeclTag("t", 2, attr=True)], 3, profile="6.1",
              kernel=False),
        _case("TYPE_TAG without a name", "Invalid name", [INT, TypeTag("", 1), Ptr(2)], 2),
    ]
    return c


def _truncated() -> Bad:
    """A STRUCT whose members run past the type section."""
    data = blob([INT, Struct("s", 8, [Member("a", 1, 0), Member("b", 1, 32)])])
    tl = struct.unpack_from("<I", data, 12)[0]
    cut = header(data[:HDR + tl - 4] + data[HDR + tl:], type_len=tl - 4, str_off=tl - 4)
    return Bad("truncated record", cut, "meta_left", record(data, 2))


def resolve_cases() -> list[Bad]:
    """Rules of the resolve pass and of the type-tag check."""
    kflag = {"kflag": True}
    return [
        _case("PTR past the last type", "Invalid type_id", [INT, Ptr(9)], 2),
        _case("PTR past the last type, module path", "Invalid type_id", [INT, Ptr(9)], 2,
              kernel=False, resolve=False),
        _case("TYPEDEF loop", "Loop detected", [Typedef("a", 2), Typedef("b", 1)], 1),
        _case("STRUCT contains itself", "Loop detected",
              [Struct("s", 4, [Member("a", 1, 0)])], 1),
        _case("33 CONSTs deep", "Exceeded max resolving depth",
              [Const(i + 2) for i in range(33)] + [INT], 1),
        _case("member of FWD type", "Invalid member",
              [Fwd("f"), Struct("s", 4, [Member("a", 1, 0)])], 2),
        _case("member of FUNC_PROTO type", "Invalid member",
              [INT, FuncProto(1, []), Struct("s", 4, [Member("a", 2, 0)])], 3),
        _case("member past struct_size", "Member exceeds struct_size",
              [INT, Struct("s", 6, [Member("a", 1, 0), Member("b", 1, 32)])], 2),
        _case("STRUCT bitfield in a STRUCT member", "Invalid member bitfield_size",
              [INT, Struct("t", 4, [Member("a", 1, 0)]),
               Struct("s", 4, [Member("t", 2, 0, 3)], **kflag)], 3),
        _case("bitfield wider than its int", "Invalid member bitfield_size",
              [U8, Struct("s", 4, [Member("a", 1, 0, 9)], **kflag)], 2),
        _case("bitfield of a non-regular int", "Invalid member base type",
              [Int("i3", 1, 3), Struct("s", 4, [Member("a", 1, 0, 2)], **kflag)], 2),
        _case("kflag member not on a byte", "Invalid member offset",
              [U8, Struct("s", 4, [Member("a", 1, 3)], **kflag)], 2),
        _case("pointer member not on a byte", "Member is not byte aligned",
              [INT, Ptr(1), Struct("s", 16, [Member("p", 2, 4)])], 3),
        _case("FLOAT member misaligned", "Member is not properly aligned",
              [Float("d", 8), Struct("s", 16, [Member("d", 1, 32)])], 2),
        _case("enum bitfield over 32 bits", "Invalid member bitfield_size",
              [Enum64("e", 8, [EnumValue("A", 1)]),
               Struct("s", 8, [Member("e", 1, 0, 33)], **kflag)], 2),
        _case("int member copies over 128 bits", "nr_copy_bits exceeds 128",
              [Int("w", 16, 128), Struct("s", 32, [Member("a", 1, 1)])], 2),
        _case("member through a TYPEDEF of a FWD", "Invalid member",
              [Fwd("f"), Typedef("f_t", 1), Struct("s", 4, [Member("a", 2, 0)])], 3),
        _case("ARRAY indexed by a STRUCT", "Invalid index",
              [INT, Struct("s", 4, [Member("a", 1, 0)]), Array(1, 2, 4)], 3),
        _case("ARRAY of FWD", "Invalid elem", [INT, Fwd("f"), Array(2, 1, 4)], 3),
        _case("ARRAY of a 3-bit int", "Invalid array of int",
              [INT, Int("i3", 1, 3), Array(2, 1, 4)], 3),
        _case("ARRAY larger than 4 GiB", "Array size overflows U32_MAX",
              [INT, Array(1, 1, 1 << 31)], 2),
        _case("FUNC of an INT", "Invalid type_id", [INT, Func("f", 1)], 2),
        _case("FUNC with an anonymous parameter", "Invalid arg#1",
              [INT, FuncProto(1, [Param("", 1)]), Func("f", 2)], 3),
        _case("void parameter before the last", "Invalid arg#1",
              [INT, FuncProto(1, [Param("", 0), Param("x", 1)])], 2),
        _case("named vararg", "Invalid arg#2",
              [INT, FuncProto(1, [Param("x", 1), Param("va", 0)])], 2),
        _case("returns a FWD", "Invalid return type", [Fwd("f"), FuncProto(1, [])], 2),
        _case("returns a VAR", "Invalid return type",
              [INT, Var("v", 1), FuncProto(2, [])], 3),
        _case("parameter name with a dash", "Invalid arg#1",
              [INT, FuncProto(1, [Param("a-b", 1)])], 2),
        _case("DATASEC of an INT", "Not a VAR kind member",
              [INT, Datasec(".data", 4, [VarSecinfo(1, 0, 4)])], 2),
        _case("DATASEC entry smaller than its VAR", "Invalid size",
              [Int("l", 8, 64), Var("v", 1), Datasec(".data", 8, [VarSecinfo(2, 0, 4)])], 3),
        _case("VAR of FWD", "Invalid type_id", [Fwd("f"), Var("v", 1)], 2),
        _case("DECL_TAG on an INT", "Invalid type_id", [INT, DeclTag("t", 1)], 2),
        _case("DECL_TAG on a VAR's component", "Invalid component_idx",
              [INT, Var("v", 1), DeclTag("t", 2, 0)], 3),
        _case("DECL_TAG on a missing member", "Invalid component_idx",
              [INT, Struct("s", 4, [Member("a", 1, 0)]), DeclTag("t", 2, 1)], 3),
        _case("CONST of a VAR", "Invalid type_id", [INT, Var("v", 1), Const(2)], 3),
        _case("PTR to a DATASEC", "Invalid type_id",
              [INT, Var("v", 1), Datasec(".data", 4, [VarSecinfo(2, 0, 4)]), Ptr(3)], 4),
        _case("CONST before a TYPE_TAG", "Type tags don't precede modifiers",
              [INT, TypeTag("t", 1), Const(2), Ptr(3)], 3),
        _case("TYPEDEF of a TYPE_TAG", "Type tags don't precede modifiers",
              [INT, TypeTag("t", 1), Typedef("t_t", 2)], 3),
        _case("TYPE_TAG after a CONST, module path", "Type tags don't precede modifiers",
              [INT, TypeTag("t", 1), Const(2)], 3, kernel=False, resolve=False),
    ]


def bad_blobs() -> list[Bad]:
    return header_cases() + layout_cases() + meta_cases() + resolve_cases()
