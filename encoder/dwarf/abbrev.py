"""Abbreviation tables, and the per-abbreviation plans the walk runs.

An abbreviation fixes a DIE's tag, whether it has children, and its
attributes with their forms.  Everything the walk would otherwise decide per
DIE is decided here once per abbreviation:

* the action in each walk context (keep / walk through / skip subtree);
* how to skip the attributes of a DIE that is not kept: one byte count when
  every form has a fixed size, else a short list of steps;
* where DW_AT_sibling sits, when only fixed-size attributes precede it, so a
  skipped subtree is jumped over with one read;
* how to decode a kept DIE: a record template with the tag and the
  abbreviation's constants (flag_present, implicit_const) filled in, and
  steps: runs of fixed-size attributes read by one precompiled
  `struct.unpack_from` (attributes we do not want become pad bytes), and
  single steps for the variable-size forms.

An attribute stored with a form of the wrong class for its field (a
DW_AT_name as DW_FORM_data4, a DW_AT_type as a string, a DW_AT_byte_size
as an expression) is skipped as if absent, which is what libdw's accessors
and so pahole do; the records then always hold the value types dies.py
promises.

Plans depend only on the declaration bytes and the unit shape, and the same
declarations recur in every CU of a kernel, so they are shared across
tables (`PlanCache`).
"""

from __future__ import annotations

import struct

from ..errors import DwarfError
from .constants import At, Form
from .dies import (ATTR_FIELD, F_CONST_FORM, F_CONST_VALUE, F_COUNT,
                   F_DATA_MEMBER_LOCATION, F_LINKAGE_NAME, F_LOCATION, F_LOW_PC, F_NAME,
                   F_TAG, F_UPPER_BOUND, FLAG_FIELDS, NFIELDS, REFERENCE_FIELDS, actions_for)
from .forms import (VAR_BLOCK, VAR_BLOCK1, VAR_BLOCK2, VAR_BLOCK4, VAR_CSTR, VAR_INDIRECT,
                    VAR_SLEB, VAR_ULEB, UnitShape, form_size, read_sleb, read_uleb)

# Plan tuple layout (indexes used by walk.py).
P_TAG = 0          # DW_TAG_*
P_KIDS = 1         # has children
P_ACT = 2          # actions per context (dies.actions_for)
P_FIXED = 3        # total attribute size if all fixed, else -1
P_SKIP = 4         # steps to skip the attributes (when P_FIXED < 0)
P_SIB = 5          # byte offset of DW_AT_sibling in the DIE's attributes, or -1
P_SIBREAD = 6      # unpack_from for the sibling value (None if P_SIB < 0)
P_TMPL = 7         # record template (list) for a kept DIE
P_STEPS = 8        # decode steps for a kept DIE
P_SPECS = 9        # ((attr, form, implicit_const), ...) as declared

# Step kinds (first item of each step tuple).
S_RUN = 0          # (S_RUN, unpack_from, size, fields, convs): fixed-size run
S_PLAIN = 1        # (S_PLAIN, unpack_from, size, fields): run whose values are all C_INT
S_SKIPN = 2        # (S_SKIPN, n)
S_ULEB = 3         # (S_ULEB, field, conv)   field -1: skip
S_SLEB = 4
S_CSTR = 5
S_BLOCK = 6        # ULEB length
S_BLOCK1 = 7
S_BLOCK2 = 8
S_BLOCK4 = 9
S_FORM = 10        # (S_FORM, field, conv, form): read through forms.read_value

_VAR_STEP = {VAR_ULEB: S_ULEB, VAR_SLEB: S_SLEB, VAR_CSTR: S_CSTR, VAR_BLOCK: S_BLOCK,
             VAR_BLOCK1: S_BLOCK1, VAR_BLOCK2: S_BLOCK2, VAR_BLOCK4: S_BLOCK4}

# Value conversions.
C_INT = 0          # the value as read
C_STRP = 1         # offset into .debug_str
C_LSTRP = 2        # offset into .debug_line_str
C_STRX = 3         # index into the unit's .debug_str_offsets
C_REF = 4          # unit-relative reference -> absolute offset
C_BOOL = 5         # DW_FORM_flag
C_ADDRX = 6        # index into .debug_addr
C_LOCX = 7         # loclistx -> .debug_loclists offset
C_SIG = 8          # ref_sig8 -> TypeSig
C_DIEREF = 9       # unit-relative reference in a non-reference field -> DieRef
C_DIEREF_ABS = 10  # ref_addr in a non-reference field -> DieRef
C_RNGX = 11        # rnglistx (no field uses it today; kept for completeness)

_STRUCT_CODE = {1: "B", 2: "H", 4: "I", 8: "Q", 16: "16s"}
_DWO_NAME = (At.dwo_name, At.GNU_dwo_name)
_UNIT_REFS = (Form.ref1, Form.ref2, Form.ref4, Form.ref8, Form.ref_udata)


