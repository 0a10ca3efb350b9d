"""The regression inputs under fixtures/regress/: how each was made, what it broke.

Every crash, hang or bad message fuzzing found is kept as a small input
file there, with the outcome it must have now.  The files are committed
(the tests read them, they never rebuild them); this module is their
recipe book, so `python3 -m fuzz.regress --write` (from tests/) makes the
same bytes again, and `--check` says whether the committed ones still match.

`owner` says where the fix belongs: "readers" (fixed with the input's
commit), or "walk" for the DIE walk (encoder/dwarf/walk.py and its compiled
twin), whose fix is the walk's author's; the tests for those fail until it
is made, and say so.
"""

from __future__ import annotations

import argparse
import struct
import sys
from pathlib import Path
from typing import Callable, NamedTuple

from . import elfio
from .dwarfgen import FORM, base_int, cu, obj, uleb

REPO = Path(__file__).resolve().parents[2]
DIR = REPO / "fixtures" / "regress"
OBJ = REPO / "fixtures" / "obj"


class Regression(NamedTuple):
    name: str           # file name under fixtures/regress/
    family: str         # "elf", "dwarf", "btf"
    command: str
    expect: str         # "ok", or words the one-line refusal must contain
    before: str         # what happened before the fix
    owner: str          # "readers" or "walk"
    make: Callable[[], bytes] | None    # None: a committed compiler output (README)


def _fixture(name: str) -> bytes:
    return (OBJ / name).read_bytes()


# --- found by the ELF mutations -----------------------------------------------------------

def _bss_align() -> bytes:
    data = _fixture("fnptr_typedefs.gcc.dwarf5.o")
    return elfio.set_field(data, elfio.section(data, ".bss").index, "addralign", (1 << 64) - 1)


def _no_section_table() -> bytes:
    return elfio.set_ehdr(_fixture("arrays.clang.dwarf5.o"), "shoff", 0)


def _symbol_value_max() -> bytes:
    """Every symbol of .text given st_value 2**64-1 (the offline layout adds
    the section's address to it)."""
    data = bytearray(_fixture("kinds.gcc.dwarf5.o"))
    sym = elfio.section(bytes(data), ".symtab")
    text = elfio.section(bytes(data), ".text").index
    for at in range(sym.offset, sym.offset + sym.size, 24):
        if struct.unpack_from("<H", data, at + 6)[0] == text:
            struct.pack_into("<Q", data, at + 8, (1 << 64) - 1)
    return bytes(data)


def _symbol_size_huge() -> bytes:
    """A variable's st_size with 0xff in its fifth byte (and one relocation
    addend byte cleared): a VAR past 4 GB in its DATASEC (found by the loop
    campaign, case 19461 of seed 1)."""
    data = bytearray(_fixture("btf_tags.clang.dwarf5.o"))
    data[0x7F6] = 0x00          # in .rela.debug_info
    data[0x78D] = 0xFF          # in .symtab: byte 4 of an st_size
    return bytes(data)


def _empty_section_past_eof() -> bytes:
    """An empty .debug_str whose sh_offset is past the end of the file (found
    by the loop campaign, case 87597 of seed 1: the compiled walk refused the
    span with a ValueError)."""
    u = cu()
    base_int(u)
    u.end()
    data = obj([u])
    index = elfio.section(data, ".debug_str").index
    data = elfio.set_field(data, index, "size", 0)
    return elfio.set_field(data, index, "offset", len(data) + 0x100)


def _section_name_newline() -> bytes:
    """A section named "two\nlines" that runs past the end of the file: the
    name goes into the message (found by atheris, seven times)."""
    data = elfio.add_section(_fixture("kinds.gcc.dwarf5.o"), "two\nlines", b"x" * 16)
    return elfio.set_field(data, elfio.layout(data).shnum - 1, "size", 1 << 20)


def _debug_str_moved() -> bytes:
    """.debug_str's sh_offset moved onto other bytes: names full of control
    characters, one of them a newline."""
    data = _fixture("static_dup.clang.dwarf4.o")
    return elfio.set_field(data, elfio.section(data, ".debug_str").index, "offset", 0xD50)


def _btf_offset_2_62() -> bytes:
    """An object carrying .BTF, whose header puts it at offset 2**62 (found by
    atheris: pyelftools' seek failed with an OSError, taken for an I/O error)."""
    host = _fixture("kinds.gcc.dwarf5.o")
    data = elfio.add_section(host, ".BTF", _fixture("kinds.gcc.dwarf5.btf"))
    return elfio.set_field(data, elfio.section(data, ".BTF").index, "offset", 1 << 62)


# --- found by the DWARF mutations (rebuilt small with dwarfgen) ------------------------------

def _typedef(attrs) -> bytes:
    u = cu()
    i = base_int(u)
    u.die("typedef", attrs(i))
    u.end()
    return obj([u])


def _name_data4() -> bytes:
    return _typedef(lambda i: [("name", "data4", 7), ("type", "ref4", i)])


def _type_string() -> bytes:
    return _typedef(lambda i: [("name", "string", "t"), ("type", "string", "int")])


def _name_newline() -> bytes:
    return _typedef(lambda i: [("name", "string", "two\nlines"), ("type", "ref4", i)])


def _unknown_tag() -> bytes:
    """A typedef of a DIE with tag 0x53, which no DWARF version defines."""
    u = cu()
    odd = u.die(0x53, [("name", "string", "odd")])
    u.die("typedef", [("name", "string", "t"), ("type", "ref4", odd)])
    u.end()
    return obj([u])


