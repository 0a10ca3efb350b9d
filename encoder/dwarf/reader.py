"""The DWARF sections of one ELF file, and its units.

`Dwarf` holds the debug sections as (buffer, start, size) spans (slices of
the file mapping, or bytes when decompressed or relocated), iterates the
unit headers of .debug_info, hands out abbreviation plans, and resolves the
indirections of DWARF 5 (string offsets, address table, location list
table) for the few places that need one value at a time.

Supported: DWARF 2 to 5, 32- and 64-bit DWARF, units of type DW_UT_compile
and DW_UT_partial.  Refused, each with its own message: type units
(.debug_types, DW_UT_type, DW_UT_split_type, COMDAT .debug_info sections),
split DWARF (DW_UT_skeleton, DW_UT_split_compile, a GNU DWARF 4 skeleton
with DW_AT_GNU_dwo_name, a `.dwo` file itself), and files whose DWARF lives
partly in a supplementary file (dwz: `.gnu_debugaltlink`, DWARF 5
`.debug_sup`, DW_FORM_GNU_ref_alt/GNU_strp_alt): what is in the other file
would be silently missing from the BTF.
"""

from __future__ import annotations

import os
from typing import Iterator, NamedTuple

from ..elf.file import ElfFile
from ..errors import DwarfError, ElfError
from .abbrev import PlanCache
from .constants import Ut
from .forms import UnitShape

INFO = ".debug_info"

# Sections read by name; all optional but .debug_info and .debug_abbrev.
SECTIONS = (".debug_info", ".debug_abbrev", ".debug_str", ".debug_line_str",
            ".debug_str_offsets", ".debug_addr", ".debug_loclists", ".debug_rnglists",
            ".debug_loc", ".debug_ranges")


class Unit(NamedTuple):
    """A unit header of .debug_info (offsets are absolute in the section)."""
    offset: int          # the header
    end: int             # just past the unit
    version: int
    unit_type: int       # DW_UT_*; DWARF 2-4 compile units say DW_UT_compile
    address_size: int
    offset_size: int     # 4: 32-bit DWARF, 8: 64-bit DWARF
    abbrev_offset: int
    die_offset: int      # the unit DIE

    @property
    def shape(self) -> UnitShape:
        return UnitShape(self.version, self.address_size, self.offset_size)


