"""An ELF file read through `mmap`: header, section table, section contents.

Only little-endian ELF32 and ELF64 are accepted; anything else is refused
with an :class:`ElfError` naming the file and what is wrong with it.

Section contents come back without a copy where possible: a plain section is
a slice of the mapping; a compressed one (`SHF_COMPRESSED` with zlib or
zstd, or a legacy `.zdebug_*`) is decompressed once and kept.  In an `ET_REL`
object (a `.ko` or `.o`) the debug sections are returned with their
relocations applied (see relocs.py); an executable's `.rela.*` sections (a
vmlinux linked with `--emit-relocs`) describe relocations already done and
are never applied.

Addresses in an ET_REL object.  Every allocated section of a `.o` starts at
address 0, so a code or data address in its DWARF would not say which
section it is in.  pahole reads modules through libdwfl, which first lays
the SHF_ALLOC sections out one after the other (in section order, each at
the next multiple of its alignment, from 0x10000: elfutils' offline
"red zone") and relocates against that layout.  We do the same by default,
so the addresses in our DWARF are the ones pahole sees, and
:meth:`ElfFile.section_address` / :meth:`ElfFile.symbol_addresses` give
the layout.  `ElfFile(path, place_sections=False)` keeps every section at
0 instead (what readelf and pyelftools do).
"""

from __future__ import annotations

import mmap
from array import array
import os
import struct
import zlib
from typing import NamedTuple, Union

from ..errors import ElfError
from .consts import (ELF_MAGIC, ELFCLASS32, ELFCLASS64, ELFCOMPRESS_ZLIB, ELFCOMPRESS_ZSTD,
                     ELFDATA2LSB, ELFDATA2MSB, EM, ET, SHF_ALLOC, SHF_COMPRESSED,
                     SHN_LORESERVE, SHN_XINDEX, SHT, STT)

# The most a compressed section may claim to grow (zlib's own limit is ~1032).
MAX_RATIO = 1100

# Where libdwfl's offline layout of an ET_REL file starts (elfutils'
# OFFLINE_REDZONE; checked against libdw 0.188 in tests/test_dwarf.py).
OFFLINE_BASE = 0x10000

Buffer = Union[bytes, bytearray, mmap.mmap]
"""What a section span lives in: the file mapping, or bytes we made."""


class SectionHeader(NamedTuple):
    """One entry of the section header table, with its name resolved."""
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


# e_ident is 16 bytes; the rest of the header by class (after e_ident).
_EHDR = {ELFCLASS32: struct.Struct("<HHIIIIIHHHHHH"), ELFCLASS64: struct.Struct("<HHIQQQIHHHHHH")}
_SHDR = {ELFCLASS32: struct.Struct("<IIIIIIIIII"), ELFCLASS64: struct.Struct("<IIQQQQIIQQ")}
_CHDR = {ELFCLASS32: struct.Struct("<III"), ELFCLASS64: struct.Struct("<IIQQ")}


