"""A small ELF reader and writer of our own, for making and breaking test inputs.

Independent of encoder/elf on purpose: a mutator that shared the reader's
parsing would share its blind spots.  Little-endian ELF32/ELF64 only; enough
to list section headers, patch their fields, append or replace a section,
and write a relocatable object from scratch.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_RELA, SHT_NOBITS = 1, 2, 3, 4, 8
SHF_ALLOC, SHF_EXECINSTR, SHF_INFO_LINK, SHF_COMPRESSED = 0x2, 0x4, 0x40, 0x800
EM_X86_64 = 62

_EHDR = {64: struct.Struct("<16sHHIQQQIHHHHHH"), 32: struct.Struct("<16sHHIIIIIHHHHHH")}
_SHDR = {64: struct.Struct("<IIQQQQIIQQ"), 32: struct.Struct("<IIIIIIIIII")}

# Field index in a section header (both classes).
SH_FIELDS = ("name", "type", "flags", "addr", "offset", "size", "link", "info",
             "addralign", "entsize")


class Section(NamedTuple):
    index: int
    name: str
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int
    info: int
    addralign: int
    entsize: int
    header_at: int      # file offset of this section's header


class Layout(NamedTuple):
    bits: int           # 32 or 64
    shoff: int
    shentsize: int
    shnum: int
    shstrndx: int
    sections: list[Section]


def layout(data: bytes) -> Layout:
    """The section table of a well-formed little-endian ELF file."""
    bits = 64 if data[4] == 2 else 32
    eh = _EHDR[bits].unpack_from(data, 0)
    shoff, shentsize, shnum, shstrndx = eh[6], eh[11], eh[12], eh[13]
    sh = _SHDR[bits]
    raw = [sh.unpack_from(data, shoff + i * shentsize) for i in range(shnum)]
    names_off = raw[shstrndx][4]
    out = []
    for i, r in enumerate(raw):
        start = names_off + r[0]
        name = data[start:data.index(b"\0", start)].decode()
        out.append(Section(i, name, *r[1:], shoff + i * shentsize))
    return Layout(bits, shoff, shentsize, shnum, shstrndx, out)


def section(data: bytes, name: str) -> Section:
    for s in layout(data).sections:
        if s.name == name:
            return s
    raise KeyError(name)


def contents(data: bytes, name: str) -> bytes:
    s = section(data, name)
    return data[s.offset:s.offset + s.size]


def set_field(data: bytes, index: int, field: str, value: int) -> bytes:
    """`data` with one field of section `index`'s header replaced (truncated
    to the field's width)."""
    lay = layout(data)
    sh = _SHDR[lay.bits]
    h = lay.sections[index]
    vals = list(sh.unpack_from(data, h.header_at))
    k = SH_FIELDS.index(field)
    width = 8 if sh.format[1:][k] == "Q" else 4
    vals[k] = value & ((1 << (8 * width)) - 1)
    out = bytearray(data)
    sh.pack_into(out, h.header_at, *vals)
    return bytes(out)


def set_ehdr(data: bytes, field: str, value: int) -> bytes:
    """`data` with one ELF header field (after e_ident) replaced."""
    names = ("type", "machine", "version", "entry", "phoff", "shoff", "flags", "ehsize",
             "phentsize", "phnum", "shentsize", "shnum", "shstrndx")
    bits = 64 if data[4] == 2 else 32
    eh = _EHDR[bits]
    vals = list(eh.unpack_from(data, 0))
    k = 1 + names.index(field)
    width = {"H": 2, "I": 4, "Q": 8}[eh.format[4:][k - 1]]
    vals[k] = value & ((1 << (8 * width)) - 1)
    out = bytearray(data)
    eh.pack_into(out, 0, *vals)
    return bytes(out)


def replace_section(data: bytes, name: str, payload: bytes, *, flags: int | None = None,
                    type: int | None = None) -> bytes:
    """`data` with section `name`'s contents moved to the end of the file and
    replaced by `payload` (the old bytes stay, unreferenced)."""
    s = section(data, name)
    at = (len(data) + 7) & ~7
    out = data + bytes(at - len(data)) + payload
    out = set_field(out, s.index, "offset", at)
    out = set_field(out, s.index, "size", len(payload))
    if flags is not None:
        out = set_field(out, s.index, "flags", flags)
    if type is not None:
        out = set_field(out, s.index, "type", type)
    return out


def add_section(data: bytes, name: str, payload: bytes, *, type: int = SHT_PROGBITS,
                flags: int = 0, link: int = 0, info: int = 0, align: int = 1,
                entsize: int = 0) -> bytes:
    """`data` with one more section: a new name table and a new section header
    table are appended at the end of the file, the old ones left in place."""
    lay = layout(data)
    sh = _SHDR[lay.bits]
    names = bytearray(contents(data, lay.sections[lay.shstrndx].name))
    name_off = len(names)
    names += name.encode() + b"\0"
    out = bytearray(data)
    out += bytes(-len(out) % 8)
    payload_at = len(out)
    out += payload
    out += bytes(-len(out) % 8)
    names_at = len(out)
    out += names
    out += bytes(-len(out) % 8)
    table_at = len(out)
    for s in lay.sections:
        vals = list(sh.unpack_from(data, s.header_at))
        if s.index == lay.shstrndx:
            vals[4], vals[5] = names_at, len(names)
        out += sh.pack(*vals)
    out += sh.pack(name_off, type, flags, 0, payload_at, len(payload), link, info, align,
                   entsize)
    out = set_ehdr(bytes(out), "shoff", table_at)
    return set_ehdr(out, "shnum", lay.shnum + 1)


# --- writing an object from scratch -------------------------------------------------

class NewSection(NamedTuple):
    name: str
    data: bytes
    type: int = SHT_PROGBITS
    flags: int = 0
    link: int = 0           # index into the final table (1-based: 0 is the null section)
    info: int = 0
    align: int = 1
    entsize: int = 0


def write_rel(sections: list[NewSection], *, machine: int = EM_X86_64) -> bytes:
    """An ELF64 little-endian ET_REL object holding `sections` (in order, from
    index 1) plus `.shstrtab` last."""
    names = bytearray(b"\0")
    name_offs = []
    for s in sections + [NewSection(".shstrtab", b"", SHT_STRTAB)]:
        name_offs.append(len(names))
        names += s.name.encode() + b"\0"
    eh, sh = _EHDR[64], _SHDR[64]
    body = bytearray(bytes(eh.size))
    places = []
    for s in sections:
        body += bytes(-len(body) % max(s.align, 1))
        places.append(len(body))
        if s.type != SHT_NOBITS:
            body += s.data
    names_at = len(body)
    body += names
    body += bytes(-len(body) % 8)
    shoff = len(body)
    body += bytes(sh.size)
    for s, off, noff in zip(sections, places, name_offs):
        body += sh.pack(noff, s.type, s.flags, 0, off, len(s.data), s.link, s.info,
                        s.align, s.entsize)
    body += sh.pack(name_offs[-1], SHT_STRTAB, 0, 0, names_at, len(names), 0, 0, 1, 0)
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    eh.pack_into(body, 0, ident, 1, machine, 1, 0, 0, shoff, 0, eh.size, 0, 0, sh.size,
                 len(sections) + 2, len(sections) + 1)
    return bytes(body)
