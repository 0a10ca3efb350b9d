"""A DWARF assembler for hand-made hostile inputs: abbreviations, DIEs, units.

Numbers are the DWARF 5 standard's (section 7), written out here rather
than taken from encoder/dwarf so the generator does not share the reader's
mistakes.  `DwarfObject` puts units into a relocatable ELF64 object with a
null-only symbol table, which `dwarf2btf encode` reads like any `.o`.
"""

from __future__ import annotations

import struct

from .elfio import SHT_STRTAB, SHT_SYMTAB, NewSection, write_rel

# DW_TAG_*
TAG = dict(array_type=0x01, enumeration_type=0x04, formal_parameter=0x05, member=0x0d,
           pointer_type=0x0f, compile_unit=0x11, structure_type=0x13,
           subroutine_type=0x15, typedef=0x16, union_type=0x17, lexical_block=0x0b,
           subrange_type=0x21, base_type=0x24, const_type=0x26, enumerator=0x28,
           subprogram=0x2e, variable=0x34, volatile_type=0x35, atomic_type=0x47,
           skeleton_unit=0x4a, partial_unit=0x3c, imported_unit=0x3d)
# DW_AT_*
AT = dict(sibling=0x01, location=0x02, name=0x03, byte_size=0x0b, bit_offset=0x0c,
          bit_size=0x0d, language=0x13,
          producer=0x25, upper_bound=0x2f, abstract_origin=0x31, count=0x37,
          data_member_location=0x38, declaration=0x3c, encoding=0x3e, external=0x3f,
          specification=0x47, type=0x49, const_value=0x1c, low_pc=0x11, high_pc=0x12,
          str_offsets_base=0x72, addr_base=0x73, dwo_name=0x76, GNU_dwo_name=0x2130,
          import_=0x18)
# DW_FORM_*
FORM = dict(addr=0x01, block2=0x03, block4=0x04, data2=0x05, data4=0x06, data8=0x07,
            string=0x08, block=0x09, block1=0x0a, data1=0x0b, flag=0x0c, sdata=0x0d,
            strp=0x0e, udata=0x0f, ref_addr=0x10, ref1=0x11, ref2=0x12, ref4=0x13,
            ref8=0x14, ref_udata=0x15, indirect=0x16, sec_offset=0x17, exprloc=0x18,
            flag_present=0x19, strx=0x1a, implicit_const=0x21, strx1=0x25, addrx=0x1b,
            GNU_ref_alt=0x1f20, GNU_strp_alt=0x1f21)
DW_ATE_signed = 0x05
DW_LANG_C11 = 0x1d
DW_UT_compile, DW_UT_skeleton = 0x01, 0x04


