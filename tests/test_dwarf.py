"""The DWARF reader and the DIE walk, differentially against pyelftools.

For every unit of every fixture object, the DIEs our walk keeps must be
exactly those the keep policy (restated here over pyelftools' DIE tree)
selects, in DIE order, and each field must equal what pyelftools decodes for
the same attribute.  The `corpus` tests do the same on real kernel modules
and the first units of vmlinux.  Bad input must give one DwarfError with a
file, a section and an offset.
"""

from __future__ import annotations

import io
import struct
import subprocess
import shutil
from pathlib import Path

import pytest

from fuzz.dwarfgen import sleb, uleb

from encoder.dwarf import DIE_FIELDS, DieRef, Dwarf, walk_unit
from encoder.dwarf.constants import At, Form, Tag
from encoder.dwarf.dies import TYPE_TAGS
from encoder.elf import ElfFile
from encoder.errors import DwarfError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "obj"
OBJECTS = sorted(FIXTURES.glob("*.o"))

# ---------------------------------------------------------------------------
# The oracle: pyelftools, with its own relocations where it can do them.


def pyelftools_dwarf(path, f):
    """pyelftools' DWARFInfo for the open file `f`.  Where pyelftools cannot
    relocate (it lacks R_X86_64_DTPOFF*), its sections get our relocated
    bytes instead: the comparison then checks decoding, not relocation."""
    from elftools.common.exceptions import ELFRelocationError
    from elftools.elf.elffile import ELFFile

    elf = ELFFile(f)
    if elf["e_type"] != "ET_REL":
        # An executable's .rela.debug_* (--emit-relocs) are already applied.
        return elf.get_dwarf_info(relocate_dwarf_sections=False)
    try:
        return elf.get_dwarf_info(relocate_dwarf_sections=True)
    except ELFRelocationError:
        pass
    di = elf.get_dwarf_info(relocate_dwarf_sections=False)
    ours = ElfFile(path, place_sections=False)
    for attr in ("debug_info_sec", "debug_loclists_sec", "debug_rnglists_sec",
                 "debug_loc_sec", "debug_ranges_sec", "debug_addr_sec",
                 "debug_str_offsets_sec"):
        sec = getattr(di, attr, None)
        if sec is not None:
            data = bytes(ours.section(sec.name))
            setattr(di, attr, sec._replace(stream=io.BytesIO(data)))
    return di


PYE_FIELD = {
    "DW_AT_name": "name", "DW_AT_type": "type", "DW_AT_byte_size": "byte_size",
    "DW_AT_bit_size": "bit_size", "DW_AT_data_member_location": "data_member_location",
    "DW_AT_data_bit_offset": "data_bit_offset", "DW_AT_bit_offset": "bit_offset",
    "DW_AT_encoding": "encoding", "DW_AT_upper_bound": "upper_bound", "DW_AT_count": "count",
    "DW_AT_const_value": "const_value", "DW_AT_external": "external",
    "DW_AT_declaration": "declaration", "DW_AT_specification": "specification",
    "DW_AT_abstract_origin": "abstract_origin", "DW_AT_low_pc": "low_pc",
    "DW_AT_location": "location", "DW_AT_linkage_name": "linkage_name",
    "DW_AT_MIPS_linkage_name": "linkage_name", "DW_AT_inline": "inline",
    "DW_AT_alignment": "alignment", "DW_AT_prototyped": "prototyped",
    "DW_AT_artificial": "artificial", "DW_AT_calling_convention": "calling_convention",
    "DW_AT_GNU_annotation": "annotation", 0x2139: "annotation",
}
REF_FIELDS = {"type", "specification", "abstract_origin", "annotation"}
UNIT_REFS = {"DW_FORM_ref1", "DW_FORM_ref2", "DW_FORM_ref4", "DW_FORM_ref8",
             "DW_FORM_ref_udata"}


def _num(name, enum, prefix):
    if isinstance(name, int):
        return name
    return enum[name[len(prefix):]].value


def _tag(die) -> int:
    return _num(die.tag, Tag, "DW_TAG_")


def _base(top, at_name):
    a = top.attributes.get(at_name)
    return a.value if a is not None else None


def _oracle_value(di, cu, top, field, attr):
    form = attr.form
    v = attr.value
    if form in ("DW_FORM_strp", "DW_FORM_line_strp", "DW_FORM_string", "DW_FORM_strx",
                "DW_FORM_strx1", "DW_FORM_strx2", "DW_FORM_strx3", "DW_FORM_strx4"):
        return v.decode("utf-8", "replace")
    if form in ("DW_FORM_flag", "DW_FORM_flag_present"):
        return bool(v)
    if form in UNIT_REFS:
        return v + cu.cu_offset if field in REF_FIELDS else DieRef(v + cu.cu_offset)
    if form == "DW_FORM_ref_addr":
        return v if field in REF_FIELDS else DieRef(v)
    if form in ("DW_FORM_exprloc", "DW_FORM_block", "DW_FORM_block1", "DW_FORM_block2",
                "DW_FORM_block4", "DW_FORM_data16"):
        return bytes(v)
    return v


FUNC_KIDS = {Tag.formal_parameter, Tag.unspecified_parameters, Tag.LLVM_annotation,
             Tag.GNU_annotation}
BODY = {Tag.lexical_block, Tag.inlined_subroutine}


