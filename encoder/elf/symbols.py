"""A symbol table as a handful of flat arrays, one entry per symbol.

A vmlinux has ~150 k symbols; a Python object each would cost more than the
rest of the ELF layer together.  The columns are cut out of the section with
strided `memoryview` slices (C speed, no per-symbol Python work); names stay
offsets into the string table and are decoded on request.
"""

from __future__ import annotations

import sys
from array import array
from itertools import accumulate

from ..errors import ElfError
from .consts import SHN_XINDEX, SHT, STB, STT

# bytes.translate tables: st_info -> type (low nibble) / binding (high nibble).
_TYPE_OF = bytes(i & 0xF for i in range(256))
_BIND_OF = bytes(i >> 4 for i in range(256))


def _column(raw: memoryview, fmt: str, start: int, stride: int) -> array:
    """Every `stride`-th item of `raw` seen as array(fmt), from `start`."""
    out = array(fmt)
    out.frombytes(memoryview(raw).cast(fmt)[start::stride].tobytes())
    if sys.byteorder != "little":
        out.byteswap()
    return out


class Symbols:
    """The symbols of one SYMTAB/DYNSYM section.

    Columns (index = symbol number, 0 is the null symbol):
      name_offsets  array('I')  offsets into the linked string table
      values        array('Q'/'I')
      sizes         array('Q'/'I')
      types         bytes       STT_* per symbol
      binds         bytes       STB_* per symbol
      others        bytes       st_other (visibility)
      shndx         array('I')  section index, SHN_XINDEX already resolved
    """

    def __init__(self, elf, header):
        self.path = elf.path
        self.section = header.name
        at = elf.header_offset(header.index)
        if header.type not in (SHT.SYMTAB, SHT.DYNSYM):
            raise ElfError(f"section type {header.type} is not a symbol table",
                           file=elf.path, section=header.name, offset=at)
        entsize = 24 if elf.is64 else 16
        self._table_at, self._entsize = header.offset, entsize
        if header.size % entsize:
            raise ElfError(f"size {header.size} is not a multiple of {entsize}",
                           file=elf.path, section=header.name, offset=at)
        if header.entsize not in (0, entsize):
            raise ElfError(f"entry size {header.entsize}, expected {entsize}",
                           file=elf.path, section=header.name, offset=at)
        n = header.size // entsize
        buf, start, size = elf.raw_span(header)
        raw = memoryview(buf)[start:start + size]
        if elf.is64:
            # st_name I, st_info B, st_other B, st_shndx H | st_value Q | st_size Q
            self.values = _column(raw, "Q", 1, 3)
            self.sizes = _column(raw, "Q", 2, 3)
            self.name_offsets = _column(raw, "I", 0, 6)
            shndx16 = _column(raw, "H", 3, 12)
            info_at, other_at = 4, 5
        else:
            # st_name I | st_value I | st_size I | st_info B, st_other B, st_shndx H
            self.values = _column(raw, "I", 1, 4)
            self.sizes = _column(raw, "I", 2, 4)
            self.name_offsets = _column(raw, "I", 0, 4)
            shndx16 = _column(raw, "H", 7, 8)
            info_at, other_at = 12, 13
        info = raw[info_at::entsize].tobytes()
        self.types = info.translate(_TYPE_OF)
        self.binds = info.translate(_BIND_OF)
        self.others = raw[other_at::entsize].tobytes()
        self.shndx = array("I", shndx16)
        self.first_global = header.info
        if SHN_XINDEX in shndx16:
            self._resolve_xindex(elf, header, n)
        link = header.link
        if not 0 < link < len(elf.sections):
            raise ElfError(f"string table index {link} out of range",
                           file=elf.path, section=header.name, offset=at)
        self._strs, self._str_start, self._str_size = elf.raw_span(elf.sections[link])
        self._names: list[str] | None = None

    def _resolve_xindex(self, elf, header, n: int) -> None:
        for h in elf.sections:
            if h.type == SHT.SYMTAB_SHNDX and h.link == header.index:
                ext = _column(elf.section_by_index(h.index), "I", 0, 1)
                if len(ext) < n:
                    raise ElfError("SHT_SYMTAB_SHNDX shorter than its symbol table",
                                   file=elf.path, section=h.name,
                                   offset=elf.header_offset(h.index))
                for i, s in enumerate(self.shndx):
                    if s == SHN_XINDEX:
                        self.shndx[i] = ext[i]
                return
        raise ElfError("symbols with SHN_XINDEX but no SHT_SYMTAB_SHNDX section",
                       file=elf.path, section=header.name,
                       offset=header.offset + self.shndx.index(SHN_XINDEX) * self._entsize)

    def __len__(self) -> int:
        return len(self.values)

    def name(self, i: int) -> str:
        """The name of symbol `i` (decoded from the string table now)."""
        if self._names is not None:
            return self._names[i]
        off = self.name_offsets[i]
        if off >= self._str_size:
            raise ElfError(f"symbol {i}: name offset {off:#x} outside the string table",
                           file=self.path, section=self.section,
                           offset=self._table_at + i * self._entsize)
        start = self._str_start + off
        end = self._strs.find(b"\0", start, self._str_start + self._str_size)
        if end < 0:
            end = self._str_start + self._str_size
        return self._strs[start:end].decode("utf-8", "replace")

    def names(self) -> list[str]:
        """All names, decoded once and kept (one str per symbol: use when
        most of them are needed).  An ASCII table (any kernel's) is decoded
        in one piece and split at its NULs; only offsets into the middle of
        a string (a linker merged the name into another's tail) are decoded
        one by one."""
        if self._names is None:
            lo, hi = self._str_start, self._str_start + self._str_size
            table = self._strs[lo:hi]
            if not isinstance(table, bytes):
                table = bytes(table)
            cache: dict[int, str] = {}
            if table.isascii():
                parts = table.decode("ascii").split("\0")
                cache = dict(zip(accumulate((len(p) + 1 for p in parts), initial=0), parts))
            out = list(map(cache.get, self.name_offsets))
            for i in [i for i, s in enumerate(out) if s is None]:
                off = self.name_offsets[i]
                s = cache.get(off)
                if s is None:
                    if off >= len(table):
                        raise ElfError(f"symbol {i}: name offset {off:#x} outside the "
                                       "string table", file=self.path, section=self.section,
                                       offset=self._table_at + i * self._entsize)
                    end = table.find(b"\0", off)
                    s = cache[off] = table[off:end if end >= 0 else len(table)].decode(
                        "utf-8", "replace")
                out[i] = s
            self._names = out
        return self._names

    def of_type_mask(self, stt: int) -> bytes:
        """One byte per symbol, 1 where its type is `stt` (itertools.compress's
        selector: no Python work per symbol)."""
        return self.types.translate(bytes(t == stt for t in range(256)))

    def type(self, i: int) -> int:
        return self.types[i]

    def bind(self, i: int) -> int:
        return self.binds[i]

    def of_type(self, stt: int) -> list[int]:
        """Indexes of the symbols of one type (e.g. STT.FUNC)."""
        t = self.types
        out = []
        i = t.find(stt)
        while i >= 0:
            out.append(i)
            i = t.find(stt, i + 1)
        return out

    def describe(self, i: int) -> str:
        """One symbol for messages: name, type, binding, section, value."""
        def nm(enum, v):
            try:
                return enum(v).name
            except ValueError:
                return str(v)
        return (f"{self.name(i)} {nm(STT, self.types[i])} {nm(STB, self.binds[i])} "
                f"shndx={self.shndx[i]} value={self.values[i]:#x} size={self.sizes[i]}")
