"""Fuzzing the DWARF readers and the conversion through `dwarf2btf encode`.

Hypothesis mutates the debug sections of real fixture objects (bit flips,
overwritten values, padded ULEB128s in abbreviation codes, forms, lengths
and indexes, runs copied over other places) and every mutant is encoded in
a forked child judged by tests/fuzz/oracle.py.  Also here: the regression
inputs fuzzing found, DWARF 2 and 3 (supported: pahole's bytes), and the
walk's records holding the value types dies.py promises whatever the forms.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz import mutate, regress
from fuzz.oracle import budget, explain, meets, try_input

REPO = Path(__file__).resolve().parents[1]
OBJ = REPO / "fixtures" / "obj"
OBJECTS = sorted(OBJ.glob("*.o"))


@budget(300)
@given(obj=st.sampled_from(OBJECTS), rnd=st.randoms(use_true_random=False),
       n=st.integers(1, 4))
def test_dwarf_mutations(obj, rnd, n, tmp_path_factory):
    note, data = mutate.stack(obj.read_bytes(), rnd, mutate.dwarf_mutation, n)
    verdict, run = try_input("encode", data, tmp_path_factory.mktemp("dwarf"), forked=True)
    assert verdict.ok, explain(verdict, run, f"{obj.name}: {note}")


@pytest.mark.parametrize("section", [".debug_info", ".debug_abbrev"])
def test_every_byte_of_a_section_overwritten(section, tmp_path):
    """Each byte of one small unit's section set to 0xff in turn (a ULEB128
    that never ends, a huge form, code or length wherever it lands)."""
    from fuzz import elfio
    data = (OBJ / "atomic.clang.dwarf5.o").read_bytes()
    s = elfio.section(data, section)
    bad = []
    for pos in range(s.offset, s.offset + min(s.size, 96)):
        verdict, run = try_input("encode", data[:pos] + b"\xff" + data[pos + 1:], tmp_path,
                                 forked=True)
        if not verdict.ok:
            bad.append(explain(verdict, run, f"{section} byte {pos - s.offset:#x}"))
    assert not bad, f"{len(bad)} failures:\n" + "\n".join(bad[:5])


def _walk_note(r) -> str:
    return (f"\nFOR THE DIE WALK'S AUTHOR (encoder/dwarf/walk.py and its compiled twin): "
            f"{r.before}") if r.owner == "walk" else ""


@pytest.mark.parametrize("r", [r for r in regress.REGRESSIONS if r.family == "dwarf"],
                         ids=lambda r: r.name)
def test_regression(r, tmp_path):
    data = (regress.DIR / r.name).read_bytes()
    verdict, run = try_input(r.command, data, tmp_path, forked=True)
    assert meets(verdict, r.expect), \
        explain(verdict, run, f"{r.name} (was: {r.before})") + _walk_note(r)


@pytest.mark.parametrize("version", [2, 3])
def test_dwarf_2_and_3_are_supported_and_encode_as_pahole_does(version, tmp_path):
    name = f"supported.gcc.dwarf{version}"
    data = (regress.DIR / f"{name}.o").read_bytes()
    verdict, run = try_input("encode", data, tmp_path, forked=True)
    assert verdict.kind == "written", explain(verdict, run)
    assert run.output == (regress.DIR / f"{name}.btf").read_bytes()


# Form-class mismatches: every one of these attributes is skipped as absent,
# as libdw's accessors (and so pahole) do.
MISMATCHES = {
    "name as data4": [("name", "data4", 7)],
    "name as block": [("name", "block1", b"abc")],
    "name as flag": [("name", "flag_present", True)],
    "name as reference": [("name", "ref4", 0x0c)],
    "type as string": [("type", "string", "int")],
    "type as data4": [("type", "data4", 0x1e)],
    "type as block": [("type", "block1", b"\x01\x02")],
    "byte_size as string": [("byte_size", "string", "4")],
    "byte_size as block": [("byte_size", "exprloc", b"\x34")],
    "declaration as string": [("declaration", "string", "yes")],
    "low_pc as string": [("low_pc", "string", "0")],
}


@pytest.mark.parametrize("attrs", MISMATCHES.values(), ids=MISMATCHES.keys())
def test_walk_records_hold_the_promised_types(attrs, tmp_path):
    """walk.py with abbrev.py's plans: a value of the wrong form class never
    reaches a record (dies.py: names are str, references int, sizes int)."""
    from encoder.dwarf import dies
    from encoder.dwarf.reader import Dwarf
    from encoder.dwarf.walk import walk_unit
    from fuzz.dwarfgen import base_int, cu, obj

    u = cu()
    base_int(u)
    u.die("typedef", attrs)
    u.end()
    path = tmp_path / "mismatch.o"
    path.write_bytes(obj([u]))
    with Dwarf.open(path) as dwarf:
        rec = [d for d in walk_unit(dwarf, next(dwarf.units())).dies
               if d[dies.F_TAG] == 0x16][0]
    assert rec[dies.F_NAME] is None or isinstance(rec[dies.F_NAME], str)
    assert rec[dies.F_TYPE] is None or type(rec[dies.F_TYPE]) is int
    assert rec[dies.F_BYTE_SIZE] is None or type(rec[dies.F_BYTE_SIZE]) is int
    assert rec[dies.F_DECLARATION] in (None, True, False)
    assert rec[dies.F_LOW_PC] is None or type(rec[dies.F_LOW_PC]) is int