def _oracle_visit(di, cu, top, die, ctx, parent_off, out):
    """Append the DIEs under `die` the keep policy keeps, in DIE order."""
    for child in die.iter_children():
        tag = _tag(child)
        if tag == Tag.subprogram:
            keep, sub = ctx != "skip", "func"
        elif tag in BODY:
            keep, sub = False, "body" if ctx != "skip" else "skip"
        elif ctx == "all":
            keep, sub = True, "all"
        elif ctx == "func" and (tag in TYPE_TAGS or tag in FUNC_KIDS):
            keep, sub = True, "all"
        elif ctx == "body" and tag in TYPE_TAGS:
            keep, sub = True, "all"
        else:
            keep, sub = False, "skip"
        if keep:
            fields = {}
            for name, attr in child.attributes.items():
                field = PYE_FIELD.get(name)
                if field is None:
                    continue
                fields[field] = _oracle_value(di, cu, top, field, attr)
                if field == "const_value":
                    fields["const_form"] = _num(attr.form, Form, "DW_FORM_")
            out.append((child.offset, tag, parent_off, fields))
        if child.has_children:
            _oracle_visit(di, cu, top, child, sub, child.offset if keep else parent_off, out)


def oracle_units(path, limit=None):
    """{unit offset: (top DIE, [(offset, tag, parent offset, {field: value})])}
    by the keep policy of encoder/dwarf/dies.py, restated over pyelftools' tree."""
    units = {}
    with open(path, "rb") as f:
        di = pyelftools_dwarf(path, f)
        for n, cu in enumerate(di.iter_CUs()):
            if limit is not None and n >= limit:
                break
            top = cu.get_top_DIE()
            out: list = []
            _oracle_visit(di, cu, top, top, "all", None, out)
            units[cu.cu_offset] = (top, out)
    return units


def compare_file(path, limit=None):
    """Assert that our walk of `path` equals the oracle's; returns (units, DIEs)."""
    expected = oracle_units(path, limit)
    ndies = 0
    with Dwarf.open(path, place_sections=False) as dw:
        for n, unit in enumerate(dw.units()):
            if limit is not None and n >= limit:
                break
            top, want = expected.pop(unit.offset)
            got = walk_unit(dw, unit)
            assert got.name == _oracle_str(top, "DW_AT_name")
            assert got.producer == _oracle_str(top, "DW_AT_producer")
            lang = top.attributes.get("DW_AT_language")
            assert got.language == (lang.value if lang else None)
            assert [d[0] for d in got.dies] == [w[0] for w in want], \
                f"{path} unit {unit.offset:#x}: kept DIEs differ"
            for d, (off, tag, parent_off, fields) in zip(got.dies, want):
                rec = dict(zip(DIE_FIELDS, d))
                assert rec["tag"] == tag
                pidx = rec["parent"]
                assert (got.dies[pidx][0] if pidx >= 0 else None) == parent_off
                for field in DIE_FIELDS[3:]:
                    assert rec[field] == fields.get(field), \
                        f"{path}: DIE {off:#x} {field}: ours {rec[field]!r}, " \
                        f"pyelftools {fields.get(field)!r}"
                    if field in ("upper_bound", "count") and isinstance(fields.get(field),
                                                                        DieRef):
                        assert isinstance(rec[field], DieRef)
            ndies += len(want)
    assert limit is not None or not expected, f"units we did not walk: {list(expected)}"
    return ndies


def _oracle_str(top, name):
    a = top.attributes.get(name)
    return a.value.decode("utf-8", "replace") if a is not None else None


@pytest.mark.parametrize("path", OBJECTS, ids=lambda p: p.name)
def test_walk_matches_pyelftools(path):
    assert compare_file(path) > 0


def test_fixture_set_covers_both_versions_and_compilers():
    names = {p.name for p in OBJECTS}
    assert any(".dwarf4." in n for n in names) and any(".dwarf5." in n for n in names)
    assert any(".gcc." in n for n in names)


# ---------------------------------------------------------------------------
# Facts of the walk that the differential check does not show.


def _walk_all(path):
    with Dwarf.open(path) as dw:
        return [walk_unit(dw, u) for u in dw.units()]


def test_records_are_plain_tuples_with_the_contract_length():
    for ud in _walk_all(OBJECTS[0]):
        for d in ud.dies:
            assert type(d) is tuple and len(d) == len(DIE_FIELDS)
        assert ud.die(0).offset == ud.dies[0][0]


def test_index_resolves_every_type_reference_inside_the_unit():
    for path in OBJECTS[:40]:
        for ud in _walk_all(path):
            index = ud.index()
            for d in ud.dies:
                t = d[DIE_FIELDS.index("type")]
                if t is not None:
                    assert t in index, f"{path}: {d[0]:#x} -> {t:#x}"


def _by_name(path, name):
    for ud in _walk_all(path):
        for i, d in enumerate(ud.dies):
            if d[3] == name:
                yield ud, i, ud.die(i)


@pytest.mark.parametrize("cc", ["gcc", "clang"])
@pytest.mark.parametrize("v", [4, 5])
def test_enumerator_values_and_forms(cc, v):
    path = FIXTURES / f"kinds.{cc}.dwarf{v}.o"
    if not path.exists():
        pytest.skip(f"{path.name} not built")
    (_, _, blue), = _by_name(path, "BLUE")
    assert blue.tag == Tag.enumerator
    if blue.const_form == Form.sdata:
        assert blue.const_value == -1
    else:                  # an unsigned form: the consumer sign-extends by width
        assert blue.const_value in (0xFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF)


def test_types_inside_function_bodies_are_kept():
    """pahole emits types declared in functions; the walk must keep them,
    with the enclosing subprogram as parent."""
    found = False
    for path in OBJECTS:
        for ud in _walk_all(path):
            for d in ud.dies:
                if d[2] >= 0 and ud.dies[d[2]][1] == Tag.subprogram and d[1] in TYPE_TAGS:
                    found = True
    if not found:
        pytest.skip("no fixture declares a type inside a function")


def test_unit_facts():
    ud = _walk_all(FIXTURES / "kinds.gcc.dwarf5.o")[0]
    assert ud.version == 5 and ud.address_size == 8 and ud.offset_size == 4
    assert ud.name.endswith("kinds.c")
    assert ud.producer.startswith("GNU C")
    assert ud.visited >= len(ud.dies) + 1


