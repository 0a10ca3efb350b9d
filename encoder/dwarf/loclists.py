"""Location lists: DWARF 5 .debug_loclists (DW_LLE_*) and DWARF 2-4 .debug_loc.

A DIE's `location` field is either an expression (bytes) or the offset of a
list (int, loclistx already resolved).  `location_list` turns the offset
into its entries; pahole looks at the expressions of every entry to judge a
parameter's register (its skip reasons "unexpected register",
"optimized"), so that is what this gives, with the address range each
covers.
"""

from __future__ import annotations

from typing import NamedTuple

from ..errors import DwarfError
from .constants import Lle
from .forms import read_uleb


class LocEntry(NamedTuple):
    """One entry: [begin, end) (None, None for DW_LLE_default_location)."""
    begin: int | None
    end: int | None
    expr: bytes


def location_list(dwarf, unit_dies, offset: int) -> list[LocEntry]:
    """The entries of the location list at `offset` for a DIE of `unit_dies`
    (a walk result: gives the version, sizes, base address and bases)."""
    unit = unit_dies.unit
    if unit.version >= 5:
        return _loclists(dwarf, unit_dies, offset)
    return _loc(dwarf, unit_dies, offset)


def _span(dwarf, span, name: str, offset: int):
    if span is None:
        raise DwarfError(f"{name} is needed but missing", file=dwarf.path, section=name,
                         offset=offset)
    buf, start, size = span
    if not 0 <= offset < size:
        raise DwarfError(f"location list offset {offset:#x} outside {name} ({size:#x} bytes)",
                         file=dwarf.path, section=name, offset=offset)
    return buf, start, size


def _loclists(dwarf, ud, offset: int) -> list[LocEntry]:
    name = ".debug_loclists"
    data, start, size = _span(dwarf, dwarf.loclists, name, offset)
    lim = start + size
    asz = ud.unit.address_size
    addr_base = ud.addr_base or 0
    base = ud.low_pc or 0
    out: list[LocEntry] = []
    pos = start + offset
    here = pos

    def addr(p: int) -> tuple[int, int]:
        if p + asz > lim:
            raise IndexError
        return int.from_bytes(data[p:p + asz], "little"), p + asz

    def expr(p: int) -> tuple[bytes, int]:
        n, p = read_uleb(data, p)
        if p + n > lim:
            raise IndexError
        return bytes(data[p:p + n]), p + n

    try:
        while True:
            here = pos
            if pos >= lim:
                raise IndexError
            kind = data[pos]
            pos += 1
            if kind == Lle.end_of_list:
                return out
            if kind == Lle.base_addressx:
                i, pos = read_uleb(data, pos)
                base = dwarf.address(addr_base, i, asz)
            elif kind == Lle.startx_endx:
                i, pos = read_uleb(data, pos)
                j, pos = read_uleb(data, pos)
                e, pos = expr(pos)
                out.append(LocEntry(dwarf.address(addr_base, i, asz),
                                    dwarf.address(addr_base, j, asz), e))
            elif kind == Lle.startx_length:
                i, pos = read_uleb(data, pos)
                n, pos = read_uleb(data, pos)
                e, pos = expr(pos)
                b = dwarf.address(addr_base, i, asz)
                out.append(LocEntry(b, b + n, e))
            elif kind == Lle.offset_pair:
                a, pos = read_uleb(data, pos)
                b, pos = read_uleb(data, pos)
                e, pos = expr(pos)
                out.append(LocEntry(base + a, base + b, e))
            elif kind == Lle.default_location:
                e, pos = expr(pos)
                out.append(LocEntry(None, None, e))
            elif kind == Lle.base_address:
                base, pos = addr(pos)
            elif kind == Lle.start_end:
                a, pos = addr(pos)
                b, pos = addr(pos)
                e, pos = expr(pos)
                out.append(LocEntry(a, b, e))
            elif kind == Lle.start_length:
                a, pos = addr(pos)
                n, pos = read_uleb(data, pos)
                e, pos = expr(pos)
                out.append(LocEntry(a, a + n, e))
            elif kind == Lle.GNU_view_pair:
                _, pos = read_uleb(data, pos)
                _, pos = read_uleb(data, pos)
            else:
                raise DwarfError(f"unknown location list entry kind {kind:#x}",
                                 file=dwarf.path, section=name, offset=here - start)
    except IndexError:
        raise DwarfError("location list runs past the end of the section",
                         file=dwarf.path, section=name, offset=here - start) from None


def _loc(dwarf, ud, offset: int) -> list[LocEntry]:
    name = ".debug_loc"
    buf, start, size = _span(dwarf, dwarf.loc, name, offset)
    asz = ud.unit.address_size
    top = (1 << (8 * asz)) - 1
    base = ud.low_pc or 0
    out: list[LocEntry] = []
    pos = offset
    while True:
        here = pos
        if pos + 2 * asz > size:
            raise DwarfError("location list runs past the end of the section",
                             file=dwarf.path, section=name, offset=here)
        a = int.from_bytes(buf[start + pos:start + pos + asz], "little")
        b = int.from_bytes(buf[start + pos + asz:start + pos + 2 * asz], "little")
        pos += 2 * asz
        if a == 0 and b == 0:
            return out
        if a == top:
            base = b
            continue
        if pos + 2 > size:
            raise DwarfError("location list runs past the end of the section",
                             file=dwarf.path, section=name, offset=here)
        n = int.from_bytes(buf[start + pos:start + pos + 2], "little")
        pos += 2
        if pos + n > size:
            raise DwarfError("location expression runs past the end of the section",
                             file=dwarf.path, section=name, offset=here)
        out.append(LocEntry(base + a, base + b, bytes(buf[start + pos:start + pos + n])))
        pos += n
