"""The ELF container: sections (decompressed, relocated), symbols, relocations.

`ElfFile` reads little-endian ELF32/ELF64 through `mmap` with `struct`;
pyelftools is not needed here (the tests use it as an oracle), except by
`sections.section_bytes` for the `.BTF` of a big-endian file.
"""

from .file import ElfFile, SectionHeader
from .consts import EM, ET, SHT, STB, STT

__all__ = ["ElfFile", "SectionHeader", "EM", "ET", "SHT", "STB", "STT"]