# ---------------------------------------------------------------------------
# Locations: expressions split into operations, location lists read.


def _pye_ops(parser, expr):
    """pyelftools' parse as [(op, args)], a sub-expression's args as bytes-free
    nested lists of the same."""
    out = []
    for o in parser.parse_expr(list(expr)):
        args = [_pye_nested(a) for a in o.args]
        out.append((o.op, args))
    return out


def _pye_nested(a):
    if isinstance(a, list) and a and hasattr(a[0], "op"):
        return [(o.op, [_pye_nested(x) for x in o.args]) for o in a]
    return a


def _our_ops(expr, asz, osz):
    from encoder.dwarf.constants import Op
    from encoder.dwarf.expr import operations
    out = []
    for op, args in operations(expr, asz, osz):
        args = list(args)
        if op in (Op.entry_value, Op.GNU_entry_value):
            args = [_our_ops(args[0], asz, osz)]
        elif op in (Op.implicit_value,):
            args = [args[0] and len(args[0]), list(args[0])]
        out.append((op, args))
    return out


@pytest.mark.parametrize("path", [p for p in OBJECTS if ".dwarf" in p.name][::3],
                         ids=lambda p: p.name)
def test_locations_match_pyelftools(path):
    from elftools.dwarf.dwarf_expr import DWARFExprParser
    from encoder.dwarf.constants import Op
    from encoder.dwarf.loclists import location_list

    with open(path, "rb") as f, Dwarf.open(path, place_sections=False) as dw:
        di = pyelftools_dwarf(path, f)
        lists = di.location_lists()
        cus = {cu.cu_offset: cu for cu in di.iter_CUs()}
        for unit in dw.units():
            ud = walk_unit(dw, unit)
            cu = cus[unit.offset]
            parser = DWARFExprParser(cu.structs)
            by_off = {d.offset: d for d in cu.iter_DIEs()}
            for d in ud.dies:
                loc = d[DIE_FIELDS.index("location")]
                if loc is None:
                    continue
                if isinstance(loc, bytes):
                    exprs = [(None, None, loc)]
                    want = [(None, None, loc)]
                else:
                    exprs = location_list(dw, ud, loc)
                    entries = lists.get_location_list_at_offset(loc, by_off[d[0]])
                    base = ud.low_pc or 0
                    want = []
                    for e in entries:
                        if hasattr(e, "base_address"):
                            base = e.base_address
                        elif hasattr(e, "loc_expr"):
                            rel = 0 if e.is_absolute else base
                            want.append((e.begin_offset + rel, e.end_offset + rel,
                                         bytes(e.loc_expr)))
                    assert [tuple(e) for e in exprs] == want
                for _, _, e in exprs:
                    if any(b == Op.implicit_value for b in e[:1]):
                        continue
                    assert _our_ops(e, ud.address_size, ud.offset_size) == \
                        _pye_ops(parser, e), f"{path}: {d[0]:#x}"


def test_member_offset():
    from encoder.dwarf.expr import member_offset
    assert member_offset(None) is None
    assert member_offset(12) == 12
    assert member_offset(bytes([0x23, 0x90, 0x01])) == 144      # DW_OP_plus_uconst 144
    assert member_offset(bytes([0x10, 0x08])) == 8              # DW_OP_constu 8
    assert member_offset(bytes([0x12, 0x23, 0x01])) is None     # DW_OP_dup, plus_uconst


def test_bad_expression():
    from encoder.dwarf.expr import operations
    with pytest.raises(DwarfError, match="unknown DWARF operation"):
        list(operations(bytes([0x01])))
    with pytest.raises(DwarfError, match="truncated"):
        list(operations(bytes([0x03, 0x00, 0x01])))              # DW_OP_addr, 2 of 8 bytes


# ---------------------------------------------------------------------------
# ET_REL addresses as pahole sees them: libdw (libdwfl's offline layout) is
# the oracle, through ctypes.


def _libdw():
    import ctypes
    import ctypes.util
    name = ctypes.util.find_library("dw") or "libdw.so.1"
    try:
        return ctypes.CDLL(name)
    except OSError:
        pytest.skip("libdw is not installed")