# Form classes (DWARF 5 section 7.5.5), as far as the fields need them.
_STRING = frozenset({Form.string, Form.strp, Form.line_strp, Form.strx, Form.strx1,
                     Form.strx2, Form.strx3, Form.strx4})
_REFERENCE = frozenset({*_UNIT_REFS, Form.ref_addr, Form.ref_sig8})
_CONSTANT = frozenset({Form.data1, Form.data2, Form.data4, Form.data8, Form.udata,
                       Form.sdata, Form.implicit_const})
_BLOCK = frozenset({Form.exprloc, Form.block, Form.block1, Form.block2, Form.block4})
_FLAG = frozenset({Form.flag, Form.flag_present})
_ADDRESS = frozenset({Form.addr, Form.addrx, Form.addrx1, Form.addrx2, Form.addrx3,
                      Form.addrx4})
# DWARF 2-3 store a location list offset as data4/data8.
_LOCLIST = frozenset({Form.sec_offset, Form.loclistx, Form.data4, Form.data8})

_FIELD_FORMS = {
    F_NAME: _STRING, F_LINKAGE_NAME: _STRING,
    F_DATA_MEMBER_LOCATION: _CONSTANT | _BLOCK,
    F_UPPER_BOUND: _CONSTANT | _BLOCK | _REFERENCE,
    F_COUNT: _CONSTANT | _BLOCK | _REFERENCE,
    F_CONST_VALUE: _CONSTANT | _BLOCK | _STRING | {Form.data16},
    F_LOW_PC: _ADDRESS,
    F_LOCATION: _BLOCK | _LOCLIST,
    **{f: _REFERENCE for f in REFERENCE_FIELDS},
    **{f: _FLAG | _CONSTANT for f in FLAG_FIELDS},
}


def form_fits(field: int, form: int) -> bool:
    """Whether a value of `form` is of a class `field` takes (dies.py's types);
    fields not listed take constants."""
    return form in _FIELD_FORMS.get(field, _CONSTANT)


def conversion(field: int, form: int) -> int:
    """How a value of `form` stored for `field` becomes the record's value."""
    if form == Form.strp:
        return C_STRP
    if form == Form.line_strp:
        return C_LSTRP
    if form in (Form.strx, Form.strx1, Form.strx2, Form.strx3, Form.strx4):
        return C_STRX
    if form in (Form.addrx, Form.addrx1, Form.addrx2, Form.addrx3, Form.addrx4):
        return C_ADDRX
    if form == Form.loclistx:
        return C_LOCX
    if form == Form.rnglistx:
        return C_RNGX
    if form == Form.ref_sig8:
        return C_SIG
    if form in _UNIT_REFS:
        return C_REF if field in REFERENCE_FIELDS else C_DIEREF
    if form == Form.ref_addr:
        return C_INT if field in REFERENCE_FIELDS else C_DIEREF_ABS
    if form == Form.flag:
        return C_BOOL
    return C_INT


def build_plan(tag: int, children: bool, specs: tuple, shape: UnitShape) -> tuple:
    """The plan for one abbreviation (see the module docstring)."""
    tmpl: list = [None] * NFIELDS
    tmpl[F_TAG] = tag
    steps: list[tuple] = []
    skip: list[tuple] = []
    fixed_total = 0
    all_fixed = True
    sib_off = -1
    sib_read = None

    # The fixed-size run being collected (for decode, and for skip).
    fmt: list[str] = []
    run_size = 0
    run_fields: list[int] = []
    run_convs: list[int] = []
    skip_run = 0

    def flush_run():
        nonlocal fmt, run_size, run_fields, run_convs
        if run_fields:
            unpack = struct.Struct("<" + "".join(fmt)).unpack_from
            if all(c == C_INT for c in run_convs):
                steps.append((S_PLAIN, unpack, run_size, tuple(run_fields)))
            else:
                steps.append((S_RUN, unpack, run_size, tuple(run_fields), tuple(run_convs)))
        elif run_size:
            steps.append((S_SKIPN, run_size))
        fmt, run_size, run_fields, run_convs = [], 0, [], []

    def flush_skip():
        nonlocal skip_run
        if skip_run:
            skip.append((S_SKIPN, skip_run))
            skip_run = 0

    offset_in_die = 0          # valid while all_fixed
    for at, form, implicit in specs:
        field = ATTR_FIELD.get(at, -1)
        if field >= 0 and form != Form.indirect and not form_fits(field, form):
            field = -1
        if at == At.sibling and all_fixed and sib_off < 0:
            if form in (Form.ref1, Form.ref2, Form.ref4, Form.ref8):
                sib_off = offset_in_die
                sib_read = struct.Struct("<" + _STRUCT_CODE[form_size(form, shape)]).unpack_from
        if field == F_CONST_VALUE:
            tmpl[F_CONST_FORM] = form
        if form == Form.implicit_const or form == Form.flag_present:
            if field >= 0:
                v = True if form == Form.flag_present else implicit
                if field in FLAG_FIELDS:
                    v = bool(v)
                tmpl[field] = v
            continue
        size = form_size(form, shape)
        if form in (Form.strx3, Form.addrx3):
            size = VAR_INDIRECT            # 3-byte values: read by the general reader
        if size >= 0:
            offset_in_die += size
            fixed_total += size
            skip_run += size
            if field >= 0:
                fmt.append(_STRUCT_CODE[size])
                run_fields.append(field)
                run_convs.append(conversion(field, form))
            else:
                fmt.append(f"{size}x" if size != 1 else "x")
            run_size += size
            continue
        # A variable-size form.
        all_fixed = False
        flush_run()
        flush_skip()
        conv = conversion(field, form) if field >= 0 else C_INT
        if size == VAR_INDIRECT:
            steps.append((S_FORM, field, conv, form))
            skip.append((S_FORM, -1, C_INT, form))
        else:
            kind = _VAR_STEP[size]
            steps.append((kind, field, conv))
            skip.append((kind, -1, C_INT))
    flush_run()
    flush_skip()
    return (tag, bool(children), actions_for(tag),
            fixed_total if all_fixed else -1, tuple(skip),
            sib_off, sib_read, tmpl, tuple(steps), specs)


