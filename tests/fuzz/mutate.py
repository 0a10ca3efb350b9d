"""Mutations of real input files: each one a small, named lie.

Every mutator takes the input bytes and a `random.Random` and returns
(description, new bytes); the description is enough to make the same input
again (`replay`).  Families:

  truncate   cut the file at k/200 of its length
  flip       flip one bit, anywhere or inside one named section
  poke       overwrite 1, 2, 4 or 8 bytes with an interesting value
  uleb       overwrite bytes with a padded ULEB128 of an interesting value
             (abbreviation codes, forms, lengths, indexes in DWARF)
  shdr       a section header lies: offset or size past the end, overlapping
             another section, link or info out of range, another type or flags
  ehdr       the ELF header lies: section table offset, count, entry size,
             name table index, class, data encoding, type, machine
  btf        a BTF header field or a word of a type record (name offset,
             info with a large vlen or an unknown kind, type id) is replaced
  splice     a run of bytes copied over another place of the same section
"""

from __future__ import annotations

import random
import struct

from . import elfio

INTERESTING = (0, 1, 2, 3, 4, 7, 8, 0x10, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF,
               0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFF0, 0xFFFFFFFF, 0x100000000,
               0x7FFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF)

DWARF_SECTIONS = (".debug_info", ".debug_abbrev", ".debug_str", ".debug_str_offsets",
                  ".debug_addr", ".debug_loclists", ".debug_loc", ".debug_line_str",
                  ".rela.debug_info", ".rela.debug_str_offsets", ".rela.debug_addr",
                  ".rela.debug_loclists", ".rela.debug_loc")
ELF_SECTIONS = (".symtab", ".strtab", ".shstrtab", ".rela.debug_info", ".text", ".data",
                ".bss", ".BTF")


def _interesting(rng: random.Random, around: int = 0) -> int:
    if around and rng.random() < 0.3:
        return around + rng.choice((-8, -4, -1, 0, 1, 4, 8, 1 << 20))
    return rng.choice(INTERESTING)


def truncate(data: bytes, k: int) -> tuple[str, bytes]:
    """The first k/200 of the file."""
    n = len(data) * k // 200
    return f"truncate {n}", data[:n]


def _span(data: bytes, rng: random.Random, names) -> tuple[str, int, int]:
    """(name, start, size) of a random present section among `names`, or the
    whole file when none is present or the file is not ELF."""
    try:
        secs = [s for s in elfio.layout(data).sections
                if s.name in names and s.size and s.type != elfio.SHT_NOBITS
                and s.offset + s.size <= len(data)]
    except Exception:
        secs = []
    if not secs:
        return "file", 0, len(data)
    s = rng.choice(secs)
    return s.name, s.offset, s.size


def flip(data: bytes, rng: random.Random, names=None) -> tuple[str, bytes]:
    where, start, size = _span(data, rng, names) if names else ("file", 0, len(data))
    if not size:
        return "flip nothing", data
    pos = start + rng.randrange(size)
    bit = rng.randrange(8)
    out = bytearray(data)
    out[pos] ^= 1 << bit
    return f"flip {where} byte {pos:#x} bit {bit}", bytes(out)


def poke(data: bytes, rng: random.Random, names=None) -> tuple[str, bytes]:
    where, start, size = _span(data, rng, names) if names else ("file", 0, len(data))
    width = rng.choice((1, 2, 4, 8))
    if size < width:
        return "poke nothing", data
    pos = start + rng.randrange(size - width + 1)
    old = int.from_bytes(data[pos:pos + width], "little")
    v = _interesting(rng, old) & ((1 << (8 * width)) - 1)
    out = bytearray(data)
    out[pos:pos + width] = v.to_bytes(width, "little")
    return f"poke {where} {pos:#x} u{8 * width}={v:#x}", bytes(out)


def padded_uleb(v: int, width: int) -> bytes:
    """`v` as a ULEB128 of exactly `width` bytes (high bits dropped if needed)."""
    out = bytearray()
    for i in range(width):
        b = (v >> (7 * i)) & 0x7F
        out.append(b | (0x80 if i < width - 1 else 0))
    return bytes(out)