def libdw_addresses(path) -> dict[tuple[int, str], int]:
    """{(tag, name): address} of the unit-level functions (DW_AT_low_pc) and
    variables (a DW_OP_addr location) as libdwfl reports an offline file."""
    import ctypes as C
    lib = _libdw()

    class Callbacks(C.Structure):
        _fields_ = [("find_elf", C.c_void_p), ("find_debuginfo", C.c_void_p),
                    ("section_address", C.c_void_p), ("debuginfo_path", C.c_void_p)]

    class DwOp(C.Structure):
        _fields_ = [("atom", C.c_uint8), ("number", C.c_uint64), ("number2", C.c_uint64),
                    ("offset", C.c_uint64)]

    fn = C.cast
    cbs = Callbacks(fn(lib.dwfl_build_id_find_elf, C.c_void_p).value,
                    fn(lib.dwfl_standard_find_debuginfo, C.c_void_p).value,
                    fn(lib.dwfl_offline_section_address, C.c_void_p).value, None)
    vp, u64 = C.c_void_p, C.c_uint64
    lib.dwfl_begin.restype = vp
    lib.dwfl_report_offline.restype = vp
    lib.dwfl_report_offline.argtypes = [vp, C.c_char_p, C.c_char_p, C.c_int]
    lib.dwfl_report_end.argtypes = [vp, vp, vp]
    lib.dwfl_module_getdwarf.restype = vp
    lib.dwfl_module_getdwarf.argtypes = [vp, C.POINTER(u64)]
    lib.dwfl_end.argtypes = [vp]
    lib.dwarf_nextcu.argtypes = [vp, u64, C.POINTER(u64), C.POINTER(C.c_size_t), vp, vp, vp]
    lib.dwarf_offdie.argtypes = [vp, u64, vp]
    lib.dwarf_offdie.restype = vp
    lib.dwarf_child.argtypes = [vp, vp]
    lib.dwarf_siblingof.argtypes = [vp, vp]
    lib.dwarf_tag.argtypes = [vp]
    lib.dwarf_diename.argtypes = [vp]
    lib.dwarf_diename.restype = C.c_char_p
    lib.dwarf_lowpc.argtypes = [vp, C.POINTER(u64)]
    lib.dwarf_attr.argtypes = [vp, C.c_uint, vp]
    lib.dwarf_attr.restype = vp
    lib.dwarf_getlocation.argtypes = [vp, C.POINTER(C.POINTER(DwOp)), C.POINTER(C.c_size_t)]

    dwfl = lib.dwfl_begin(C.byref(cbs))
    out: dict[tuple[int, str], int] = {}
    try:
        raw = str(path).encode()
        mod = lib.dwfl_report_offline(dwfl, raw, raw, -1)
        assert mod, "libdwfl refused the file"
        lib.dwfl_report_end(dwfl, None, None)
        bias = u64()
        dw = lib.dwfl_module_getdwarf(mod, C.byref(bias))
        assert dw and bias.value == 0
        off, nxt, hsize = 0, u64(), C.c_size_t()
        while lib.dwarf_nextcu(dw, off, C.byref(nxt), C.byref(hsize), None, None, None) == 0:
            cu, die = C.create_string_buffer(128), C.create_string_buffer(128)
            lib.dwarf_offdie(dw, off + hsize.value, cu)
            more = lib.dwarf_child(cu, die)
            while more == 0:
                tag, name = lib.dwarf_tag(die), lib.dwarf_diename(die)
                if name and tag == Tag.subprogram:
                    lo = u64()
                    if lib.dwarf_lowpc(die, C.byref(lo)) == 0:
                        out[(tag, name.decode())] = lo.value
                elif name and tag == Tag.variable:
                    attr = C.create_string_buffer(64)
                    if lib.dwarf_attr(die, At.location, attr):
                        ops, n = C.POINTER(DwOp)(), C.c_size_t()
                        if lib.dwarf_getlocation(attr, C.byref(ops), C.byref(n)) == 0 \
                                and n.value and ops[0].atom == 0x03:       # DW_OP_addr
                            out[(tag, name.decode())] = ops[0].number
                more = lib.dwarf_siblingof(die, die)
            off = nxt.value
    finally:
        lib.dwfl_end(dwfl)
    return out


def our_addresses(path) -> dict[tuple[int, str], int]:
    from encoder.dwarf.expr import operations
    out = {}
    with Dwarf.open(path) as dw:
        for unit in dw.units():
            ud = walk_unit(dw, unit)
            for d in ud.dies:
                tag, parent, name = d[1], d[2], d[3]
                if parent != -1 or not name:
                    continue
                if tag == Tag.subprogram and d[DIE_FIELDS.index("low_pc")] is not None:
                    out[(tag, name)] = d[DIE_FIELDS.index("low_pc")]
                loc = d[DIE_FIELDS.index("location")]
                if tag == Tag.variable and isinstance(loc, bytes) and loc[:1] == b"\x03":
                    out[(tag, name)] = next(operations(loc, ud.address_size))[1][0]
    return out


def check_addresses(path) -> int:
    want = libdw_addresses(path)
    got = our_addresses(path)
    common = set(want) & set(got)
    assert common, f"{path}: no addresses to compare"
    for key in sorted(common):
        assert got[key] == want[key], f"{path}: {key[1]} at {got[key]:#x}, libdw {want[key]:#x}"
    return len(common)


@pytest.mark.parametrize("path", [p for p in OBJECTS if "globals" in p.name or
                                  "percpu" in p.name or "static_dup" in p.name],
                         ids=lambda p: p.name)
def test_addresses_match_libdwfl_layout(path):
    assert check_addresses(path) > 0


# ---------------------------------------------------------------------------
# Other DWARF versions and formats, compiled on the spot when gcc is here.

GCC = shutil.which("gcc")


@pytest.mark.skipif(GCC is None, reason="gcc is not installed")
@pytest.mark.parametrize("flags", [["-gdwarf-2"], ["-gdwarf-3"], ["-gdwarf-4", "-gdwarf64"],
                                   ["-gdwarf-5", "-gdwarf64"]],
                         ids=["dwarf2", "dwarf3", "dwarf4-64", "dwarf5-64"])
def test_other_versions_and_64bit_dwarf(tmp_path, flags):
    src = FIXTURES.parent / "src" / "kinds.c"
    obj = tmp_path / "k.o"
    r = subprocess.run([GCC, "-c", "-O2", *flags, "-o", str(obj), str(src)],
                       capture_output=True)
    if r.returncode:
        pytest.skip(f"gcc {' '.join(flags)}: {r.stderr.decode()[:200]}")
    assert compare_file(obj) > 10


# ---------------------------------------------------------------------------
# Every form, on a hand-made DWARF 5 unit (compilers use only some of them).




def make_elf(sections: dict[str, bytes]) -> bytes:
    """A minimal little-endian ELF64 ET_EXEC file holding `sections`."""
    names = [*sections, ".shstrtab"]
    shstr = b"\0" + b"".join(n.encode() + b"\0" for n in names)
    blobs = [*sections.values(), shstr]
    body = bytearray(64)
    placed = []
    for blob in blobs:
        placed.append((len(body), len(blob)))
        body += blob
    while len(body) % 8:
        body.append(0)
    shoff = len(body)
    shdrs = bytearray(64)                               # the null section
    name_off = 1
    for name, (off, size) in zip(names, placed):
        typ = 3 if name == ".shstrtab" else 1
        shdrs += struct.pack("<IIQQQQIIQQ", name_off, typ, 0, 0, off, size, 0, 0, 1, 0)
        name_off += len(name) + 1
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    body[:64] = ident + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0, 0, shoff, 0, 64, 0, 0, 64,
                                    len(names) + 1, len(names))
    return bytes(body + shdrs)


