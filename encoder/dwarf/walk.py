"""The DIE walk: one unit's bytes in, the DIEs BTF needs out (dies.py).

This is the hot loop of the whole encoder (a vmlinux has ~14 M DIEs), kept
as one function with plain loops over a `bytes` object so that a compiled
twin can implement the same contract line for line.  Per DIE it reads the
abbreviation code and looks up the abbreviation's plan (abbrev.py); the
plan says what to do in the current context:

* keep: copy the plan's record template, fill it from the attribute bytes
  (fixed-size runs with one `struct.unpack_from`, the rest one by one),
  append it as a tuple;
* walk through (lexical blocks, inlined subroutines: types may hide there):
  skip the attributes, descend;
* skip the subtree (call sites, local variables, labels ...): jump to
  DW_AT_sibling when the producer gave one, else skip attributes and
  descend in the skip context.

Truncated or malformed bytes surface as IndexError/struct.error/KeyError
inside the loop and are turned into one DwarfError with the offset of the
DIE being read.
"""

from __future__ import annotations

import gc
import struct

from ..errors import DwarfError
from .abbrev import (BAD, C_ADDRX, C_BOOL, C_DIEREF, C_DIEREF_ABS, C_INT, C_LOCX, C_LSTRP,
                     C_REF, C_RNGX, C_SIG, C_STRP, C_STRX, P_ACT, P_FIXED, P_KIDS, P_SIB,
                     P_SIBREAD, P_SKIP, P_SPECS, P_STEPS, P_TAG, P_TMPL, S_BLOCK, S_BLOCK1,
                     S_BLOCK2, S_BLOCK4, S_CSTR, S_FORM, S_PLAIN, S_RUN, S_SKIPN, S_SLEB,
                     S_ULEB, conversion, form_fits)
from .constants import At, Form, Tag
from .dies import CTX_ALL, CTX_SKIP, F_OFFSET, F_PARENT, JUMP, Die, DieRef, TypeSig
from .forms import read_sleb, read_uleb, read_value
from .reader import Dwarf, Unit

# block1/2/4: (width of the length, reader of the length)
_BLOCK_LEN = {S_BLOCK1: (1, struct.Struct("<B").unpack_from),
              S_BLOCK2: (2, struct.Struct("<H").unpack_from),
              S_BLOCK4: (4, struct.Struct("<I").unpack_from)}


class UnitDies:
    """What `walk_unit` returns: the unit's facts and its DIE records."""

    __slots__ = ("unit", "path", "tag", "name", "producer", "language", "comp_dir",
                 "low_pc", "str_offsets_base", "addr_base", "loclists_base",
                 "rnglists_base", "dies", "visited", "_index")

    def __init__(self, unit: Unit, path: str):
        self.unit = unit
        self.path = path
        self.tag = Tag.compile_unit
        self.name = self.producer = self.comp_dir = None
        self.language = self.low_pc = None
        self.str_offsets_base = self.addr_base = None
        self.loclists_base = self.rnglists_base = None
        self.dies: list[tuple] = []
        self.visited = 0          # DIEs read, kept or not (null entries excluded)
        self._index: dict[int, int] | None = None

    # The unit header, for convenience.
    @property
    def offset(self) -> int:
        return self.unit.offset

    @property
    def version(self) -> int:
        return self.unit.version

    @property
    def address_size(self) -> int:
        return self.unit.address_size

    @property
    def offset_size(self) -> int:
        return self.unit.offset_size

    def __len__(self) -> int:
        return len(self.dies)

    def __iter__(self):
        return iter(self.dies)

    def __getitem__(self, i: int) -> tuple:
        return self.dies[i]

    def die(self, i: int) -> Die:
        """Record `i` with field names."""
        return Die._make(self.dies[i])

    def index(self) -> dict[int, int]:
        """{DIE offset: record index}, built on first use."""
        if self._index is None:
            self._index = {d[0]: i for i, d in enumerate(self.dies)}
        return self._index

    def index_of(self, offset: int) -> int:
        """The record index of the kept DIE at `offset` (absolute); a
        DwarfError naming the unit if there is none."""
        i = self.index().get(offset)
        if i is None:
            raise DwarfError(f"reference to {offset:#x}, which is not a DIE this walk kept "
                             f"(unit at {self.unit.offset:#x})", file=self.path,
                             section=".debug_info", offset=offset)
        return i

    def __repr__(self) -> str:
        return (f"<UnitDies {self.name!r} at {self.unit.offset:#x} v{self.unit.version}: "
                f"{len(self.dies)} kept of {self.visited}>")