def uleb(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def sleb(v: int) -> bytes:
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if (v == 0 and not b & 0x40) or (v == -1 and b & 0x40):
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


_FIXED = {FORM["data1"]: "<B", FORM["ref1"]: "<B", FORM["flag"]: "<B",
          FORM["strx1"]: "<B", FORM["data2"]: "<H", FORM["ref2"]: "<H",
          FORM["data4"]: "<I", FORM["ref4"]: "<I", FORM["strp"]: "<I",
          FORM["sec_offset"]: "<I", FORM["ref_addr"]: "<I",
          FORM["data8"]: "<Q", FORM["ref8"]: "<Q", FORM["addr"]: "<Q",
          FORM["GNU_ref_alt"]: "<I", FORM["GNU_strp_alt"]: "<I"}


def value(form: int, v) -> bytes:
    """The bytes of `v` stored with `form` (32-bit DWARF, 8-byte addresses).
    A `bytes` value is taken as already encoded."""
    if isinstance(v, (bytes, bytearray)) and form not in (
            FORM["block"], FORM["exprloc"], FORM["block1"], FORM["block2"],
            FORM["block4"], FORM["string"]):
        return bytes(v)
    if form in _FIXED:
        return struct.pack(_FIXED[form], v)
    if form in (FORM["udata"], FORM["ref_udata"], FORM["strx"], FORM["addrx"]):
        return uleb(v)
    if form == FORM["sdata"]:
        return sleb(v)
    if form == FORM["string"]:
        return (v.encode() if isinstance(v, str) else v) + b"\0"
    if form in (FORM["block"], FORM["exprloc"]):
        return uleb(len(v)) + v
    if form == FORM["block1"]:
        return bytes([len(v)]) + v
    if form == FORM["block2"]:
        return struct.pack("<H", len(v)) + v
    if form == FORM["block4"]:
        return struct.pack("<I", len(v)) + v
    if form in (FORM["flag_present"], FORM["implicit_const"]):
        return b""
    raise ValueError(f"form {form:#x}")


class Unit:
    """One unit under construction: its abbreviation table, DIEs, strings.

    `die()` returns the DIE's unit-relative offset (what DW_FORM_ref4 holds),
    so references can point backwards; `reserve_ref4()` + `patch_ref4()`
    make forward references and cycles.
    """

    def __init__(self, version: int = 5, unit_type: int = DW_UT_compile,
                 address_size: int = 8):
        self.version = version
        self.unit_type = unit_type
        self.address_size = address_size
        self.abbrev = bytearray()
        self.codes: dict[tuple, int] = {}
        self.body = bytearray()
        self.header_size = 12 if version >= 5 else 11

    def code(self, tag: int, children: bool, specs: tuple) -> int:
        """The abbreviation code for (tag, children, ((at, form[, const]), ...))."""
        key = (tag, children, specs)
        got = self.codes.get(key)
        if got is None:
            got = self.codes[key] = len(self.codes) + 1
            self.abbrev += uleb(got) + uleb(tag) + bytes([int(children)])
            for spec in specs:
                self.abbrev += uleb(spec[0]) + uleb(spec[1])
                if spec[1] == FORM["implicit_const"]:
                    self.abbrev += sleb(spec[2])
            self.abbrev += b"\0\0"
        return got

    def here(self) -> int:
        return self.header_size + len(self.body)

    def die(self, tag: str | int, attrs: list[tuple] = (), *, children: bool = False) -> int:
        """Append a DIE; attrs are (at, form, value) with names or numbers."""
        tag = TAG[tag] if isinstance(tag, str) else tag
        specs, vals = [], []
        for at, form, v in attrs:
            at = AT[at] if isinstance(at, str) else at
            form = FORM[form] if isinstance(form, str) else form
            specs.append((at, form, v) if form == FORM["implicit_const"] else (at, form))
            vals.append(value(form, v))
        at = self.here()
        self.body += uleb(self.code(tag, children, tuple(specs))) + b"".join(vals)
        return at

    def end(self) -> None:
        """Close the innermost DIE with children."""
        self.body += b"\0"

    def raw(self, data: bytes) -> int:
        at = self.here()
        self.body += data
        return at

    def patch_ref4(self, at: int, target: int) -> None:
        """Overwrite 4 bytes at unit offset `at` (e.g. a ref4 placeholder)."""
        p = at - self.header_size
        self.body[p:p + 4] = struct.pack("<I", target)

    def info(self, abbrev_offset: int = 0) -> bytes:
        """The unit as it goes into .debug_info."""
        rest = struct.pack("<H", self.version)
        if self.version >= 5:
            rest += bytes([self.unit_type, self.address_size]) + struct.pack("<I", abbrev_offset)
        else:
            rest += struct.pack("<I", abbrev_offset) + bytes([self.address_size])
        rest += self.body
        return struct.pack("<I", len(rest)) + rest

    def abbrevs(self) -> bytes:
        return bytes(self.abbrev) + b"\0"


def cu(version: int = 5, name: str = "fuzz.c") -> Unit:
    """A unit whose compile_unit DIE (with children) is already written."""
    u = Unit(version)
    u.die("compile_unit", [("producer", "string", "dwarfgen"), ("name", "string", name),
                           ("language", "data1", DW_LANG_C11)], children=True)
    return u


def base_int(u: Unit, name: str = "int", size: int = 4) -> int:
    return u.die("base_type", [("name", "string", name), ("byte_size", "data1", size),
                               ("encoding", "data1", DW_ATE_signed)])


def obj(units: list[Unit] | None = None, *, info: bytes | None = None,
        abbrev: bytes | None = None, strings: bytes = b"\0",
        extra: list[NewSection] = ()) -> bytes:
    """A relocatable object with the units' DWARF (or raw .debug_info and
    .debug_abbrev bytes), a .debug_str, and an empty symbol table."""
    if info is None:
        info, abbrev = b"", b""
        for u in units or ():
            info += u.info(abbrev_offset=len(abbrev))
            abbrev += u.abbrevs()
    secs = [NewSection(".debug_info", info), NewSection(".debug_abbrev", abbrev),
            NewSection(".debug_str", strings),
            NewSection(".symtab", bytes(24), SHT_SYMTAB, link=5, info=1, align=8, entsize=24),
            NewSection(".strtab", b"\0", SHT_STRTAB)]
    return write_rel(secs + list(extra))