class Unit5:
    """Builds .debug_abbrev and .debug_info for one DWARF 5 compile unit."""

    def __init__(self):
        self.abbrev = bytearray()
        self.info = bytearray()
        self.codes: dict[tuple, int] = {}
        self.fixups: list[tuple[int, str, str]] = []     # (pos, label, form)
        self.labels: dict[str, int] = {}

    def die(self, tag, attrs, children=False, label=None):
        """attrs: [(at, form, value)]; value of implicit_const goes in the
        abbreviation.  A str value for a reference form is a label."""
        key = (tag, children, tuple((a, f, v if f == Form.implicit_const else None)
                                    for a, f, v in attrs))
        code = self.codes.get(key)
        if code is None:
            code = self.codes[key] = len(self.codes) + 1
            self.abbrev += uleb(code) + uleb(tag) + bytes([children])
            for a, f, v in attrs:
                self.abbrev += uleb(a) + uleb(f)
                if f == Form.implicit_const:
                    self.abbrev += sleb(v)
            self.abbrev += b"\0\0"
        if label:
            self.labels[label] = len(self.info)
        self.info += uleb(code)
        for _, f, v in attrs:
            self.value(f, v)

    def value(self, f, v):
        b = self.info
        if f == Form.indirect:
            real, v = v
            b += uleb(real)
            return self.value(real, v)
        if isinstance(v, str) and f in (Form.ref1, Form.ref2, Form.ref4, Form.ref8,
                                        Form.ref_addr, Form.ref_udata):
            width = {Form.ref1: 1, Form.ref2: 2, Form.ref4: 4, Form.ref8: 8,
                     Form.ref_addr: 4, Form.ref_udata: 4}[f]
            self.fixups.append((len(b), v, f))
            b += bytes(width) if f != Form.ref_udata else b"\x80\x80\x80\x00"
            return
        fixed = {Form.data1: 1, Form.ref1: 1, Form.flag: 1, Form.strx1: 1, Form.addrx1: 1,
                 Form.data2: 2, Form.strx2: 2, Form.addrx2: 2, Form.strx3: 3,
                 Form.addrx3: 3, Form.data4: 4, Form.strx4: 4, Form.addrx4: 4,
                 Form.strp: 4, Form.line_strp: 4, Form.sec_offset: 4, Form.data8: 8,
                 Form.ref_sig8: 8, Form.addr: 8}
        if f in fixed:
            b += v.to_bytes(fixed[f], "little")
        elif f in (Form.udata, Form.strx, Form.addrx, Form.loclistx, Form.rnglistx):
            b += uleb(v)
        elif f == Form.sdata:
            b += sleb(v)
        elif f == Form.string:
            b += v.encode() + b"\0"
        elif f in (Form.exprloc, Form.block):
            b += uleb(len(v)) + v
        elif f == Form.block1:
            b += bytes([len(v)]) + v
        elif f == Form.block2:
            b += struct.pack("<H", len(v)) + v
        elif f == Form.block4:
            b += struct.pack("<I", len(v)) + v
        elif f == Form.data16:
            b += v
        elif f in (Form.flag_present, Form.implicit_const):
            pass
        else:
            raise AssertionError(f)

    def end(self):
        self.info += b"\0"

    def sections(self) -> tuple[bytes, bytes]:
        header = 12
        for pos, label, f in self.fixups:
            target = self.labels[label] + header
            if f == Form.ref_addr:
                struct.pack_into("<I", self.info, pos, target)
            elif f == Form.ref_udata:
                self.info[pos:pos + 4] = bytes([0x80 | (target & 0x7F),
                                                0x80 | ((target >> 7) & 0x7F),
                                                0x80 | ((target >> 14) & 0x7F),
                                                (target >> 21) & 0x7F])
            else:
                width = {Form.ref1: 1, Form.ref2: 2, Form.ref4: 4, Form.ref8: 8}[f]
                self.info[pos:pos + width] = target.to_bytes(width, "little")
        body = struct.pack("<HBBI", 5, 1, 8, 0) + bytes(self.info)
        return bytes(self.abbrev) + b"\0", struct.pack("<I", len(body)) + body