def _root(dwarf: Dwarf, unit: Unit, data: bytes, abbrevs, out: UnitDies) -> tuple[int, bool]:
    """Read the unit DIE (the general, slow way: once per unit) into `out`;
    returns the position after it and whether it has children."""
    pos = unit.die_offset - unit.offset
    code, pos = read_uleb(data, pos)
    if code == 0:
        raise DwarfError("unit starts with a null entry", file=dwarf.path,
                         section=".debug_info", offset=unit.die_offset)
    plan = abbrevs[code]
    if plan[P_ACT][0] == BAD:
        raise KeyError(code)
    shape = unit.shape
    attrs: dict[int, tuple[int, object]] = {}
    for at, form, implicit in plan[P_SPECS]:
        form, value, pos = read_value(data, pos, form, shape, implicit)
        attrs.setdefault(at, (form, value))
    out.tag = plan[P_TAG]
    if out.tag not in (Tag.compile_unit, Tag.partial_unit):
        kind = "type unit" if out.tag == Tag.type_unit else f"DIE with tag {out.tag:#x}"
        raise DwarfError(f"unit DIE is a {kind}, expected a compile or partial unit",
                         file=dwarf.path, section=".debug_info", offset=unit.die_offset)
    header5 = 8 if unit.offset_size == 4 else 16

    def base(at: int, default: int | None) -> int | None:
        got = attrs.get(at)
        return got[1] if got is not None else default

    v5 = unit.version >= 5
    out.str_offsets_base = base(At.str_offsets_base, header5 if v5 else None)
    out.addr_base = base(At.addr_base, header5 if v5 else None)
    out.loclists_base = base(At.loclists_base, header5 + 4 if v5 else None)
    out.rnglists_base = base(At.rnglists_base, header5 + 4 if v5 else None)

    def string(at: int) -> str | None:
        got = attrs.get(at)
        if got is None:
            return None
        form, v = got
        if form == Form.strp:
            return dwarf.string_at(v)
        if form == Form.line_strp:
            return dwarf.string_at(v, line=True)
        if form in (Form.strx, Form.strx1, Form.strx2, Form.strx3, Form.strx4):
            return dwarf.string_at(dwarf.str_offset(out.str_offsets_base or 0, v,
                                                    unit.offset_size))
        return v if isinstance(v, str) else None

    out.name = string(At.name)
    out.producer = string(At.producer)
    out.comp_dir = string(At.comp_dir)
    lang = attrs.get(At.language)
    out.language = lang[1] if lang is not None else None
    low = attrs.get(At.low_pc)
    if low is not None:
        form, v = low
        if form in (Form.addrx, Form.addrx1, Form.addrx2, Form.addrx3, Form.addrx4):
            v = dwarf.address(out.addr_base or 0, v, unit.address_size)
        out.low_pc = v
    return pos, plan[P_KIDS]


def read_root(dwarf: Dwarf, unit: Unit, data: bytes, out: UnitDies,
              abbrevs=None) -> tuple[int, bool, object]:
    """`_root` with its failures as one DwarfError at the unit DIE: (position
    after it, whether it has children, the plans used: `abbrevs`, else the
    unit's table)."""
    dpos = unit.die_offset - unit.offset
    try:
        if abbrevs is None:
            abbrevs = dwarf.abbrevs(unit)
        return (*_root(dwarf, unit, data, abbrevs, out), abbrevs)
    except DwarfError as e:
        raise e.located(file=dwarf.path, section=".debug_info",
                        offset=unit.offset + dpos) from None
    except (IndexError, KeyError, struct.error, TypeError) as e:
        raise _malformed(dwarf, unit, dpos, data, e, None) from None


