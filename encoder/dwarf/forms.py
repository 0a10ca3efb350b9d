"""Attribute forms: their sizes, and a plain (slow, general) value reader.

The hot loop (walk.py) never calls into this module per attribute; it uses
the per-abbreviation plans built in abbrev.py from the size classes below.
`read_value` is for the few places that read one DIE at a time: a unit's
root DIE, tests, diagnostics.
"""

from __future__ import annotations

from typing import NamedTuple

from ..errors import DwarfError
from .constants import Form

# Size classes.  A form whose size is known from the unit header alone
# (address size, offset size, version) is "fixed"; the others are read.
VAR_ULEB = -1        # udata, ref_udata, strx, addrx, loclistx, rnglistx
VAR_SLEB = -2        # sdata
VAR_CSTR = -3        # string
VAR_BLOCK = -4       # block, exprloc: ULEB length + bytes
VAR_BLOCK1 = -5
VAR_BLOCK2 = -6
VAR_BLOCK4 = -7
VAR_INDIRECT = -8    # the form itself is a ULEB in the DIE


class UnitShape(NamedTuple):
    """What decoding a form depends on, besides the form."""
    version: int
    address_size: int
    offset_size: int


def form_size(form: int, shape: UnitShape) -> int:
    """Bytes taken by a value of `form` (>= 0), or a VAR_* class (< 0).

    Raises DwarfError for forms we do not know or refuse.
    """
    f = form
    if f in _FIXED:
        return _FIXED[f]
    if f == Form.addr:
        return shape.address_size
    if f in (Form.strp, Form.line_strp, Form.sec_offset, Form.strp_sup):
        return shape.offset_size
    if f == Form.ref_addr:
        return shape.address_size if shape.version <= 2 else shape.offset_size
    if f in _VAR:
        return _VAR[f]
    if f in (Form.GNU_ref_alt, Form.GNU_strp_alt):
        raise DwarfError(f"{Form(f).name}: this file refers to a supplementary "
                         "(dwz, .gnu_debugaltlink) file, which is not supported")
    if f in (Form.GNU_addr_index, Form.GNU_str_index):
        raise DwarfError(f"{Form(f).name}: split DWARF (.dwo) is not supported")
    if f in (Form.ref_sup4, Form.ref_sup8, Form.strp_sup):
        raise DwarfError(f"{Form(f).name}: supplementary object files are not supported")
    raise DwarfError(f"unknown attribute form {f:#x}")


_FIXED = {
    Form.data1: 1, Form.ref1: 1, Form.flag: 1, Form.strx1: 1, Form.addrx1: 1,
    Form.data2: 2, Form.ref2: 2, Form.strx2: 2, Form.addrx2: 2,
    Form.strx3: 3, Form.addrx3: 3,
    Form.data4: 4, Form.ref4: 4, Form.strx4: 4, Form.addrx4: 4, Form.ref_sup4: 4,
    Form.data8: 8, Form.ref8: 8, Form.ref_sig8: 8, Form.ref_sup8: 8,
    Form.data16: 16,
    Form.flag_present: 0, Form.implicit_const: 0,
}
_VAR = {
    Form.udata: VAR_ULEB, Form.ref_udata: VAR_ULEB, Form.strx: VAR_ULEB,
    Form.addrx: VAR_ULEB, Form.loclistx: VAR_ULEB, Form.rnglistx: VAR_ULEB,
    Form.sdata: VAR_SLEB, Form.string: VAR_CSTR,
    Form.block: VAR_BLOCK, Form.exprloc: VAR_BLOCK,
    Form.block1: VAR_BLOCK1, Form.block2: VAR_BLOCK2, Form.block4: VAR_BLOCK4,
    Form.indirect: VAR_INDIRECT,
}


def read_uleb(data, pos: int) -> tuple[int, int]:
    """(value, position after it)."""
    b = data[pos]
    pos += 1
    if b < 0x80:
        return b, pos
    value = b & 0x7F
    shift = 7
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, pos
        shift += 7


def read_sleb(data, pos: int) -> tuple[int, int]:
    value = 0
    shift = 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            if b & 0x40:
                value -= 1 << shift
            return value, pos


def read_value(data, pos: int, form: int, shape: UnitShape,
               implicit: int | None = None) -> tuple[int, object, int]:
    """Read one attribute value at `pos`: (form, raw value, next position).

    The raw value is what the form stores: an int for constants, offsets,
    indexes and unit-relative references; bytes for blocks, exprloc and
    data16; a str for DW_FORM_string; True for flag_present.  References
    stay unit-relative (ref1..ref_udata) or section-relative (ref_addr).
    `indirect` is followed and the real form returned.
    """
    while form == Form.indirect:
        form, pos = read_uleb(data, pos)
    size = form_size(form, shape)
    if form == Form.implicit_const:
        return form, implicit, pos
    if form == Form.flag_present:
        return form, True, pos
    if size >= 0:
        end = pos + size
        if end > len(data):
            raise IndexError("value past the end of the unit")
        if form == Form.data16:
            return form, bytes(data[pos:end]), end
        return form, int.from_bytes(data[pos:end], "little"), end
    if size == VAR_ULEB:
        v, pos = read_uleb(data, pos)
        return form, v, pos
    if size == VAR_SLEB:
        v, pos = read_sleb(data, pos)
        return form, v, pos
    if size == VAR_CSTR:
        end = data.find(b"\0", pos)
        if end < 0:
            raise IndexError("unterminated string")
        return form, bytes(data[pos:end]).decode("utf-8", "replace"), end + 1
    if size == VAR_BLOCK:
        n, pos = read_uleb(data, pos)
    else:
        w = {VAR_BLOCK1: 1, VAR_BLOCK2: 2, VAR_BLOCK4: 4}[size]
        if pos + w > len(data):
            raise IndexError("block length past the end of the unit")
        n = int.from_bytes(data[pos:pos + w], "little")
        pos += w
    if pos + n > len(data):
        raise IndexError("block past the end of the unit")
    return form, bytes(data[pos:pos + n]), pos + n