def every_form_file(tmp_path, *, for_pyelftools: bool = False) -> Path:
    """The unit; `for_pyelftools` avoids DW_FORM_strx4, which pyelftools 0.33
    reads as 8 bytes (readelf and we read 4)."""
    F, A, T = Form, At, Tag
    strs = b"\0producer\0int\0long\0size_t\0s_t\0e_t\0var\0global_name\0annot\0"

    def so(name):                                   # .debug_str offset of a name
        return strs.index(name.encode() + b"\0")
    index = ["producer", "int", "long", "size_t", "e_t", "global_name"]
    str_offsets = struct.pack("<IHH", 4 + 4 * len(index), 5, 0) + b"".join(
        struct.pack("<I", so(n)) for n in index)
    addrs = [0x1000, 0x2000, 0x3000]
    debug_addr = struct.pack("<IHBB", 4 + 8 * len(addrs), 5, 8, 0) + b"".join(
        struct.pack("<Q", a) for a in addrs)
    lists = (bytes([4]) + uleb(0) + uleb(0x10) + uleb(1) + b"\x55" + b"\0"       # reg5
             + bytes([7]) + struct.pack("<QQ", 0x1000, 0x1010) + uleb(1) + b"\x54" + b"\0")
    second = 1 + 1 + 1 + 1 + 1 + 1
    table = struct.pack("<II", 8, 8 + second)
    loclists_body = struct.pack("<HBBI", 5, 8, 0, 2) + table + lists
    loclists = struct.pack("<I", len(loclists_body)) + loclists_body
    line_str = b"syn.c\0line_name\0"
    rng_body = struct.pack("<HBBII", 5, 8, 0, 1, 4) + bytes([4]) + uleb(0) + uleb(16) + b"\0"
    rnglists = struct.pack("<I", len(rng_body)) + rng_body

    u = Unit5()
    u.die(T.compile_unit, [
        (A.producer, F.strx1, 0), (A.language, F.data2, 0x1D), (A.name, F.line_strp, 0),
        (A.str_offsets_base, F.sec_offset, 8), (A.addr_base, F.sec_offset, 8),
        (A.loclists_base, F.sec_offset, 12), (A.rnglists_base, F.sec_offset, 12),
        (A.low_pc, F.addrx, 0)], children=True)
    u.die(T.base_type, [(A.name, F.strx2, 1), (A.byte_size, F.data1, 4),
                        (A.encoding, F.data1, 5)], label="int")
    u.die(T.base_type, [(A.name, F.strx3, 2), (A.byte_size, F.implicit_const, 8),
                        (A.encoding, F.udata, 5)], label="long")
    u.die(T.typedef, [(A.name, F.strx2 if for_pyelftools else F.strx4, 3),
                      (A.type, F.ref_udata, "long")])
    u.die(T.structure_type, [(A.name, F.strp, so("s_t")), (A.byte_size, F.data2, 24),
                             (A.GNU_annotation, F.ref4, "annot")], children=True)
    u.die(T.member, [(A.name, F.string, "a"), (A.type, F.ref1, "int"),
                     (A.data_member_location, F.data1, 0)])
    u.die(T.member, [(A.name, F.line_strp, 6), (A.type, F.ref2, "int"),
                     (A.data_member_location, F.udata, 4), (A.bit_size, F.data1, 3),
                     (A.data_bit_offset, F.data8, 35)])
    u.die(T.member, [(A.name, F.string, "c"), (A.type, F.ref8, "long"),
                     (A.data_member_location, F.exprloc, b"\x23\x08")])
    u.die(T.member, [(A.type, F.ref_addr, "int"), (A.data_member_location, F.block1,
                                                   b"\x23\x10"), (A.alignment, F.udata, 8)])
    u.end()
    u.die(T.enumeration_type, [(A.name, F.strx, 4), (A.type, F.ref4, "int"),
                               (A.byte_size, F.data1, 4)], children=True)
    u.die(T.enumerator, [(A.name, F.string, "E1"), (A.const_value, F.sdata, -5)])
    u.die(T.enumerator, [(A.name, F.string, "E2"), (A.const_value, F.data4, 0xFFFFFFFF)])
    u.die(T.enumerator, [(A.name, F.string, "E3"), (A.const_value, F.data8, 1 << 40)])
    u.die(T.enumerator, [(A.name, F.string, "E4"), (A.const_value, F.implicit_const, -7)])
    u.die(T.enumerator, [(A.name, F.string, "E5"), (A.const_value, F.data2, 0x8000)])
    u.end()
    u.die(T.array_type, [(A.type, F.ref4, "int")], children=True)
    u.die(T.subrange_type, [(A.type, F.ref4, "long"), (A.upper_bound, F.ref4, "vla")])
    u.die(T.subrange_type, [(A.type, F.ref4, "long"), (A.count, F.exprloc, b"\x30")])
    u.die(T.subrange_type, [(A.type, F.ref4, "long"), (A.upper_bound, F.data1, 9)])
    u.end()
    u.die(T.variable, [(A.name, F.indirect, (F.strp, so("var"))), (A.type, F.ref4, "int"),
                       (A.external, F.flag, 1), (A.declaration, F.flag, 0),
                       (A.location, F.exprloc, b"\xa1\x01")], label="vla")
    u.die(T.variable, [(A.name, F.string, "blocks"), (A.const_value, F.block2, b"\1\2\3"),
                       (A.type, F.ref_sig8, 0x1122334455667788)])
    u.die(T.variable, [(A.name, F.string, "bytes16"), (A.const_value, F.data16,
                                                       bytes(range(16)))])
    u.die(T.variable, [(A.name, F.string, "block4"), (A.const_value, F.block4, b"\xff")])
    u.die(T.GNU_annotation, [(A.name, F.string, "btf_decl_tag"),
                             (A.const_value, F.strp, so("annot"))], label="annot")
    u.die(T.subprogram, [(A.name, F.string, "fn"), (A.low_pc, F.addrx1, 1),
                         (A.external, F.flag_present, True),
                         (A.prototyped, F.flag_present, True), (A.type, F.ref4, "int"),
                         (A.calling_convention, F.data1, 1), (A.inline, F.data1, 0),
                         (A.linkage_name, F.strx1, 5), (A.ranges, F.rnglistx, 0),
                         (A.artificial, F.flag, 0)], children=True, label="fn")
    u.die(T.formal_parameter, [(A.name, F.string, "p"), (A.type, F.ref4, "int"),
                               (A.location, F.loclistx, 0)])
    u.die(T.formal_parameter, [(A.name, F.string, "q"), (A.type, F.ref4, "int"),
                               (A.location, F.sec_offset, 12 + 8 + second)])
    u.die(T.unspecified_parameters, [])
    # A local variable with every variable-size form: skipped, attribute by attribute.
    u.die(T.variable, [(A.name, F.string, "local"), (A.decl_line, F.udata, 300),
                       (A.decl_column, F.sdata, -300), (A.location, F.exprloc, b"\x91\x10"),
                       (A.const_value, F.block1, b"\1"), (A.description, F.block2, b"\2"),
                       (A.description, F.block4, b"\3"), (A.producer, F.strx3, 0),
                       (A.entry_pc, F.addrx3, 0), (A.discr_value, F.data16, bytes(16)),
                       (A.name, F.indirect, (F.string, "indirect")),
                       (A.type, F.ref_udata, "int")])
    u.die(T.lexical_block, [(A.low_pc, F.addrx2, 2)], children=True)
    u.die(T.structure_type, [(A.name, F.string, "local_s"), (A.byte_size, F.data1, 4)],
          children=True)
    u.die(T.member, [(A.name, F.string, "x"), (A.type, F.ref4, "int"),
                     (A.data_member_location, F.data1, 0)])
    u.end()                                             # local_s
    u.end()                                             # the lexical block
    u.die(T.call_site, [(A.sibling, F.ref4, "after_call")], children=True)
    u.die(T.call_site_parameter, [(A.location, F.exprloc, b"\x55")])
    u.end()
    u.die(T.label, [(A.name, F.string, "out"), (A.low_pc, F.addrx4, 2)], label="after_call")
    u.end()
    u.die(T.subprogram, [(A.specification, F.ref4, "fn"), (A.declaration, F.flag, 1),
                         (A.abstract_origin, F.ref_addr, "fn")])
    u.end()
    abbrev, info = u.sections()
    data = make_elf({".debug_info": info, ".debug_abbrev": abbrev, ".debug_str": strs,
                     ".debug_line_str": line_str, ".debug_str_offsets": str_offsets,
                     ".debug_addr": debug_addr, ".debug_loclists": loclists,
                     ".debug_rnglists": rnglists})
    out = tmp_path / "forms.elf"
    out.write_bytes(data)
    return out