def uleb(data: bytes, rng: random.Random, names=DWARF_SECTIONS) -> tuple[str, bytes]:
    where, start, size = _span(data, rng, names)
    width = rng.choice((1, 2, 3, 5, 10))
    if size < width:
        return "uleb nothing", data
    pos = start + rng.randrange(size - width + 1)
    v = _interesting(rng)
    out = bytearray(data)
    out[pos:pos + width] = padded_uleb(v, width)
    return f"uleb {where} {pos:#x} width {width} = {v:#x}", bytes(out)


def splice(data: bytes, rng: random.Random, names=DWARF_SECTIONS) -> tuple[str, bytes]:
    where, start, size = _span(data, rng, names)
    if size < 4:
        return "splice nothing", data
    n = rng.randrange(1, min(64, size) + 1)
    src = start + rng.randrange(size - n + 1)
    dst = start + rng.randrange(size - n + 1)
    out = bytearray(data)
    out[dst:dst + n] = data[src:src + n]
    return f"splice {where} {src:#x}->{dst:#x} len {n}", bytes(out)


SHDR_LIES = ("offset-past-eof", "size-past-eof", "size-huge", "overlap", "link", "info",
             "type", "flags-compressed", "entsize", "name", "addralign", "size-zero")


def shdr(data: bytes, rng: random.Random, lie: str | None = None,
         index: int | None = None) -> tuple[str, bytes]:
    """One section header lies (SHDR_LIES)."""
    lay = elfio.layout(data)
    if index is None:
        index = rng.randrange(1, lay.shnum)
    s = lay.sections[index]
    lie = lie or rng.choice(SHDR_LIES)
    n = len(data)
    if lie == "offset-past-eof":
        field, v = "offset", n + rng.choice((0, 1, 4096, 1 << 31, 1 << 62))
    elif lie == "size-past-eof":
        field, v = "size", n - s.offset + rng.choice((1, 8, 4096))
    elif lie == "size-huge":
        field, v = "size", rng.choice((0x7FFFFFFF, 0xFFFFFFFF, 1 << 40, (1 << 64) - 1))
    elif lie == "overlap":
        other = lay.sections[rng.randrange(1, lay.shnum)]
        field, v = "offset", other.offset + rng.choice((0, 1, 8))
    elif lie == "link":
        field, v = "link", rng.choice((lay.shnum, lay.shnum + 1, 0xFFFF, 0xFFFFFFFF, 0, index))
    elif lie == "info":
        field, v = "info", rng.choice((lay.shnum, 0xFFFFFFFF, 0, index))
    elif lie == "type":
        field, v = "type", rng.choice((0, 1, 2, 3, 4, 8, 9, 11, 17, 18, 0x6FFFFFF5))
    elif lie == "flags-compressed":
        field, v = "flags", s.flags | elfio.SHF_COMPRESSED
    elif lie == "entsize":
        field, v = "entsize", rng.choice((0, 1, 7, 16, 24, 0xFFFFFFFF))
    elif lie == "name":
        field, v = "name", rng.choice((0, 1, 0xFFFF, 0xFFFFFFFF))
    elif lie == "addralign":
        field, v = "addralign", rng.choice((0, 3, 1 << 40, (1 << 64) - 1))
    else:
        field, v = "size", 0
    return (f"shdr [{index}] {s.name} {lie}: {field}={v:#x}",
            elfio.set_field(data, index, field, v))


EHDR_LIES = ("shoff", "shnum", "shentsize", "shstrndx", "class", "data", "type", "machine")


def ehdr(data: bytes, rng: random.Random, lie: str | None = None) -> tuple[str, bytes]:
    lie = lie or rng.choice(EHDR_LIES)
    if lie == "class":
        v = rng.choice((0, 1, 3))
        return f"ehdr class={v}", data[:4] + bytes([v]) + data[5:]
    if lie == "data":
        v = rng.choice((0, 2, 3))
        return f"ehdr data={v}", data[:5] + bytes([v]) + data[6:]
    choices = {"shoff": (0, 1, len(data), len(data) - 8, 0xFFFFFFFF),
               "shnum": (0, 1, 0xFF00, 0xFFFF), "shentsize": (0, 1, 40, 63, 65, 0xFFFF),
               "shstrndx": (0, 0xFFFF, 0xFF00, 1), "type": (0, 2, 3, 4, 0xFFFF),
               "machine": (0, 3, 40, 183, 243, 0xFFFF)}[lie]
    v = rng.choice(choices)
    return f"ehdr {lie}={v:#x}", elfio.set_ehdr(data, lie, v)