def walk_unit(dwarf: Dwarf, unit: Unit) -> UnitDies:
    """The DIEs of `unit` that BTF needs, as records laid out per dies.py."""
    out = UnitDies(unit, dwarf.path)
    data = dwarf.unit_bytes(unit)
    uoff = unit.offset
    dpos = unit.die_offset - uoff
    pos, kids, abbrevs = read_root(dwarf, unit, data, out)
    out.visited = 1
    if not kids:
        return out

    # Everything the loop touches, as locals.
    recs: list[tuple] = []
    append = recs.append
    stack: list[int] = []          # (parent << 2) | ctx of each open parent
    push = stack.append
    pop = stack.pop
    end = len(data)
    ctx = CTX_ALL
    parent = -1
    visited = 1
    strcache: dict[int, str] = {}
    if dwarf.str is not None:
        sbuf, sbase, ssize = dwarf.str
    else:
        sbuf, sbase, ssize = b"", 0, 0
    slimit = sbase + ssize
    osz = unit.offset_size
    so_base = out.str_offsets_base or 0
    if dwarf.str_offsets is not None:
        sobuf, sobase, sosize = dwarf.str_offsets
    else:
        sobuf, sobase, sosize = b"", 0, 0
    so_read = struct.Struct("<I" if osz == 4 else "<Q").unpack_from
    shape = unit.shape
    _S_PLAIN, _S_RUN, _S_SKIPN, _S_CSTR, _S_ULEB, _S_BLOCK = (
        S_PLAIN, S_RUN, S_SKIPN, S_CSTR, S_ULEB, S_BLOCK)
    _C_INT, _C_STRP, _C_STRX, _C_REF, _C_BOOL = C_INT, C_STRP, C_STRX, C_REF, C_BOOL
    _JUMP, _CTX_SKIP = JUMP, CTX_SKIP

    def string(off: int) -> str:
        """.debug_str at `off`, decoded and cached."""
        if off >= ssize:
            raise DwarfError(f"string offset {off:#x} outside .debug_str ({ssize:#x} bytes)",
                             file=dwarf.path, section=".debug_info")
        a = sbase + off
        e = sbuf.find(b"\0", a, slimit)
        if e < 0:
            raise DwarfError(f"unterminated string at .debug_str offset {off:#x}",
                             file=dwarf.path, section=".debug_info")
        s = strcache[off] = sbuf[a:e].decode("utf-8", "replace")
        return s

    def strx(index: int) -> str:
        at = so_base + index * osz
        if at + osz > sosize:
            raise DwarfError(f"string index {index} outside .debug_str_offsets",
                             file=dwarf.path, section=".debug_info")
        off = so_read(sobuf, sobase + at)[0]
        s = strcache.get(off)
        return s if s is not None else string(off)

    def convert(cv: int, v):
        """The less common conversions (abbrev.C_*)."""
        if cv == C_INT:
            return v
        if cv == C_STRP:
            s = strcache.get(v)
            return s if s is not None else string(v)
        if cv == C_STRX:
            return strx(v)
        if cv == C_REF:
            return v + uoff
        if cv == C_BOOL:
            return v != 0
        if cv == C_LSTRP:
            return dwarf.string_at(v, line=True)
        if cv == C_ADDRX:
            return dwarf.address(out.addr_base or 0, v, unit.address_size)
        if cv == C_LOCX:
            return dwarf.loclist_offset(out.loclists_base or 0, v, osz)
        if cv == C_RNGX:
            return dwarf.rnglist_offset(out.rnglists_base or 0, v, osz)
        if cv == C_DIEREF:
            return DieRef(v + uoff)
        if cv == C_DIEREF_ABS:
            return DieRef(v)
        if cv == C_SIG:
            return TypeSig(v)
        raise AssertionError(cv)

    # The loop indexes plans and records with literals (locals and constants
    # are the cheapest loads): ab[1] P_KIDS, ab[2] P_ACT, ab[3] P_FIXED,
    # ab[4] P_SKIP, ab[5] P_SIB, ab[6] P_SIBREAD, ab[7] P_TMPL, ab[8] P_STEPS;
    # rec[0] F_OFFSET, rec[2] F_PARENT (checked below the function).
    #
    # The records form no cycles: spare them the cyclic collector while
    # they are made (~10% of the walk's time otherwise).
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        while pos < end:
            dpos = pos
            code = data[pos]
            pos += 1
            if code >= 0x80:
                code, pos = read_uleb(data, dpos)
            if code == 0:
                if not stack:
                    break                      # the unit DIE's children end
                v = pop()
                ctx = v & 3
                parent = v >> 2
                continue
            visited += 1
            ab = abbrevs[code]
            act = ab[2][ctx]

            if act < 4:
                # Keep: fill a copy of the template.
                rec = ab[7][:]
                rec[0] = uoff + dpos
                rec[2] = parent
                for st in ab[8]:
                    k = st[0]
                    if k == _S_PLAIN:
                        vals = st[1](data, pos)
                        pos += st[2]
                        for fi, v in zip(st[3], vals):
                            rec[fi] = v
                    elif k == _S_RUN:
                        vals = st[1](data, pos)
                        pos += st[2]
                        for fi, cv, v in zip(st[3], st[4], vals):
                            if cv == _C_STRP:
                                s = strcache.get(v)
                                rec[fi] = s if s is not None else string(v)
                            elif cv == _C_REF:
                                rec[fi] = v + uoff
                            elif cv == _C_INT:
                                rec[fi] = v
                            elif cv == _C_BOOL:
                                rec[fi] = v != 0
                            elif cv == _C_STRX:
                                rec[fi] = strx(v)
                            else:
                                rec[fi] = convert(cv, v)
                    elif k == _S_CSTR:
                        e = data.find(b"\0", pos)
                        if e < 0:
                            raise IndexError("unterminated DW_FORM_string")
                        if st[1] >= 0:
                            rec[st[1]] = data[pos:e].decode("utf-8", "replace")
                        pos = e + 1
                    elif k == _S_ULEB:
                        v = data[pos]
                        pos += 1
                        if v >= 0x80:
                            v, pos = read_uleb(data, pos - 1)
                        if st[1] >= 0:
                            rec[st[1]] = v if st[2] == _C_INT else convert(st[2], v)
                    elif k == _S_BLOCK:
                        n = data[pos]
                        pos += 1
                        if n >= 0x80:
                            n, pos = read_uleb(data, pos - 1)
                        if pos + n > end:
                            raise IndexError("block past the end of the unit")
                        if st[1] >= 0:
                            rec[st[1]] = data[pos:pos + n]
                        pos += n
                    elif k == _S_SKIPN:
                        pos += st[1]
                    elif k == S_SLEB:
                        v, pos = read_sleb(data, pos)
                        if st[1] >= 0:
                            rec[st[1]] = v
                    elif k == S_FORM:
                        form, v, pos = read_value(data, pos, st[3], shape)
                        if st[1] >= 0 and form_fits(st[1], form):
                            rec[st[1]] = _convert_form(convert, form, st[1], v)
                    else:                       # S_BLOCK1/2/4
                        w, rd = _BLOCK_LEN[k]
                        n = rd(data, pos)[0]
                        pos += w
                        if pos + n > end:
                            raise IndexError("block past the end of the unit")
                        if st[1] >= 0:
                            rec[st[1]] = data[pos:pos + n]
                        pos += n
                idx = len(recs)
                append(tuple(rec))
                if ab[1]:
                    push((parent << 2) | ctx)
                    ctx = act
                    parent = idx
                continue

            # Not kept.
            if act >= _JUMP:
                if act != _JUMP:
                    raise KeyError(code)        # a code the table does not define
                if ab[1] and ab[5] >= 0:
                    sib = ab[6](data, pos + ab[5])[0]
                    if sib <= dpos or sib > end:
                        raise DwarfError(f"DW_AT_sibling {sib:#x} of the DIE at "
                                         f"{uoff + dpos:#x} points outside its parent")
                    pos = sib
                    continue
            fixed = ab[3]
            if fixed >= 0:
                pos += fixed
            else:
                for st in ab[4]:
                    k = st[0]
                    if k == _S_SKIPN:
                        pos += st[1]
                    elif k == _S_CSTR:
                        e = data.find(b"\0", pos)
                        if e < 0:
                            raise IndexError("unterminated DW_FORM_string")
                        pos = e + 1
                    elif k == _S_BLOCK:
                        n = data[pos]
                        pos += 1
                        if n >= 0x80:
                            n, pos = read_uleb(data, pos - 1)
                        pos += n
                    elif k == _S_ULEB or k == S_SLEB:
                        while data[pos] >= 0x80:
                            pos += 1
                        pos += 1
                    elif k == S_FORM:
                        pos = read_value(data, pos, st[3], shape)[2]
                    else:
                        w, rd = _BLOCK_LEN[k]
                        pos += w + rd(data, pos)[0]
            if ab[1]:
                push((parent << 2) | ctx)
                ctx = act - 4 if act < _JUMP else _CTX_SKIP
        else:
            raise IndexError("the unit ends before its DIE tree does")
    except DwarfError as e:
        raise e.located(file=dwarf.path, section=".debug_info", offset=uoff + dpos) from None
    except (IndexError, KeyError, struct.error, TypeError) as e:
        raise _malformed(dwarf, unit, dpos, data, e, abbrevs) from None
    finally:
        if gc_was_on:
            gc.enable()
    out.dies = recs
    out.visited = visited
    return out


