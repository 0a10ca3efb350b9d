"""Apply an ET_REL object's relocations to its debug sections, in bulk.

In a `.ko` or `.o` every cross-section reference in DWARF (string offsets,
abbrev offsets, line tables, code addresses) is a relocation against a
symbol, usually a section symbol whose value is 0 in ET_REL: the stored
field holds 0 and the offset is in the addend.  xfs.ko carries ~730 k of them
in `.rela.debug_info`.

The entries are read as flat arrays (no object per relocation) and written
back with `struct.pack_into`; the common x86-64 types take a short path,
in C (`_crelocs.c`, 160 ms -> 2 ms for xfs.ko, reading the entries in
place) when it was built, this module's loop being the reference and the
fallback.
What a relocation writes is S + A (absolute) or S + A - P (PC-relative, not
expected in debug sections but harmless), checked against the field width:
a value that does not fit is an error, not a silent truncation.

Only ET_REL objects are relocated.  An executable's `.rela.*` (vmlinux with
`--emit-relocs`) records relocations the linker already applied.
"""

from __future__ import annotations

import struct
import sys
from array import array

from ..errors import ElfError
from .consts import EM, RELOCATIONS, SHT

try:
    from . import _crelocs
except ImportError:          # pragma: no cover - no C compiler at install time
    _crelocs = None

_P4 = struct.Struct("<I").pack_into
_P8 = struct.Struct("<Q").pack_into
_PACK = {4: _P4, 8: _P8}
_M32 = 0xFFFFFFFF
_E_MACHINE = 18         # file offset of e_machine in the ELF header
_M64 = 0xFFFFFFFFFFFFFFFF


def relocation_sections(elf, target_index: int) -> list:
    """The REL/RELA sections that apply to section `target_index`."""
    table = getattr(elf, "_reloc_map", None)
    if table is None:
        table = {}
        for h in elf.sections:
            if h.type in (SHT.RELA, SHT.REL) and h.size:
                table.setdefault(h.info, []).append(h)
        elf._reloc_map = table
    return table.get(target_index, [])


def _check_size(elf, r) -> None:
    """The section's size must be a whole number of entries."""
    ent = (3 if r.type == SHT.RELA else 2) * (8 if elf.is64 else 4)
    if r.size % ent:
        raise ElfError(f"size {r.size} is not a multiple of the entry size {ent}",
                       file=elf.path, section=r.name, offset=elf.header_offset(r.index))


def _entries(elf, r) -> tuple[array, array, array | None, int]:
    """(offsets, infos, addends or None for REL, symbol shift) of one section."""
    rela = r.type == SHT.RELA
    fields = (3 if rela else 2)
    _check_size(elf, r)
    buf, start, size = elf.raw_span(r)
    flat = array("q" if elf.is64 else "i")
    flat.frombytes(memoryview(buf)[start:start + size])
    if sys.byteorder != "little":
        flat.byteswap()
    offsets = flat[0::fields]
    infos = flat[1::fields]
    addends = flat[2::fields] if rela else None
    return offsets, infos, addends, (32 if elf.is64 else 8)


def _entry_at(elf, r, i: int) -> int:
    """The file offset of entry `i` of relocation section `r`."""
    return r.offset + i * (3 if r.type == SHT.RELA else 2) * (8 if elf.is64 else 4)


def relocate_section(elf, h, data) -> bytes | None:
    """Section `h` (contents `data`, or its stored bytes when None) with every
    relocation that targets it applied; None when nothing targets it."""
    rels = relocation_sections(elf, h.index)
    if not rels:
        return None
    kinds = RELOCATIONS.get(elf.machine)
    if kinds is None:
        m = elf.machine.name if isinstance(elf.machine, EM) else elf.machine
        raise ElfError(f"relocating debug sections for machine {m} is not supported",
                       file=elf.path, section=rels[0].name, offset=_E_MACHINE)
    if data is None:
        buf0, start, size = elf.raw_span(h)
        data = memoryview(buf0)[start:start + size]
    out = None      # the relocated copy: bytes from the C loop, else a bytearray
    for r in rels:
        if not 0 < r.link < len(elf.sections):
            raise ElfError(f"symbol table index {r.link} out of range",
                           file=elf.path, section=r.name, offset=elf.header_offset(r.index))
        symvals = elf.symbol_addresses(r.link)
        columns = None
        try:
            if (_crelocs is not None and elf.machine == EM.X86_64 and elf.is64 and
                    r.type == SHT.RELA and symvals.itemsize == 8):
                out = _apply_compiled(elf, r, h, data if out is None else out, kinds, symvals)
            else:
                if not isinstance(out, bytearray):
                    out = bytearray(data if out is None else out)
                columns = _entries(elf, r)
                _apply(elf, r, h, out, kinds, symvals, *columns)
        except ElfError:
            raise
        except (IndexError, struct.error, OverflowError) as e:
            # Find the guilty entry again, slowly, to name it.
            raise _locate_failure(elf, r, h, data if out is None else out, kinds, symvals,
                                  *(columns or _entries(elf, r)), e) from None
    return out if isinstance(out, bytes) else bytes(out)