def test_every_form_matches_pyelftools(tmp_path):
    path = every_form_file(tmp_path, for_pyelftools=True)
    assert compare_file(path) > 20


def test_every_form_values(tmp_path):
    from encoder.dwarf import TypeSig
    from encoder.dwarf.loclists import location_list
    path = every_form_file(tmp_path)
    with Dwarf.open(path) as dw:
        (unit,) = list(dw.units())
        ud = walk_unit(dw, unit)
        byname = {}
        for i in range(len(ud)):
            d = ud.die(i)
            byname.setdefault(d.name, d)
        assert ud.name == "syn.c" and ud.producer == "producer" and ud.low_pc == 0x1000
        assert byname["long"].byte_size == 8 and byname["long"].encoding == 5
        assert byname["size_t"].type == byname["long"].offset
        assert byname["line_name"].bit_size == 3 and byname["line_name"].data_bit_offset == 35
        assert byname["c"].data_member_location == b"\x23\x08"
        anon = [ud.die(i) for i in range(len(ud)) if ud.dies[i][1] == Tag.member
                and ud.dies[i][3] is None][0]
        assert anon.data_member_location == b"\x23\x10" and anon.alignment == 8
        assert byname["s_t"].annotation == byname["btf_decl_tag"].offset
        assert byname["btf_decl_tag"].const_value == "annot"
        assert [byname[f"E{i}"].const_value for i in range(1, 6)] == \
            [-5, 0xFFFFFFFF, 1 << 40, -7, 0x8000]
        assert byname["E4"].const_form == Form.implicit_const
        subs = [ud.die(i) for i in range(len(ud)) if ud.dies[i][1] == Tag.subrange_type]
        assert isinstance(subs[0].upper_bound, DieRef)
        assert subs[0].upper_bound == byname["var"].offset
        assert subs[1].count == b"\x30" and subs[2].upper_bound == 9
        var = byname["var"]
        assert var.external is True and var.declaration is False and var.location == b"\xa1\x01"
        assert isinstance(byname["blocks"].type, TypeSig)
        assert byname["blocks"].const_value == b"\1\2\3"
        assert byname["bytes16"].const_value == bytes(range(16))
        fn = byname["fn"]
        assert fn.low_pc == 0x2000 and fn.external and fn.prototyped and fn.artificial is False
        assert fn.linkage_name == "global_name" and fn.calling_convention == 1
        p, q = byname["p"], byname["q"]
        assert location_list(dw, ud, p.location) == [(0x1000, 0x1010, b"\x55")]
        assert location_list(dw, ud, q.location) == [(0x1000, 0x1010, b"\x54")]
        assert "local" not in byname and "out" not in byname       # skipped
        assert byname["local_s"].parent == ud.dies.index(fn)      # found in a lexical block
        assert byname["x"].parent == ud.dies.index(byname["local_s"])
        decl = ud.die(len(ud) - 1)
        assert decl.specification == fn.offset and decl.abstract_origin == fn.offset
        assert decl.declaration is True


def test_refused_forms():
    from encoder.dwarf.forms import UnitShape, form_size
    shape = UnitShape(5, 8, 4)
    with pytest.raises(DwarfError, match="dwz"):
        form_size(Form.GNU_ref_alt, shape)
    with pytest.raises(DwarfError, match="split DWARF"):
        form_size(Form.GNU_str_index, shape)
    with pytest.raises(DwarfError, match="unknown attribute form"):
        form_size(0x7E, shape)


# ---------------------------------------------------------------------------
# Bad input: one DwarfError with file, section and offset.

BASE = FIXTURES / "kinds.gcc.dwarf5.o"


def _patched(tmp_path, section: str, patch) -> Path:
    """A copy of BASE with `patch(bytearray) -> bytes` applied to a section's
    stored bytes (same size, so the section table stays valid)."""
    data = bytearray(BASE.read_bytes())
    with ElfFile(BASE) as e:
        h = e.header(section)
        off, size = h.offset, h.size
    new = patch(bytearray(data[off:off + size]))
    assert len(new) == size
    data[off:off + size] = new
    out = tmp_path / "bad.o"
    out.write_bytes(bytes(data))
    return out