class ElfFile:
    """A little-endian ELF file, mapped read-only.

    Use as a context manager, or call :meth:`close`.  Views returned by
    :meth:`section` keep the mapping alive; closing while views exist leaves
    the mapping to the garbage collector.
    """

    def __init__(self, path: str | os.PathLike, *, place_sections: bool = True):
        self.path = str(path)
        self.place_sections = place_sections
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size == 0:
                    raise ElfError("empty file, not ELF", file=self.path)
                self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as e:
            raise ElfError(f"cannot read: {e.strerror or e}", file=self.path) from None
        self._cache: dict[str, bytes] = {}
        self._symtabs: dict[int, object] = {}
        self._addresses: list[int] | None = None
        self._symaddrs: dict[int, object] = {}
        try:
            self._parse()
        except ElfError:
            self.close()
            raise
        except (struct.error, IndexError, ValueError) as e:
            self.close()
            raise ElfError(f"malformed ELF: {e}", file=self.path) from None

    # -- header and section table ------------------------------------------

    def _err(self, what: str, *, section: str | None = None, offset: int | None = None):
        return ElfError(what, file=self.path, section=section, offset=offset)

    def _parse(self) -> None:
        m = self._map
        if len(m) < 16 or m[:4] != ELF_MAGIC:
            raise self._err("not an ELF file (bad magic)", offset=0)
        cls, data = m[4], m[5]
        if data == ELFDATA2MSB:
            raise self._err("big-endian ELF is not supported", offset=5)
        if data != ELFDATA2LSB:
            raise self._err(f"unknown ELF data encoding {data}", offset=5)
        if cls not in (ELFCLASS32, ELFCLASS64):
            raise self._err(f"unknown ELF class {cls}", offset=4)
        self.elfclass = 32 if cls == ELFCLASS32 else 64
        self.is64 = cls == ELFCLASS64
        ehdr = _EHDR[cls]
        if len(m) < 16 + ehdr.size:
            raise self._err("truncated ELF header", offset=0)
        (e_type, e_machine, _ver, self.entry, _phoff, shoff, self.flags, _ehsize,
         _phentsize, _phnum, shentsize, shnum, shstrndx) = ehdr.unpack_from(m, 16)
        self.e_type = ET(e_type) if e_type in ET._value2member_map_ else e_type
        self.machine = EM(e_machine) if e_machine in EM._value2member_map_ else e_machine
        self.address_size = 4 if cls == ELFCLASS32 else 8

        shdr = _SHDR[cls]
        self._shoff, self._shentsize = shoff, shdr.size
        self.sections: list[SectionHeader] = []
        self._by_name: dict[str, SectionHeader] = {}
        self._dups: set[str] = set()
        if shoff == 0:
            return
        if shentsize != shdr.size:
            raise self._err(f"section header size {shentsize}, expected {shdr.size}",
                            offset=shoff)
        if shoff + shdr.size > len(m):
            raise self._err("section header table past the end of the file", offset=shoff)
        raw0 = shdr.unpack_from(m, shoff)
        if shnum == 0:                      # more than SHN_LORESERVE sections
            shnum = raw0[5]
        if shstrndx == SHN_XINDEX:
            shstrndx = raw0[6]
        if shoff + shnum * shdr.size > len(m):
            raise self._err(f"section header table ({shnum} entries) past the end of the file",
                            offset=shoff)
        raws = [shdr.unpack_from(m, shoff + i * shdr.size) for i in range(shnum)]
        if not 0 <= shstrndx < shnum:
            raise self._err(f"section name table index {shstrndx} out of range", offset=shoff)
        names_raw = raws[shstrndx]
        names_off, names_size = names_raw[4], names_raw[5]
        if names_off + names_size > len(m):
            raise self._err("section name table past the end of the file",
                            offset=names_off)
        for i, (nm, typ, flags, addr, off, size, link, info, align, entsize) in enumerate(raws):
            if nm >= names_size and i:
                raise self._err(f"section {i}: name offset {nm:#x} outside the name table",
                                offset=shoff + i * shdr.size)
            end = m.find(b"\0", names_off + nm, names_off + names_size)
            if end < 0:
                end = names_off + names_size
            name = m[names_off + nm:end].decode("utf-8", "replace") if i else ""
            if typ != SHT.NOBITS and size and off + size > len(m):
                raise self._err(f"section {name or i} [{off:#x}, {off + size:#x}) runs past "
                                f"the end of the file ({len(m):#x})", section=name or None,
                                offset=shoff + i * shdr.size)
            h = SectionHeader(i, name, typ, flags, addr, off, size, link, info, align, entsize)
            self.sections.append(h)
            self._by_name.setdefault(name, h)
        self._dups = {h.name for h in self.sections if self._by_name[h.name] is not h}

    # -- life cycle ---------------------------------------------------------

    def close(self) -> None:
        m = getattr(self, "_map", None)
        if m is not None:
            self._map = None
            self._cache = {}
            try:
                m.close()
            except BufferError:        # a view is still alive; GC unmaps later
                pass

    def __enter__(self) -> "ElfFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        m = self.machine.name if isinstance(self.machine, EM) else self.machine
        t = self.e_type.name if isinstance(self.e_type, ET) else self.e_type
        return f"<ElfFile {self.path} ELF{self.elfclass} {t} {m}>"

    # -- sections -----------------------------------------------------------

    @property
    def is_relocatable(self) -> bool:
        return self.e_type == ET.REL

    def header(self, name: str) -> SectionHeader | None:
        """The header of the first section called `name`, or None."""
        return self._by_name.get(name)

    def has_duplicate(self, name: str) -> bool:
        """Whether more than one section is called `name` (e.g. COMDAT groups)."""
        return name in self._dups

    def raw_span(self, h: SectionHeader) -> tuple[Buffer, int, int]:
        """(buffer, start, size) of a section's bytes as stored in the file.
        An empty section is an empty span wherever its sh_offset points."""
        if h.type == SHT.NOBITS or not h.size:
            return b"", 0, 0
        return self._map, h.offset, h.size

    def span(self, name: str, *, relocate: bool = True) -> tuple[Buffer, int, int] | None:
        """(buffer, start, size) of a section's contents, decompressed and (for
        debug sections of an ET_REL object, unless `relocate` is false)
        relocated; None when the file has no such section or it is NOBITS.

        The buffer is the file mapping or a bytes object; both index to ints,
        slice to bytes, and have `find`, which is all the DWARF reader needs.
        """
        h = self._by_name.get(name)
        if h is None or h.type == SHT.NOBITS:
            return None
        key = name if relocate else "\0raw " + name
        got = self._cache.get(key)
        if got is not None:
            return got, 0, len(got)
        data: Buffer | None = None
        if h.flags & SHF_COMPRESSED:
            data = self._decompress(h)
        elif name.startswith(".zdebug"):
            data = self._decompress_gnu(h)
        if relocate and self.is_relocatable and _is_debug(name):
            from .relocs import relocate_section
            applied = relocate_section(self, h, data)
            if applied is not None:
                data = applied
        if data is None:
            return self.raw_span(h)
        if not isinstance(data, bytes):
            data = bytes(data)
        self._cache[key] = data
        return data, 0, len(data)

    def section(self, name: str, *, relocate: bool = True) -> bytes | memoryview | None:
        """A section's contents (see :meth:`span`): a read-only memoryview of
        the mapping, or bytes when it had to be decompressed or relocated."""
        sp = self.span(name, relocate=relocate)
        if sp is None:
            return None
        buf, start, size = sp
        if isinstance(buf, bytes) and start == 0 and size == len(buf):
            return buf
        return memoryview(buf)[start:start + size]

    def section_by_index(self, index: int) -> bytes | memoryview:
        """The stored (not decompressed, not relocated) bytes of section `index`."""
        buf, start, size = self.raw_span(self.sections[index])
        return memoryview(buf)[start:start + size] if size else b""

    def _decompress(self, h: SectionHeader) -> bytes:
        chdr = _CHDR[ELFCLASS64 if self.is64 else ELFCLASS32]
        if h.size < chdr.size:
            raise self._err("compressed section shorter than its header", section=h.name,
                            offset=h.offset)
        if self.is64:
            ctype, _res, size, _align = chdr.unpack_from(self._map, h.offset)
        else:
            ctype, size, _align = chdr.unpack_from(self._map, h.offset)
        payload = self._map[h.offset + chdr.size:h.offset + h.size]
        if ctype == ELFCOMPRESS_ZLIB:
            return self._inflate(payload, size, h)
        if ctype == ELFCOMPRESS_ZSTD:
            return self._zstd(payload, size, h)
        raise self._err(f"unknown compression type {ctype} (known: 1 zlib, 2 zstd)",
                        section=h.name, offset=h.offset)

    def _plausible(self, payload: bytes, size: int, h: SectionHeader) -> None:
        """Refuse a decompressed size no real section reaches from this many
        compressed bytes (zlib cannot exceed ~1032:1), before allocating it."""
        if size > MAX_RATIO * len(payload) + (1 << 16):
            raise self._err(f"claims {size} bytes decompressed from {len(payload)}: more "
                            f"than {MAX_RATIO} times, refused as a decompression bomb",
                            section=h.name, offset=h.offset)

    def _sized(self, out: bytes, size: int, h: SectionHeader) -> bytes:
        """`out`, which was made at most one byte longer than `size`."""
        if len(out) != size:
            got = f"more than {size}" if len(out) > size else str(len(out))
            raise self._err(f"decompressed to {got} bytes, header says {size}",
                            section=h.name, offset=h.offset)
        return out

    def _inflate(self, payload: bytes, size: int, h: SectionHeader) -> bytes:
        """zlib data that must inflate to exactly `size` bytes; never more is made."""
        self._plausible(payload, size, h)
        d = zlib.decompressobj()
        try:
            out = d.decompress(payload, size + 1)
        except zlib.error as e:
            raise self._err(f"bad zlib data: {e}", section=h.name, offset=h.offset) from None
        if not d.eof and len(out) <= size:
            raise self._err("bad zlib data: the stream ends early", section=h.name,
                            offset=h.offset)
        return self._sized(out, size, h)

    def _zstd(self, payload: bytes, size: int, h: SectionHeader) -> bytes:
        try:
            import zstandard
        except ImportError:
            raise self._err("section is zstd-compressed (ELFCOMPRESS_ZSTD) and the Python "
                            "module 'zstandard' is not installed (pip install zstandard)",
                            section=h.name, offset=h.offset) from None
        self._plausible(payload, size, h)
        # One-shot decompress() allocates what the frame header says, whatever
        # limit it is given: use it only when that is `size`, else stream.
        d = zstandard.ZstdDecompressor()
        try:
            if zstandard.frame_content_size(payload) == size:
                return self._sized(d.decompress(payload), size, h)
            chunks, made = [], 0
            with d.stream_reader(payload, read_across_frames=True) as r:
                while made <= size:
                    chunk = r.read(min(1 << 22, size + 1 - made))
                    if not chunk:
                        break
                    chunks.append(chunk)
                    made += len(chunk)
        except zstandard.ZstdError as e:
            raise self._err(f"bad zstd data: {e}", section=h.name, offset=h.offset) from None
        return self._sized(b"".join(chunks), size, h)

    def _decompress_gnu(self, h: SectionHeader) -> bytes:
        """A legacy `.zdebug_*` section: b"ZLIB", 8-byte big-endian size, zlib data."""
        raw = self._map[h.offset:h.offset + h.size]
        if len(raw) < 12 or raw[:4] != b"ZLIB":
            raise self._err("legacy compressed section without its ZLIB header",
                            section=h.name, offset=h.offset)
        return self._inflate(raw[12:], int.from_bytes(raw[4:12], "big"), h)

    def debug_section(self, name: str) -> tuple[Buffer, int, int] | None:
        """`span(".debug_X")`, falling back to a legacy `.zdebug_X`."""
        sp = self.span(name)
        if sp is None and name.startswith(".debug_"):
            sp = self.span(".z" + name[1:])
        return sp

    # -- symbols ------------------------------------------------------------

    def symbols(self, name: str = ".symtab"):
        """The symbol table `name` (`.symtab` or `.dynsym`) as compact arrays,
        or None if absent.  See :class:`encoder.elf.symbols.Symbols`."""
        h = self._by_name.get(name)
        if h is None:
            return None
        return self.symbols_at(h.index)

    def symbols_at(self, index: int):
        """The symbol table in section `index` (parsed once, then cached)."""
        got = self._symtabs.get(index)
        if got is None:
            from .symbols import Symbols
            got = self._symtabs[index] = Symbols(self, self.sections[index])
        return got

    # -- addresses ----------------------------------------------------------

    def section_addresses(self) -> list[int]:
        """Each section's address: sh_addr, or for an ET_REL object (unless
        `place_sections` is false) its place in libdwfl's offline layout."""
        if self._addresses is None:
            if not (self.is_relocatable and self.place_sections):
                self._addresses = [h.addr for h in self.sections]
            else:
                out = []
                end = OFFLINE_BASE
                limit = 1 << (8 * self.address_size)
                for h in self.sections:
                    if h.flags & SHF_ALLOC and h.index:
                        align = h.addralign or 1
                        if align & (align - 1):
                            raise self._err(f"alignment {align:#x} is not a power of two",
                                            section=h.name, offset=self.header_offset(h.index))
                        addr = (end + align - 1) & -align
                        out.append(addr)
                        end = addr + h.size
                        if end > limit:
                            raise self._err("laid out one after another, the allocated "
                                            "sections overflow the address space",
                                            section=h.name, offset=self.header_offset(h.index))
                    else:
                        out.append(h.addr)
                self._addresses = out
        return self._addresses

    def header_offset(self, index: int) -> int:
        """The file offset of section `index`'s header (where errors about the
        header itself point)."""
        return self._shoff + index * self._shentsize

    def section_address(self, index: int) -> int:
        return self.section_addresses()[index]

    def symbol_addresses(self, symtab_index: int | None = None):
        """array of symbol values with their section's address added (the
        values relocations use); for ET_EXEC/ET_DYN just the values.  TLS
        symbols keep their offset in the TLS block, as libdwfl does."""
        if symtab_index is None:
            h = self._by_name.get(".symtab")
            if h is None:
                return None
            symtab_index = h.index
        got = self._symaddrs.get(symtab_index)
        if got is None:
            syms = self.symbols_at(symtab_index)
            got = syms.values
            addrs = self.section_addresses()
            if any(addrs):
                got = array(got.typecode, got)
                nsec = len(self.sections)
                mask = (1 << (8 * self.address_size)) - 1     # addresses wrap, as in C
                for i, (shndx, t) in enumerate(zip(syms.shndx, syms.types)):
                    if 0 < shndx < nsec and t != STT.TLS:
                        a = addrs[shndx]
                        if a and self.sections[shndx].flags & SHF_ALLOC:
                            got[i] = (got[i] + a) & mask
            self._symaddrs[symtab_index] = got
        return got

    def section_index_name(self, shndx: int) -> str:
        if 0 < shndx < min(len(self.sections), SHN_LORESERVE):
            return self.sections[shndx].name
        return str(shndx)


def _is_debug(name: str) -> bool:
    return name.startswith(".debug_") or name.startswith(".zdebug_")