class Dwarf:
    """The DWARF of an ELF file.  `Dwarf.open(path)` or `Dwarf(ElfFile(...))`."""

    def __init__(self, elf: ElfFile):
        self.elf = elf
        self.path = elf.path
        if elf.header(".debug_types") is not None:
            raise DwarfError("DWARF 4 type units (.debug_types, -fdebug-types-section) "
                             "are not supported", file=self.path, section=".debug_types")
        for name, what in ((".gnu_debugaltlink", "dwz moved part of it into a supplementary "
                            "file (.gnu_debugaltlink)"),
                           (".debug_sup", "part of it is in a DWARF 5 supplementary file "
                            "(.debug_sup)")):
            h = elf.header(name)
            if h is not None:
                raise DwarfError(f"this file's DWARF is incomplete: {what}; supplementary "
                                 "files are not supported", file=self.path, section=name,
                                 offset=h.offset)
        if elf.has_duplicate(INFO):
            raise DwarfError("several .debug_info sections (type units in COMDAT groups, "
                             "-fdebug-types-section) are not supported", file=self.path,
                             section=INFO)
        self.sections: dict[str, tuple] = {}
        for name in SECTIONS:
            sp = elf.debug_section(name)
            if sp is not None:
                self.sections[name] = sp
        if INFO not in self.sections:
            dwo = elf.header(INFO + ".dwo")
            if dwo is not None:
                raise DwarfError("a split DWARF object (.dwo): encode the object or "
                                 "executable it belongs to, built without -gsplit-dwarf",
                                 file=self.path, section=dwo.name, offset=dwo.offset)
            raise DwarfError("no DWARF (.debug_info is missing)", file=self.path)
        if ".debug_abbrev" not in self.sections:
            raise DwarfError("no .debug_abbrev section", file=self.path)
        self.info = self.sections[INFO]
        self.abbrev = self.sections[".debug_abbrev"]
        self.str = self.sections.get(".debug_str")
        self.line_str = self.sections.get(".debug_line_str")
        self.str_offsets = self.sections.get(".debug_str_offsets")
        self.addr = self.sections.get(".debug_addr")
        self.loclists = self.sections.get(".debug_loclists")
        self.rnglists = self.sections.get(".debug_rnglists")
        self.loc = self.sections.get(".debug_loc")
        self.ranges = self.sections.get(".debug_ranges")
        self.plans = PlanCache()
        # units a first pass walked and kept for the next (fast.names), by offset
        self.walked: dict = {}

    @classmethod
    def open(cls, path: str | os.PathLike, *, place_sections: bool = True) -> "Dwarf":
        """Open an ELF file's DWARF.  `place_sections`: see encoder/elf/file.py
        (ET_REL addresses as libdwfl lays them out, which is what pahole sees)."""
        elf = ElfFile(path, place_sections=place_sections)
        try:
            return cls(elf)
        except (DwarfError, ElfError):
            elf.close()
            raise

    def close(self) -> None:
        self.elf.close()

    def __enter__(self) -> "Dwarf":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def error(self, what: str, *, section: str = INFO, offset: int | None = None) -> DwarfError:
        return DwarfError(what, file=self.path, section=section, offset=offset)

    # -- units --------------------------------------------------------------

    def units(self) -> Iterator[Unit]:
        """Every unit header of .debug_info, in order."""
        offset = 0
        size = self.info[2]
        while offset < size:
            unit = self.unit_at(offset)
            yield unit
            offset = unit.end

    def unit_at(self, offset: int) -> Unit:
        """The unit whose header starts at `offset` of .debug_info."""
        buf, start, size = self.info
        if offset + 11 > size:
            raise self.error(f"truncated unit header ({size - offset} bytes left)", offset=offset)
        head = buf[start + offset:start + min(size, offset + 40)]
        length = int.from_bytes(head[0:4], "little")
        p = 4
        offset_size = 4
        if length == 0xFFFFFFFF:
            offset_size = 8
            length = int.from_bytes(head[4:12], "little")
            p = 12
        elif length >= 0xFFFFFFF0:
            raise self.error(f"reserved unit length {length:#x}", offset=offset)
        end = offset + p + length
        if end > size:
            raise self.error(f"unit length {length:#x} runs past the end of .debug_info "
                             f"({size:#x} bytes)", offset=offset)
        version = int.from_bytes(head[p:p + 2], "little")
        p += 2
        if not 2 <= version <= 5:
            raise self.error(f"unsupported DWARF version {version}", offset=offset)
        need = p + (4 + offset_size if version >= 5 else offset_size + 1)
        if need > p + length - 2 or need > len(head):
            raise self.error("unit too short for its header", offset=offset)
        if version >= 5:
            unit_type = head[p]
            address_size = head[p + 1]
            p += 2
            if unit_type in (Ut.type, Ut.split_type):
                raise self.error("type units (DW_UT_type) are not supported", offset=offset)
            if unit_type in (Ut.skeleton, Ut.split_compile):
                raise self.error("split DWARF units (DW_UT_skeleton/split_compile, .dwo) "
                                 "are not supported", offset=offset)
            if unit_type not in (Ut.compile, Ut.partial):
                raise self.error(f"unknown unit type {unit_type:#x}", offset=offset)
            abbrev_offset = int.from_bytes(head[p:p + offset_size], "little")
            p += offset_size
        else:
            unit_type = Ut.compile
            abbrev_offset = int.from_bytes(head[p:p + offset_size], "little")
            p += offset_size
            address_size = head[p]
            p += 1
        if address_size not in (4, 8):
            raise self.error(f"unsupported address size {address_size}", offset=offset)
        if offset + p >= end:
            raise self.error("unit has no DIEs", offset=offset)
        return Unit(offset, end, version, int(unit_type), address_size, offset_size,
                    abbrev_offset, offset + p)

    def unit_bytes(self, unit: Unit) -> bytes:
        """The unit's bytes (header included), copied out of the section so
        the walk indexes a `bytes` and runs off its end into an IndexError."""
        buf, start, _ = self.info
        data = buf[start + unit.offset:start + unit.end]
        return data if isinstance(data, bytes) else bytes(data)

    def abbrevs(self, unit: Unit):
        """The unit's abbreviation plans, indexable by code."""
        return self.plans.table(self.abbrev, unit.abbrev_offset, unit.shape, file=self.path)

    # -- single values (the walk inlines its own versions of these) --------

    def _need(self, span, name: str, offset: int):
        if span is None:
            raise self.error(f"{name} is needed but missing", offset=offset)
        return span

    def string_at(self, offset: int, *, line: bool = False) -> str:
        """The NUL-terminated string at `offset` of .debug_str (.debug_line_str)."""
        name = ".debug_line_str" if line else ".debug_str"
        buf, start, size = self._need(self.line_str if line else self.str, name, offset)
        if not 0 <= offset < size:
            raise self.error(f"string offset {offset:#x} outside {name} ({size:#x} bytes)",
                             section=name, offset=offset)
        end = buf.find(b"\0", start + offset, start + size)
        if end < 0:
            raise self.error("unterminated string", section=name, offset=offset)
        return buf[start + offset:end].decode("utf-8", "replace")

    def str_offset(self, base: int, index: int, offset_size: int) -> int:
        """Entry `index` of the string offsets table at `base`."""
        buf, start, size = self._need(self.str_offsets, ".debug_str_offsets", base)
        at = base + index * offset_size
        if not 0 <= at <= size - offset_size:
            raise self.error(f"string index {index} outside .debug_str_offsets",
                             section=".debug_str_offsets", offset=at)
        return int.from_bytes(buf[start + at:start + at + offset_size], "little")

    def address(self, base: int, index: int, address_size: int) -> int:
        """Entry `index` of the address table at `base` (DW_FORM_addrx, DW_OP_addrx)."""
        buf, start, size = self._need(self.addr, ".debug_addr", base)
        at = base + index * address_size
        if not 0 <= at <= size - address_size:
            raise self.error(f"address index {index} outside .debug_addr",
                             section=".debug_addr", offset=at)
        return int.from_bytes(buf[start + at:start + at + address_size], "little")

    def loclist_offset(self, base: int, index: int, offset_size: int) -> int:
        """The .debug_loclists offset of list `index` (DW_FORM_loclistx)."""
        buf, start, size = self._need(self.loclists, ".debug_loclists", base)
        at = base + index * offset_size
        if not 0 <= at <= size - offset_size:
            raise self.error(f"location list index {index} outside .debug_loclists",
                             section=".debug_loclists", offset=at)
        return base + int.from_bytes(buf[start + at:start + at + offset_size], "little")

    def rnglist_offset(self, base: int, index: int, offset_size: int) -> int:
        """The .debug_rnglists offset of list `index` (DW_FORM_rnglistx)."""
        buf, start, size = self._need(self.rnglists, ".debug_rnglists", base)
        at = base + index * offset_size
        if not 0 <= at <= size - offset_size:
            raise self.error(f"range list index {index} outside .debug_rnglists",
                             section=".debug_rnglists", offset=at)
        return base + int.from_bytes(buf[start + at:start + at + offset_size], "little")

    # -- the walk -----------------------------------------------------------

    def walk(self, unit: Unit):
        """`walk_unit(self, unit)`: the unit's DIE records (see dies.py)."""
        from .walk import walk_unit
        return walk_unit(self, unit)

    def walk_all(self) -> Iterator:
        """The records of every unit, one unit at a time."""
        from .walk import walk_unit
        for unit in self.units():
            yield walk_unit(self, unit)