def _bitfield_before_start() -> bytes:
    """A DWARF 4 bitfield whose DW_AT_bit_offset puts it before its struct."""
    u = cu(version=4)
    i = base_int(u)
    u.die("structure_type", [("name", "string", "s"), ("byte_size", "data1", 4)], children=True)
    u.die("member", [("name", "string", "b"), ("type", "ref4", i), ("byte_size", "data1", 4),
                     ("bit_size", "data1", 3), ("bit_offset", "data1", 40),
                     ("data_member_location", "data1", 0)])
    u.end()
    u.end()
    return obj([u])


def _plus_uconst_cut() -> bytes:
    """DW_AT_data_member_location = DW_OP_plus_uconst with its ULEB128 cut off."""
    u = cu()
    i = base_int(u)
    u.die("structure_type", [("name", "string", "s"), ("byte_size", "data1", 4)], children=True)
    u.die("member", [("name", "string", "m"), ("type", "ref4", i),
                     ("data_member_location", "exprloc", b"\x23\x80")])
    u.end()
    u.end()
    return obj([u])


# --- the DIE walk's (see the module docstring) -----------------------------------------------

def _indirect_name_data4() -> bytes:
    """DW_AT_name through DW_FORM_indirect naming DW_FORM_data4: an int where
    the walk promises a str."""
    u = cu()
    u.die("base_type", [("name", "indirect", uleb(FORM["data4"]) + struct.pack("<I", 7)),
                        ("byte_size", "data1", 4), ("encoding", "data1", 5)])
    u.end()
    return obj([u])


def _block_length_2_64() -> bytes:
    """A DW_FORM_exprloc of length 2**64 (a 10-byte ULEB128) in a kept DIE."""
    u = cu()
    i = base_int(u)
    u.die("variable", [("name", "string", "v"), ("type", "ref4", i),
                       ("location", "exprloc", b"")])
    u.body[-1:] = uleb(1 << 64)
    u.end()
    return obj([u])


REGRESSIONS = [
    Regression("elf-bss-align-max.o", "elf", "encode", "power of two",
               "internal error (OverflowError laying out sections)", "readers", _bss_align),
    Regression("elf-no-section-table.o", "elf", "encode", ".debug_info is missing",
               "internal error (AttributeError: no _dups)", "readers", _no_section_table),
    Regression("elf-symbol-value-max.o", "elf", "encode", "ok",
               "internal error (OverflowError adding the section address)", "readers",
               _symbol_value_max),
    Regression("elf-symbol-size-huge.o", "elf", "encode", "ok",
               "internal error (OverflowError writing a DATASEC entry)", "readers",
               _symbol_size_huge),
    Regression("elf-empty-section-past-eof.o", "elf", "encode", "ok",
               "internal error (ValueError: section span outside its buffer)", "readers",
               _empty_section_past_eof),
    Regression("elf-section-name-newline.o", "elf", "encode", "two\\nlines",
               "a refusal of two lines (the section's name in it)", "readers",
               _section_name_newline),
    Regression("elf-debug-str-moved.o", "elf", "encode", "Invalid name",
               "a refusal of two lines (a name with a newline in the message)", "readers",
               _debug_str_moved),
    Regression("elf-btf-offset-2-62.o", "btf", "verify", "runs past the end of the file",
               "internal error in `verify` (OSError from pyelftools' seek); `dump` said "
               "'cannot read: Invalid argument'", "readers", _btf_offset_2_62),
    Regression("dwarf-name-data4.o", "dwarf", "encode", "Invalid name",
               "internal error (an int as a name reached the string table)", "readers",
               _name_data4),
    Regression("dwarf-type-string.o", "dwarf", "encode", "ok",
               "internal error (a str as a type reference)", "readers", _type_string),
    Regression("dwarf-name-newline.o", "dwarf", "encode", "Invalid name",
               "a refusal of two lines", "readers", _name_newline),
    Regression("dwarf-unknown-tag.o", "dwarf", "encode", "ok",
               "internal error (ValueError naming tag 0x53)", "readers", _unknown_tag),
    Regression("dwarf-bitfield-before-start.o", "dwarf", "encode", "does not fit",
               "internal error (OverflowError: negative offset in the writer)", "readers",
               _bitfield_before_start),
    Regression("dwarf-plus-uconst-cut.o", "dwarf", "encode", "ok",
               "internal error (IndexError reading the operand)", "readers", _plus_uconst_cut),
    Regression("dwarf-split4-gcc.o", "dwarf", "encode", "split DWARF",
               "a confusing refusal ('No type found' about the output)", "readers", None),
    Regression("walk-indirect-name-data4.o", "dwarf", "encode", "ok",
               "internal error (an int as a name reached the string table)", "walk",
               _indirect_name_data4),
    Regression("walk-block-length-2-64.o", "dwarf", "encode", "past the end",
               "the compiled walk reads the length as 0 and goes on; walk.py refuses",
               "walk", _block_length_2_64),
]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="write or check fixtures/regress/")
    p.add_argument("--write", action="store_true")
    args = p.parse_args(argv)
    bad = 0
    for r in REGRESSIONS:
        if r.make is None:
            continue
        data = r.make()
        path = DIR / r.name
        if args.write:
            path.write_bytes(data)
        elif not path.exists() or path.read_bytes() != data:
            print(f"{path}: differs from its recipe")
            bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