# --- BTF -------------------------------------------------------------------------

def _btf_span(data: bytes) -> tuple[int, int]:
    """(start, size) of the BTF blob: the whole file, or an ELF's .BTF."""
    if data[:4] == b"\x7fELF":
        try:
            s = elfio.section(data, ".BTF")
            return s.offset, s.size
        except Exception:
            return 0, len(data)
    return 0, len(data)


def btf(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """A header field or a word of a type record replaced."""
    start, size = _btf_span(data)
    if size < 24:
        return poke(data, rng)
    blob = data[start:start + size]
    hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from("<IIIII", blob, 4)
    out = bytearray(data)
    if rng.random() < 0.3:
        names = ("hdr_len", "type_off", "type_len", "str_off", "str_len")
        k = rng.randrange(5)
        old = struct.unpack_from("<I", blob, 4 + 4 * k)[0]
        v = _interesting(rng, old) & 0xFFFFFFFF
        struct.pack_into("<I", out, start + 4 + 4 * k, v)
        return f"btf header {names[k]}={v:#x}", bytes(out)
    types = hdr_len + type_off
    n_words = min(type_len, max(0, size - types)) // 4
    if n_words < 3:
        return poke(data, rng)
    w = rng.randrange(n_words)
    at = start + types + 4 * w
    old = struct.unpack_from("<I", data, at)[0]
    r = rng.random()
    if r < 0.25:                      # as an info word: kind, vlen, kflag
        kind = rng.choice((0, 1, 2, 4, 6, 13, 15, 17, 19, 20, 25, 31, 127))
        vlen = rng.choice((0, 1, 2, 0xFFFF, 0xFFFFFF, old & 0xFFFF))
        v = (rng.randrange(2) << 31) | (kind << 24) | vlen
    elif r < 0.5:                     # as a type id
        v = rng.choice((0, 1, 2, w // 4, 0xFFFFF, 0x100000, 0xFFFFFFFF, old + 1))
    elif r < 0.75:                    # as a string offset
        v = rng.choice((str_len, str_len - 1, str_len + 1, 1 << 24, 0xFFFFFFFF, old + 1))
    else:
        v = _interesting(rng, old)
    v &= 0xFFFFFFFF
    struct.pack_into("<I", out, at, v)
    return f"btf word {w} at {at:#x}={v:#x}", bytes(out)


# --- the mixes the suites and the campaign draw from -------------------------------

def _is_elf(data: bytes) -> bool:
    """Whether our own reader can still list the sections (earlier lies may
    have broken the table; then only byte-level mutations apply)."""
    try:
        return elfio.layout(data).shnum > 1
    except Exception:
        return False


def elf_mutation(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    r = rng.random()
    if r < 0.5 and not _is_elf(data):
        return poke(data, rng)
    if r < 0.35:
        return shdr(data, rng)
    if r < 0.5:
        return ehdr(data, rng)
    if r < 0.7:
        return poke(data, rng, ELF_SECTIONS)
    if r < 0.85:
        return flip(data, rng, ELF_SECTIONS)
    return poke(data, rng)


def dwarf_mutation(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    r = rng.random()
    if r < 0.3:
        return flip(data, rng, DWARF_SECTIONS)
    if r < 0.55:
        return uleb(data, rng)
    if r < 0.8:
        return poke(data, rng, DWARF_SECTIONS)
    return splice(data, rng)


def btf_mutation(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    r = rng.random()
    if r < 0.6:
        return btf(data, rng)
    if r < 0.8:
        return flip(data, rng)
    return poke(data, rng)


def stack(data: bytes, rng: random.Random, mutator, n: int) -> tuple[str, bytes]:
    """`n` mutations of one family applied in a row."""
    notes = []
    for _ in range(n):
        note, data = mutator(data, rng)
        notes.append(note)
    return "; ".join(notes), data