def _walk_error(path) -> DwarfError:
    with pytest.raises(DwarfError) as ei:
        with Dwarf.open(path) as dw:
            for u in dw.units():
                walk_unit(dw, u)
    e = ei.value
    assert e.file == str(path) and e.section and e.offset is not None, str(e)
    return e


def test_bad_unit_length(tmp_path):
    def patch(b):
        b[0:4] = struct.pack("<I", 0x7FFFFFF)
        return b
    e = _walk_error(_patched(tmp_path, ".debug_info", patch))
    assert e.section == ".debug_info" and e.offset == 0 and "length" in e.what


def test_reserved_unit_length(tmp_path):
    def patch(b):
        b[0:4] = struct.pack("<I", 0xFFFFFFF3)
        return b
    e = _walk_error(_patched(tmp_path, ".debug_info", patch))
    assert "reserved" in e.what


def test_bad_version(tmp_path):
    def patch(b):
        b[4:6] = struct.pack("<H", 9)
        return b
    e = _walk_error(_patched(tmp_path, ".debug_info", patch))
    assert "version 9" in e.what


def test_truncated_unit(tmp_path):
    """The unit says it is shorter than its DIEs are: the walk runs off the
    end of the unit inside a DIE."""
    def patch(b):
        length = struct.unpack_from("<I", b, 0)[0]
        b[0:4] = struct.pack("<I", length // 2)
        return b
    e = _walk_error(_patched(tmp_path, ".debug_info", patch))
    assert e.section == ".debug_info" and 0 < e.offset < 1 << 20


def test_unknown_abbrev_code(tmp_path):
    with Dwarf.open(BASE) as dw:
        u = next(dw.units())
        first_child = walk_unit(dw, u).dies[0][0]

    def patch(b):
        b[first_child] = 0x7F          # a code the table does not define
        return b
    e = _walk_error(_patched(tmp_path, ".debug_info", patch))
    assert e.offset == first_child and "abbreviation code 127" in e.what


def test_unknown_form(tmp_path):
    """Make the first attribute's form of the first abbreviation unknown."""
    def patch(b):
        # code, tag, children, then (attr, form): patch the form byte.
        assert b[0] < 0x80 and b[1] < 0x80
        assert b[4] < 0x80
        b[4] = 0x7E
        return b
    e = _walk_error(_patched(tmp_path, ".debug_abbrev", patch))
    assert "unknown attribute form 0x7e" in e.what
    assert e.section == ".debug_abbrev"


def test_truncated_abbrev_table(tmp_path):
    def patch(b):
        return b[:3] + bytes([0x80]) * (len(b) - 3)       # a ULEB that never ends
    e = _walk_error(_patched(tmp_path, ".debug_abbrev", patch))
    assert e.section == ".debug_abbrev"


def test_bad_string_offset(tmp_path):
    """Point a DW_FORM_strp past .debug_str (no relocation touches it now)."""
    with Dwarf.open(BASE) as dw:
        u = next(dw.units())
        ud = walk_unit(dw, u)
    e = None
    data = bytearray(BASE.read_bytes())
    with ElfFile(BASE) as elf:
        info = elf.header(".debug_info")
        rela = elf.header(".rela.debug_info")
        # Drop the relocations (type NONE) so the stored offsets stay as we write them.
        ent = 24
        for i in range(rela.size // ent):
            at = rela.offset + i * ent + 8
            data[at:at + 8] = struct.pack("<Q", 0)
        off = info.offset + ud.dies[0][0] + 1       # after the code: DW_AT_name strp
        data[off:off + 4] = struct.pack("<I", 0x7FFFFFF0)
    bad = tmp_path / "bad.o"
    bad.write_bytes(bytes(data))
    e = _walk_error(bad)
    assert ".debug_str" in e.what


def test_no_debug_info(tmp_path):
    obj = tmp_path / "nodebug.o"
    if GCC is None:
        pytest.skip("gcc is not installed")
    src = tmp_path / "x.c"
    src.write_text("int x;\n")
    subprocess.run([GCC, "-c", "-o", str(obj), str(src)], check=True)
    with pytest.raises(DwarfError, match="no DWARF"):
        Dwarf.open(obj)


@pytest.mark.skipif(GCC is None, reason="gcc is not installed")
@pytest.mark.parametrize("version", [4, 5])
def test_type_units_refused(tmp_path, version):
    obj = tmp_path / "tu.o"
    src = tmp_path / "x.c"
    src.write_text("struct s { int a; } v;\n")
    r = subprocess.run([GCC, "-c", f"-gdwarf-{version}", "-fdebug-types-section", "-o",
                        str(obj), str(src)], capture_output=True)
    if r.returncode:
        pytest.skip("gcc cannot -fdebug-types-section")
    with pytest.raises(DwarfError, match="type units"):
        with Dwarf.open(obj) as dw:
            for u in dw.units():
                walk_unit(dw, u)


# ---------------------------------------------------------------------------
# The real kernel (make corpus).


@pytest.mark.corpus
def test_corpus_modules_match_pyelftools(corpus_dir):
    import corpus
    mods = corpus.dbg_module_paths(corpus_dir)
    by_rel = {corpus.module_relpath(p, corpus_dir): p for p in mods}
    picks = ["kernel/lib/crc7.ko", "kernel/drivers/scsi/hv_storvsc.ko",
             "kernel/fs/xfs/xfs.ko"]
    for rel in picks:
        if rel not in by_rel:
            pytest.skip(f"{rel} is not in the corpus")
        assert compare_file(by_rel[rel]) > 0
        assert check_addresses(by_rel[rel]) > 0


@pytest.mark.corpus
def test_corpus_vmlinux_first_units_match_pyelftools(corpus_dir):
    import corpus
    assert compare_file(corpus.vmlinux_path(corpus_dir), limit=20) > 0