assert (P_KIDS, P_ACT, P_FIXED, P_SKIP, P_SIB, P_SIBREAD, P_TMPL, P_STEPS) == tuple(range(1, 9))
assert (F_OFFSET, F_PARENT) == (0, 2)


def _convert_form(convert, form: int, field: int, v):
    """Convert a value read by forms.read_value (DW_FORM_indirect, strx3,
    addrx3) the way a plan would have."""
    return convert(conversion(field, form), v)


def _malformed(dwarf: Dwarf, unit: Unit, dpos: int, data: bytes, e: Exception,
               abbrevs) -> DwarfError:
    """A DwarfError for a failure inside the walk, at the DIE being read."""
    code = None
    try:
        code = read_uleb(data, dpos)[0]
    except IndexError:
        pass
    undefined = False
    if code and abbrevs is not None:
        if isinstance(abbrevs, dict):
            undefined = code not in abbrevs
        else:
            undefined = code >= len(abbrevs) or abbrevs[code][P_ACT][0] == BAD
    if isinstance(e, KeyError) or undefined:
        what = (f"abbreviation code {code} is not in the unit's table "
                f"(at .debug_abbrev {unit.abbrev_offset:#x})")
    elif isinstance(e, (IndexError, struct.error)):
        what = f"truncated or malformed DIE ({e})"
    else:
        what = f"malformed DIE ({type(e).__name__}: {e})"
    return DwarfError(what, file=dwarf.path, section=".debug_info", offset=unit.offset + dpos)