class PlanCache:
    """Plans by (declaration bytes, unit shape), shared by all tables."""

    def __init__(self):
        self._plans: dict[tuple, tuple] = {}
        self._tables: dict[tuple, dict | list] = {}

    def table(self, abbrev, offset: int, shape: UnitShape, *, file: str | None = None):
        """The plans of the abbreviation table at `offset` of .debug_abbrev
        (`abbrev` is (buffer, start, size)), indexable by code: a list when
        the codes are dense, else a dict.  Cached per (offset, shape)."""
        key = (offset, shape)
        got = self._tables.get(key)
        if got is None:
            got = self._tables[key] = self._parse(abbrev, offset, shape, file)
        return got

    def _parse(self, abbrev, offset: int, shape: UnitShape, file):
        buf, start, size = abbrev
        if not 0 <= offset < size:
            raise DwarfError(f"abbreviation table offset {offset:#x} outside the section "
                             f"({size:#x} bytes)", file=file, section=".debug_abbrev",
                             offset=offset)
        # Parse from a bytes window of the section: tables are small, but
        # where this one ends is only known at its end.  Retry with a larger
        # window if it was not enough.
        pos = start + offset
        end = start + size
        window = 1 << 15
        while True:
            data = buf[pos:min(end, pos + window)]
            try:
                table = self._parse_window(data, offset, shape, file)
                break
            except IndexError:
                if pos + window >= end:
                    raise DwarfError("abbreviation table runs past the end of the section",
                                     file=file, section=".debug_abbrev",
                                     offset=offset) from None
                window *= 8
        if table and max(table) <= 4 * len(table) + 64:
            dense: list = [BAD_CODE] * (max(table) + 1)
            for c, plan in table.items():
                dense[c] = plan
            return dense
        return table

    def _parse_window(self, data, offset: int, shape: UnitShape, file) -> dict[int, tuple]:
        plans = self._plans
        table: dict[int, tuple] = {}
        p = 0
        while True:
            here = offset + p
            code, p = read_uleb(data, p)
            if code == 0:
                return table
            decl_start = p
            tag, p = read_uleb(data, p)
            children = data[p]
            p += 1
            if children > 1:
                raise DwarfError(f"abbreviation {code}: bad children flag {children}",
                                 file=file, section=".debug_abbrev", offset=here)
            specs = []
            while True:
                at, p = read_uleb(data, p)
                form, p = read_uleb(data, p)
                if at == 0 and form == 0:
                    break
                implicit = None
                if form == Form.implicit_const:
                    implicit, p = read_sleb(data, p)
                specs.append((at, form, implicit))
            if tag == 0:
                raise DwarfError(f"abbreviation {code} has tag 0", file=file,
                                 section=".debug_abbrev", offset=here)
            if any(at in _DWO_NAME for at, _, _ in specs):
                raise DwarfError("split DWARF (DW_AT_GNU_dwo_name/DW_AT_dwo_name: the types "
                                 "are in a .dwo file) is not supported; build without "
                                 "-gsplit-dwarf", file=file, section=".debug_abbrev",
                                 offset=here)
            if code in table:
                raise DwarfError(f"abbreviation code {code} defined twice", file=file,
                                 section=".debug_abbrev", offset=here)
            key = (bytes(data[decl_start:p]), shape)
            plan = plans.get(key)
            if plan is None:
                try:
                    plan = plans[key] = build_plan(tag, children, tuple(specs), shape)
                except DwarfError as e:
                    raise e.located(file=file, section=".debug_abbrev",
                                    offset=here) from None
            table[code] = plan


# A hole in a dense table: any DIE using it is reported by the walk.
BAD = 9
BAD_CODE = (0, False, (BAD, BAD, BAD, BAD), 0, (), -1, None, None, (), ())
