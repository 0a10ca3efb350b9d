"""A catalogue of hand-made hostile inputs, each with the outcome it must have.

Every entry builds its bytes deterministically (dwarfgen, btfgen, elfio on
a committed fixture) and says what `dwarf2btf` must do with them: refuse
with a message containing some words, or succeed (an encoded output then
passes our verifier and libbpf; see oracle.py).  tests/test_limits.py runs
each one in a forked child with a time and address-space limit, which is
what "bounded" means there; the campaign also starts from them.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Callable, NamedTuple

from . import btfgen, elfio
from .dwarfgen import FORM, Unit, base_int, cu, obj, uleb

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "fixtures" / "obj" / "kinds.gcc.dwarf5.o"
RAW_BTF = REPO / "fixtures" / "obj" / "kinds.gcc.dwarf5.btf"

DEEP = 10_000       # depth of the deep chains: far past any recursion limit


class Hostile(NamedTuple):
    name: str
    family: str                 # "dwarf", "btf", "elf"
    command: str                # "encode", "verify", "dump"
    make: Callable[[], bytes]
    expect: str                 # "ok", or words the one-line refusal must contain
    why: str                    # what the input attacks


CASES: list[Hostile] = []


def case(family: str, command: str, expect: str):
    def register(fn):
        CASES.append(Hostile(fn.__name__, family, command, fn, expect,
                             (fn.__doc__ or "").strip().splitlines()[0]))
        return fn
    return register


def by_name(name: str) -> Hostile:
    return next(c for c in CASES if c.name == name)


def _ref_at(u: Unit, die: int, skip: int) -> int:
    """Unit offset of a ref4 placeholder `skip` bytes into the DIE at `die`
    (after the one-byte abbreviation code)."""
    return die + 1 + skip


# --- DWARF: depth ----------------------------------------------------------------

@case("dwarf", "encode", "ok")
def deep_typedef_chain() -> bytes:
    """typedef t9999 -> ... -> t0 -> int: a type graph 10000 deep."""
    u = cu()
    prev = base_int(u)
    for k in range(DEEP):
        prev = u.die("typedef", [("name", "string", f"t{k}"), ("type", "ref4", prev)])
    u.end()
    return obj([u])


@case("dwarf", "encode", "ok")
def deep_pointer_chain() -> bytes:
    """int ******...: 10000 pointers to pointers."""
    u = cu()
    prev = base_int(u)
    for _ in range(DEEP):
        prev = u.die("pointer_type", [("byte_size", "data1", 8), ("type", "ref4", prev)])
    u.end()
    return obj([u])


@case("dwarf", "encode", "ok")
def deep_struct_by_value() -> bytes:
    """struct s9999 { struct s9998 m; } ...: aggregates 10000 deep by value."""
    u = cu()
    prev = base_int(u)
    for k in range(DEEP):
        s = u.die("structure_type", [("name", "string", f"s{k}"), ("byte_size", "data1", 4)],
                  children=True)
        u.die("member", [("name", "string", "m"), ("type", "ref4", prev),
                         ("data_member_location", "data1", 0)])
        u.end()
        prev = s
    u.end()
    return obj([u])


@case("dwarf", "encode", "ok")
def deep_die_nesting() -> bytes:
    """10000 struct DIEs each the child of the one before (a DIE tree 10000 deep)."""
    u = cu()
    i = base_int(u)
    for k in range(DEEP):
        u.die("structure_type", [("name", "string", f"n{k}"), ("byte_size", "data1", 4)],
              children=True)
        u.die("member", [("name", "string", "m"), ("type", "ref4", i),
                         ("data_member_location", "data1", 0)])
    for _ in range(DEEP + 1):
        u.end()
    return obj([u])


@case("dwarf", "encode", "ok")
def deep_lexical_blocks() -> bytes:
    """A struct declared 50000 lexical blocks deep inside a function."""
    u = cu()
    i = base_int(u)
    u.die("subprogram", [("name", "string", "f"), ("external", "flag_present", True)],
          children=True)
    for _ in range(5 * DEEP):
        u.die("lexical_block", [], children=True)
    u.die("structure_type", [("name", "string", "deep"), ("byte_size", "data1", 4)],
          children=True)
    u.die("member", [("name", "string", "m"), ("type", "ref4", i),
                     ("data_member_location", "data1", 0)])
    for _ in range(5 * DEEP + 3):
        u.end()
    return obj([u])


@case("dwarf", "encode", "ok")
def many_units() -> bytes:
    """10000 compile units of one type each."""
    units = []
    for k in range(10_000):
        u = cu(name=f"u{k}.c")
        base_int(u)
        u.end()
        units.append(u)
    return obj(units)


# --- DWARF: cycles ---------------------------------------------------------------

@case("dwarf", "encode", "cycle")
def typedef_cycle() -> bytes:
    """typedef A -> B -> A through DW_AT_type."""
    u = cu()
    a = u.die("typedef", [("name", "string", "A"), ("type", "ref4", 0)])
    b = u.die("typedef", [("name", "string", "B"), ("type", "ref4", a)])
    u.patch_ref4(_ref_at(u, a, 2), b)
    u.die("variable", [("name", "string", "v"), ("type", "ref4", a)])
    u.end()
    return obj([u])


@case("dwarf", "encode", "cycle")
def const_self_cycle() -> bytes:
    """A const_type whose DW_AT_type is itself."""
    u = cu()
    a = u.die("const_type", [("type", "ref4", 0)])
    u.patch_ref4(_ref_at(u, a, 0), a)
    u.end()
    return obj([u])


@case("dwarf", "encode", "ok")
def atomic_cycle() -> bytes:
    """Two _Atomic qualifiers (no BTF kind: seen through) referring to each other."""
    u = cu()
    a = u.die("atomic_type", [("type", "ref4", 0)])
    b = u.die("atomic_type", [("type", "ref4", a)])
    u.patch_ref4(_ref_at(u, a, 0), b)
    u.die("pointer_type", [("byte_size", "data1", 8), ("type", "ref4", a)])
    u.end()
    return obj([u])


@case("dwarf", "encode", "ok")
def struct_contains_itself() -> bytes:
    """struct s { struct s m; }: a by-value cycle (pahole writes it; only the
    kernel's resolve pass, which module BTF skips, would see the loop)."""
    u = cu()
    s = u.die("structure_type", [("name", "string", "s"), ("byte_size", "data1", 4)],
              children=True)
    u.die("member", [("name", "string", "m"), ("type", "ref4", s),
                     ("data_member_location", "data1", 0)])
    u.end()
    u.end()
    return obj([u])


@case("dwarf", "encode", "ok")
def specification_cycle() -> bytes:
    """Two variables whose DW_AT_specification point at each other."""
    u = cu()
    i = base_int(u)
    a = u.die("variable", [("name", "string", "a"), ("specification", "ref4", 0)])
    b = u.die("variable", [("specification", "ref4", a), ("type", "ref4", i)])
    u.patch_ref4(_ref_at(u, a, 2), b)
    u.end()
    return obj([u])


@case("dwarf", "encode", "ok")
def abstract_origin_cycle() -> bytes:
    """Functions and parameters whose DW_AT_abstract_origin form cycles."""
    u = cu()
    base_int(u)
    f = u.die("subprogram", [("abstract_origin", "ref4", 0), ("low_pc", "addr", 0x10)],
              children=True)
    p = u.die("formal_parameter", [("abstract_origin", "ref4", 0)])
    u.end()
    g = u.die("subprogram", [("abstract_origin", "ref4", f), ("low_pc", "addr", 0x20)],
              children=True)
    q = u.die("formal_parameter", [("abstract_origin", "ref4", p)])
    u.end()
    u.patch_ref4(_ref_at(u, f, 0), g)
    u.patch_ref4(_ref_at(u, p, 0), q)
    u.end()
    return obj([u])


# --- DWARF: abbreviations and forms ------------------------------------------------

@case("dwarf", "encode", "ok")
def indirect_form_chain() -> bytes:
    """DW_FORM_indirect naming DW_FORM_indirect 100000 times, then a string."""
    u = cu()
    u.die("base_type", [("name", "indirect", uleb(FORM["indirect"]) * 100_000
                         + uleb(FORM["string"]) + b"int\0"),
                        ("byte_size", "data1", 4), ("encoding", "data1", 5)])
    u.end()
    return obj([u])


@case("dwarf", "encode", "abbreviation table runs past the end")
def abbrev_table_unterminated() -> bytes:
    """An abbreviation table that never ends."""
    u = cu()
    base_int(u)
    u.end()
    return obj(info=u.info(), abbrev=u.abbrevs()[:-3])


@case("dwarf", "encode", "defined twice")
def abbrev_code_twice() -> bytes:
    """Abbreviation code 2 declared twice in one table."""
    u = cu()
    base_int(u)
    u.end()
    ab = u.abbrevs()
    return obj(info=u.info(), abbrev=ab[:-1] + b"\x02\x24\x00\x00\x00" + b"\0")


@case("dwarf", "encode", "ok")
def abbrev_code_huge() -> bytes:
    """Abbreviation code 2**63 (the table cannot be a list indexed by code)."""
    u = cu()
    base_int(u)
    u.end()
    big = uleb(1 << 63)
    ab = u.abbrevs().replace(b"\x02\x24", big + b"\x24", 1)
    info = u.info().replace(b"\x02int", big + b"int", 1)
    return obj(info=struct.pack("<I", len(info) - 4) + info[4:], abbrev=ab)


@case("dwarf", "encode", "abbreviation code")
def abbrev_code_undefined() -> bytes:
    """A DIE using an abbreviation code its table does not define."""
    u = cu()
    base_int(u)
    u.raw(uleb(77))
    u.end()
    return obj([u])


@case("dwarf", "encode", "unknown attribute form")
def unknown_form() -> bytes:
    """An attribute with form 0x7f, which no DWARF version defines."""
    u = cu()
    u.die("base_type", [("name", 0x7F, b"")])
    u.end()
    return obj([u])


@case("dwarf", "encode", "DW_AT_sibling")
def sibling_to_itself() -> bytes:
    """A skipped DIE whose DW_AT_sibling points at itself (a loop if followed)."""
    u = cu()
    base_int(u)
    u.die("subprogram", [("name", "string", "f")], children=True)
    u.die("lexical_block", [], children=True)
    s = u.die(0x48, [("sibling", "ref4", 0)], children=True)       # DW_TAG_call_site
    u.patch_ref4(_ref_at(u, s, 0), s)
    for _ in range(4):
        u.end()
    return obj([u])


@case("dwarf", "encode", "unsupported DWARF version")
def dwarf_version_6() -> bytes:
    """A unit of DWARF version 6."""
    u = cu()
    base_int(u)
    u.end()
    info = u.info()
    return obj(info=info[:4] + struct.pack("<H", 6) + info[6:], abbrev=u.abbrevs())


# --- DWARF: huge counts and lengths ------------------------------------------------

def _block4_4gb(kept: bool) -> bytes:
    u = cu()
    i = base_int(u)
    if not kept:
        u.die("subprogram", [("name", "string", "f")], children=True)
        u.die("lexical_block", [], children=True)
    u.die("variable", [("name", "string", "v"), ("type", "ref4", i),
                       ("location", "block4", b"")])
    u.body[-4:] = struct.pack("<I", 0xFFFFFFFF)
    for _ in range(1 if kept else 3):
        u.end()
    return obj([u])


@case("dwarf", "encode", "past the end")
def block4_4gb_kept() -> bytes:
    """DW_FORM_block4 of length 0xffffffff in a DIE the walk keeps."""
    return _block4_4gb(True)


@case("dwarf", "encode", "past the end")
def block4_4gb_skipped() -> bytes:
    """DW_FORM_block4 of length 0xffffffff in a DIE the walk skips."""
    return _block4_4gb(False)


@case("dwarf", "encode", "runs past the end")
def unit_length_huge() -> bytes:
    """A 64-bit DWARF unit claiming 2**62 bytes."""
    u = cu()
    base_int(u)
    u.end()
    info = u.info()
    return obj(info=b"\xff\xff\xff\xff" + struct.pack("<Q", 1 << 62) + info[4:],
               abbrev=u.abbrevs())


@case("dwarf", "encode", "string offset")
def strp_past_end() -> bytes:
    """A DW_FORM_strp name at offset 0xfffffff0 of a 1-byte .debug_str."""
    u = cu()
    u.die("base_type", [("name", "strp", 0xFFFFFFF0), ("byte_size", "data1", 4),
                        ("encoding", "data1", 5)])
    u.end()
    return obj([u])


@case("dwarf", "encode", "unterminated")
def strp_unterminated() -> bytes:
    """A DW_FORM_strp name at the last string of a .debug_str that does not
    end in NUL (the walk checks the section's last byte before each string)."""
    u = cu()
    u.die("base_type", [("name", "strp", 1), ("byte_size", "data1", 4),
                        ("encoding", "data1", 5)])
    u.end()
    return obj([u], strings=b"\0int")


@case("dwarf", "encode", "string index")
def strx_index_huge() -> bytes:
    """A DW_FORM_strx name with index 2**40 and no string offsets table."""
    u = cu()
    u.die("base_type", [("name", "strx", 1 << 40), ("byte_size", "data1", 4),
                        ("encoding", "data1", 5)])
    u.end()
    return obj([u])


@case("dwarf", "encode", "does not fit BTF")
def struct_size_huge() -> bytes:
    """A struct of 2**40 bytes (BTF sizes are 32 bits)."""
    u = cu()
    i = base_int(u)
    u.die("structure_type", [("name", "string", "s"), ("byte_size", "data8", 1 << 40)],
          children=True)
    u.die("member", [("name", "string", "m"), ("type", "ref4", i),
                     ("data_member_location", "data1", 0)])
    u.end()
    u.end()
    return obj([u])


@case("dwarf", "encode", "does not fit BTF")
def member_offset_negative() -> bytes:
    """A member at byte offset -8 (DW_FORM_sdata)."""
    u = cu()
    i = base_int(u)
    u.die("structure_type", [("name", "string", "s"), ("byte_size", "data1", 4)],
          children=True)
    u.die("member", [("name", "string", "m"), ("type", "ref4", i),
                     ("data_member_location", "sdata", -8)])
    u.end()
    u.end()
    return obj([u])


@case("dwarf", "encode", "ok")
def array_bound_huge() -> bytes:
    """int a[2**64]: DW_AT_upper_bound 2**64-1 (the element count wraps, as in pahole)."""
    u = cu()
    i = base_int(u)
    a = u.die("array_type", [("type", "ref4", i)], children=True)
    u.die("subrange_type", [("type", "ref4", i), ("upper_bound", "data8", (1 << 64) - 1)])
    u.end()
    u.die("variable", [("name", "string", "v"), ("type", "ref4", a)])
    u.end()
    return obj([u])


@case("dwarf", "encode", "ok")
def struct_70000_members() -> bytes:
    """A struct of 70000 members: more than a 16-bit vlen holds."""
    u = cu()
    i = base_int(u)
    u.die("structure_type", [("name", "string", "s"), ("byte_size", "data4", 4 * 70_000)],
          children=True)
    for k in range(70_000):
        u.die("member", [("name", "string", f"m{k}"), ("type", "ref4", i),
                         ("data_member_location", "data4", 4 * k)])
    u.end()
    u.end()
    return obj([u])


# --- DWARF: what we do not support, refused by name ---------------------------------

@case("dwarf", "encode", "split DWARF units")
def split_dwarf5_skeleton() -> bytes:
    """A DWARF 5 skeleton unit (DW_UT_skeleton): the types are in a .dwo."""
    u = Unit(5, unit_type=0x04)
    u.die("skeleton_unit", [("dwo_name", "string", "a.dwo")])
    return obj([u])


@case("dwarf", "encode", "split DWARF")
def split_dwarf4_skeleton() -> bytes:
    """A GNU DWARF 4 skeleton (a compile unit with DW_AT_GNU_dwo_name)."""
    u = Unit(4)
    u.die("compile_unit", [("GNU_dwo_name", "string", "a.dwo")])
    return obj([u])


@case("dwarf", "encode", "split DWARF object (.dwo)")
def split_dwo_file() -> bytes:
    """A .dwo file: .debug_info.dwo and no .debug_info."""
    u = cu()
    base_int(u)
    u.end()
    return elfio.write_rel([elfio.NewSection(".debug_info.dwo", u.info()),
                            elfio.NewSection(".debug_abbrev.dwo", u.abbrevs())])


@case("dwarf", "encode", ".gnu_debugaltlink")
def dwz_altlink() -> bytes:
    """A dwz-processed file: .gnu_debugaltlink names the supplementary file."""
    return elfio.add_section(FIXTURE.read_bytes(), ".gnu_debugaltlink",
                             b"/usr/lib/debug/.dwz/x.debug\0" + bytes(20))


@case("dwarf", "encode", ".debug_sup")
def dwarf5_supplementary() -> bytes:
    """A DWARF 5 .debug_sup section: part of the DWARF is in another file."""
    return elfio.add_section(FIXTURE.read_bytes(), ".debug_sup",
                             b"\x05\x00\x00sup.debug\0\x00")


@case("elf", "encode", "ok")
def legacy_zdebug() -> bytes:
    """.debug_info as a legacy .zdebug_info section (b"ZLIB", size, zlib data),
    its relocations moved to it and the old section made NOBITS."""
    info = _debug_info()
    data = elfio.add_section(FIXTURE.read_bytes(), ".zdebug_info",
                             b"ZLIB" + len(info).to_bytes(8, "big") + zlib.compress(info))
    new = elfio.layout(data).shnum - 1
    data = elfio.set_field(data, elfio.section(data, ".rela.debug_info").index, "info", new)
    return elfio.set_field(data, elfio.section(data, ".debug_info").index, "type",
                           elfio.SHT_NOBITS)


@case("dwarf", "encode", "GNU_ref_alt")
def dwz_alt_reference() -> bytes:
    """A DIE whose DW_AT_type is DW_FORM_GNU_ref_alt (into a dwz file)."""
    u = cu()
    u.die("typedef", [("name", "string", "t"), ("type", "GNU_ref_alt", 0x10)])
    u.end()
    return obj([u])


@case("dwarf", "encode", "type units")
def type_unit() -> bytes:
    """A DWARF 5 type unit (DW_UT_type, -fdebug-types-section)."""
    u = Unit(5, unit_type=0x02)
    u.header_size += 12                     # type_signature, type_offset
    u.die(0x41, [])                         # DW_TAG_type_unit
    info = u.info()
    head = info[:12] + struct.pack("<QI", 0x1234, 25)
    body = head + info[12:]
    return obj(info=struct.pack("<I", len(body) - 4) + body[4:], abbrev=u.abbrevs())


# --- ELF -------------------------------------------------------------------------------

def _compressed(payload: bytes, ctype: int, size: int | None = None) -> bytes:
    """FIXTURE with .debug_info replaced by an SHF_COMPRESSED section."""
    data = FIXTURE.read_bytes()
    raw = payload
    chdr = struct.pack("<IIQQ", ctype, 0, len(raw) if size is None else size, 1)
    return elfio.replace_section(data, ".debug_info", chdr + raw,
                                 flags=elfio.SHF_COMPRESSED)


def _debug_info() -> bytes:
    return elfio.contents(FIXTURE.read_bytes(), ".debug_info")


@case("elf", "encode", "ok")
def zlib_section() -> bytes:
    """.debug_info compressed with zlib (SHF_COMPRESSED, ELFCOMPRESS_ZLIB): supported."""
    info = _debug_info()
    return _compressed(zlib.compress(info), 1, len(info))


@case("elf", "encode", "ok")
def zstd_section_streamed() -> bytes:
    """.debug_info compressed with zstd, no content size in the frame (read in chunks)."""
    import zstandard
    info = _debug_info()
    return _compressed(zstandard.ZstdCompressor(write_content_size=False).compress(info), 2,
                       len(info))


@case("elf", "encode", "unknown compression type 7")
def unknown_compression() -> bytes:
    """SHF_COMPRESSED with ch_type 7, an algorithm nobody defined."""
    info = _debug_info()
    return _compressed(zlib.compress(info), 7, len(info))


@case("elf", "encode", "decompression bomb")
def zlib_bomb() -> bytes:
    """A 200 kB zlib stream of 200 MB of zeros, claiming to be 200 MB."""
    z = zlib.compress(bytes(200 << 20), 9)
    return _compressed(z, 1, 1 << 40)


@case("elf", "encode", "header says")
def zlib_longer_than_header() -> bytes:
    """zlib data that inflates to more than ch_size says (never allocated)."""
    info = _debug_info()
    return _compressed(zlib.compress(info + bytes(1 << 20)), 1, len(info))


@case("elf", "encode", "header says")
def zstd_frame_lies() -> bytes:
    """A zstd frame whose own content size (64 MB) is larger than ch_size."""
    import zstandard
    z = zstandard.ZstdCompressor(write_content_size=True).compress(bytes(64 << 20))
    return _compressed(z, 2, 4096)


@case("elf", "encode", "big-endian")
def big_endian() -> bytes:
    """EI_DATA = ELFDATA2MSB."""
    data = FIXTURE.read_bytes()
    return data[:5] + b"\x02" + data[6:]


@case("elf", "encode", "past the end")
def section_table_huge() -> bytes:
    """e_shnum 0xffff sections at e_shoff near the end of the file."""
    return elfio.set_ehdr(FIXTURE.read_bytes(), "shnum", 0xFFFF)


@case("elf", "encode", "power of two")
def alignment_not_power_of_two() -> bytes:
    """An allocated section with sh_addralign 2**64-1 (the libdwfl layout divides by it)."""
    data = FIXTURE.read_bytes()
    s = elfio.section(data, ".text")
    return elfio.set_field(data, s.index, "addralign", (1 << 64) - 1)


@case("elf", "encode", "string table index")
def symtab_link_out_of_range() -> bytes:
    """.symtab's sh_link (its string table) names section 0xffff."""
    data = FIXTURE.read_bytes()
    return elfio.set_field(data, elfio.section(data, ".symtab").index, "link", 0xFFFF)


@case("elf", "encode", "out of range")
def relocation_symbol_huge() -> bytes:
    """A .rela.debug_info entry naming symbol 0x7fffffff."""
    data = bytearray(FIXTURE.read_bytes())
    r = elfio.section(bytes(data), ".rela.debug_info")
    off, info, add = struct.unpack_from("<QQq", data, r.offset + 24)
    struct.pack_into("<QQq", data, r.offset + 24, off, (0x7FFFFFFF << 32) | (info & 0xFFFFFFFF),
                     add)
    return bytes(data)


# --- BTF -------------------------------------------------------------------------------

@case("btf", "dump", "runs past the end")
def btf_vlen_65535_tiny() -> bytes:
    """A 60-byte BTF whose one struct claims 65535 members."""
    return btfgen.blob([btfgen.struct_type(0, 4, [], vlen=0xFFFF)])


@case("btf", "dump", "past the string section")
def btf_name_past_strings() -> bytes:
    """A type name at offset 0x7fffffff of a 5-byte string section."""
    return btfgen.blob([btfgen.int_type(0x7FFFFFFF)], b"\0int\0")


@case("btf", "dump", "runs past the end")
def btf_type_len_huge() -> bytes:
    """A header claiming a 4 GB type section."""
    return btfgen.blob([btfgen.int_type(1)], b"\0int\0", hdr={"type_len": 0xFFFFFFFC})


@case("btf", "verify", "Exceeded max resolving depth:32")
def btf_typedef_chain_33() -> bytes:
    """33 typedefs each naming the next id: one past the kernel's resolve depth."""
    return btfgen.chain(btfgen.TYPEDEF, 33, named=True)


@case("btf", "verify", "ok")
def btf_typedef_chain_32() -> bytes:
    """32 typedefs each naming the next id: exactly the kernel's resolve depth."""
    return btfgen.chain(btfgen.TYPEDEF, 32, named=True)


@case("btf", "verify", "Exceeded max resolving depth:32")
def btf_struct_nesting_40() -> bytes:
    """Structs nested by value 40 deep, each naming the next id."""
    return btfgen.nested_structs(40)


@case("btf", "verify", "Exceeded max resolving depth:32")
def btf_const_chain_deep() -> bytes:
    """A chain of 100000 consts (bounded time: the walk stops at depth 32)."""
    return btfgen.chain(btfgen.CONST, 100_000)


@case("btf", "verify", "Loop detected")
def btf_typedef_self_loop() -> bytes:
    """A typedef of itself."""
    return btfgen.blob([btfgen.ref(btfgen.TYPEDEF, 1, 1)], b"\0t\0")


@case("btf", "dump", "ok")
def btf_const_chain_dump() -> bytes:
    """`dump` of 100000 chained consts (bpftool prints it; so must we, in bounded time)."""
    return btfgen.chain(btfgen.CONST, 100_000)


@case("btf", "dump", "ok")
def btf_typedef_loop_dump() -> bytes:
    """`dump` of a typedef loop (the reader is lenient, like libbpf)."""
    return btfgen.blob([btfgen.ref(btfgen.TYPEDEF, 2, 1), btfgen.ref(btfgen.TYPEDEF, 1, 1)],
                       b"\0t\0")


@case("btf", "dump", "no .BTF section")
def elf_without_btf() -> bytes:
    """An ELF file given to `dump` that has no .BTF."""
    return FIXTURE.read_bytes()


@case("btf", "dump", "runs past the end")
def elf_btf_truncated() -> bytes:
    """An ELF file whose .BTF section is the first half of a BTF blob."""
    raw = RAW_BTF.read_bytes()
    return elfio.add_section(FIXTURE.read_bytes(), ".BTF", raw[:len(raw) // 2])
