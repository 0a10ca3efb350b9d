"""dwarf2btf: read DWARF from ELF files and write BTF, the job of `pahole -J`."""

__version__ = "0.1.0"