def _apply_compiled(elf, r, h, data, kinds, symvals) -> bytes | bytearray:
    """`data` relocated by x86-64 RELA section `r` in C, over the entries as
    stored (no columns: for xfs.ko splitting 730 k entries into three arrays
    took as long as applying them), into one copy; what C leaves (another
    type, a bad entry) goes through _x86_64 one entry at a time."""
    _check_size(elf, r)
    buf, start, size = elf.raw_span(r)
    raw = memoryview(buf)[start:start + size]
    out, i = _crelocs.relocated(data, raw, symvals)
    if i < 0:
        return out
    out = bytearray(out)
    offsets, infos, addends, shift = _entries(elf, r)
    while i >= 0:
        _no_negatives(elf, r, offsets[i:i + 1], infos[i:i + 1], i)
        _x86_64(elf, r, h, out, kinds, symvals, offsets[i:i + 1], infos[i:i + 1],
                addends[i:i + 1], shift)
        i = _crelocs.apply_x86_64(out, raw, symvals, i + 1)
    return out


def _apply(elf, r, h, out, kinds, symvals, offsets, infos, addends, shift) -> None:
    _no_negatives(elf, r, offsets, infos)
    if addends is not None and elf.machine == EM.X86_64:
        # The short path: R_X86_64_32 and R_X86_64_64 are nearly all of them.
        _x86_64(elf, r, h, out, kinds, symvals, offsets, infos, addends, shift)
        return
    if addends is None:
        addends = [None] * len(offsets)
    for off, info, add in zip(offsets, infos, addends):
        _one(elf, r, h, out, kinds, symvals, off, info, add, shift)


def _no_negatives(elf, r, offsets, infos, first: int = 0) -> None:
    """Refuse a negative offset or info before Python applies them (pack_into
    would count a negative offset from the end); the C path checks its own."""
    if offsets and (min(offsets) < 0 or min(infos) < 0):
        i = first + next(i for i, (o, n) in enumerate(zip(offsets, infos)) if o < 0 or n < 0)
        raise ElfError(f"relocation {i}: offset or symbol index out of range",
                       file=elf.path, section=r.name, offset=_entry_at(elf, r, i))


def _x86_64(elf, r, h, out, kinds, symvals, offsets, infos, addends, shift) -> None:
    tmask = (1 << shift) - 1
    p4, p8 = _P4, _P8
    for off, info, add in zip(offsets, infos, addends):
        t = info & tmask
        if t == 10:
            v = symvals[info >> shift] + add
            if v & ~_M32:
                raise _overflow(elf, r, off, kinds[10][0], v)
            p4(out, off, v)
        elif t == 1:
            p8(out, off, (symvals[info >> shift] + add) & _M64)
        elif t:
            _one(elf, r, h, out, kinds, symvals, off, info, add, shift)


def _one(elf, r, h, out, kinds, symvals, off, info, add, shift) -> None:
    t = info & ((1 << shift) - 1)
    kind = kinds.get(t)
    if kind is None:
        m = elf.machine.name if isinstance(elf.machine, EM) else elf.machine
        raise ElfError(f"relocation type {t} ({m}) is not supported in debug sections",
                       file=elf.path, section=r.name, offset=off)
    name, how, width, rng = kind
    if how == "none":
        return
    if off + width > len(out) or off < 0:
        raise ElfError(f"{name} at {off:#x} is outside {h.name} ({len(out):#x} bytes)",
                       file=elf.path, section=r.name, offset=off)
    bits = 8 * width
    if add is None:                      # REL: the addend is stored in place
        add = int.from_bytes(out[off:off + width], "little", signed=True)
        rng = "x"
    v = symvals[info >> shift] + add
    if how == "pc":
        v -= elf.section_address(h.index) + off
    lo = 0 if rng == "u" else -(1 << (bits - 1))
    hi = (1 << (bits - 1)) if rng == "s" else (1 << bits)
    if not lo <= v < hi:
        raise _overflow(elf, r, off, name, v)
    _PACK[width](out, off, v & ((1 << bits) - 1))


def _overflow(elf, r, off, name, v) -> ElfError:
    return ElfError(f"{name} value {v:#x} does not fit its field", file=elf.path,
                    section=r.name, offset=off)


def _locate_failure(elf, r, h, out, kinds, symvals, offsets, infos, addends, shift, e):
    nsyms = len(symvals)
    for i, (off, info) in enumerate(zip(offsets, infos)):
        sym = info >> shift
        if sym >= nsyms:
            return ElfError(f"relocation {i}: symbol {sym} out of range ({nsyms} symbols)",
                            file=elf.path, section=r.name, offset=_entry_at(elf, r, i))
        kind = kinds.get(info & ((1 << shift) - 1))
        width = kind[2] if kind else 0
        if off < 0 or off + width > len(out):
            return ElfError(f"relocation {i} at {off:#x} is outside {h.name} "
                            f"({len(out):#x} bytes)", file=elf.path, section=r.name,
                            offset=off)
    return ElfError(f"cannot apply relocations: {e}", file=elf.path, section=r.name,
                    offset=elf.header_offset(r.index))
