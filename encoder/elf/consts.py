"""ELF numbers this package uses (from the System V gABI and the psABIs)."""

from __future__ import annotations

from enum import IntEnum

ELF_MAGIC = b"\x7fELF"

ELFCLASS32 = 1
ELFCLASS64 = 2
ELFDATA2LSB = 1
ELFDATA2MSB = 2


class ET(IntEnum):
    """e_type."""
    NONE = 0
    REL = 1
    EXEC = 2
    DYN = 3
    CORE = 4


class EM(IntEnum):
    """e_machine, the few we name (any other number is kept as an int)."""
    NONE = 0
    I386 = 3
    ARM = 40
    X86_64 = 62
    AARCH64 = 183
    BPF = 247
    RISCV = 243
    LOONGARCH = 258


class SHT(IntEnum):
    """sh_type."""
    NULL = 0
    PROGBITS = 1
    SYMTAB = 2
    STRTAB = 3
    RELA = 4
    HASH = 5
    DYNAMIC = 6
    NOTE = 7
    NOBITS = 8
    REL = 9
    DYNSYM = 11
    GROUP = 17
    SYMTAB_SHNDX = 18


SHF_ALLOC = 0x2
SHF_INFO_LINK = 0x40
SHF_GROUP = 0x200
SHF_COMPRESSED = 0x800

SHN_UNDEF = 0
SHN_LORESERVE = 0xFF00
SHN_ABS = 0xFFF1
SHN_COMMON = 0xFFF2
SHN_XINDEX = 0xFFFF

ELFCOMPRESS_ZLIB = 1
ELFCOMPRESS_ZSTD = 2


class STT(IntEnum):
    """Symbol type (low nibble of st_info)."""
    NOTYPE = 0
    OBJECT = 1
    FUNC = 2
    SECTION = 3
    FILE = 4
    COMMON = 5
    TLS = 6
    GNU_IFUNC = 10


class STB(IntEnum):
    """Symbol binding (high nibble of st_info)."""
    LOCAL = 0
    GLOBAL = 1
    WEAK = 2
    GNU_UNIQUE = 10


# Relocation types that may appear in debug sections, per machine:
# type -> (name, how, width, range).  how: "none", "abs" (S + A), "pc" (S + A - P);
# range: "u" the result must fit unsigned, "s" signed, "x" either.
# Anything else is refused with the machine and the type named.
RELOCATIONS: dict[int, dict[int, tuple[str, str, int, str]]] = {
    EM.X86_64: {
        0: ("R_X86_64_NONE", "none", 0, "x"),
        1: ("R_X86_64_64", "abs", 8, "x"),
        2: ("R_X86_64_PC32", "pc", 4, "s"),
        10: ("R_X86_64_32", "abs", 4, "u"),
        11: ("R_X86_64_32S", "abs", 4, "s"),
        # TLS variables' locations (DW_OP_const*u x@dtpoff): the offset in the
        # TLS block, which in ET_REL is the symbol value plus the addend.
        17: ("R_X86_64_DTPOFF64", "abs", 8, "x"),
        21: ("R_X86_64_DTPOFF32", "abs", 4, "s"),
        24: ("R_X86_64_PC64", "pc", 8, "x"),
    },
    EM.I386: {
        0: ("R_386_NONE", "none", 0, "x"),
        1: ("R_386_32", "abs", 4, "x"),
        2: ("R_386_PC32", "pc", 4, "x"),
    },
    EM.AARCH64: {
        0: ("R_AARCH64_NONE", "none", 0, "x"),
        256: ("R_AARCH64_NONE", "none", 0, "x"),    # the withdrawn number, still seen
        257: ("R_AARCH64_ABS64", "abs", 8, "x"),
        258: ("R_AARCH64_ABS32", "abs", 4, "x"),
        260: ("R_AARCH64_PREL64", "pc", 8, "x"),
        261: ("R_AARCH64_PREL32", "pc", 4, "x"),
        1029: ("R_AARCH64_TLS_DTPREL64", "abs", 8, "x"),
    },
}
