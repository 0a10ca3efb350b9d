"""Section contents by name, for the few sections a command needs whole."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ..errors import ElfError
from .consts import ELFDATA2MSB
from .file import ElfFile


def section_bytes(path: str | Path, names: Iterable[str]) -> dict[str, bytes]:
    """The bytes of each named section present in the ELF file at `path`,
    as stored (a BTF reader wants `.BTF` whatever the file's class)."""
    with open(path, "rb") as f:
        big = f.read(6)[5:] == bytes([ELFDATA2MSB])
    if big:
        return _big_endian(path, names)
    with ElfFile(path, place_sections=False) as elf:
        return {n: bytes(elf.section(n, relocate=False)) for n in names
                if elf.header(n) is not None}


def _big_endian(path: str | Path, names: Iterable[str]) -> dict[str, bytes]:
    """ElfFile reads little-endian ELF only; BTF of a big-endian target (s390)
    is still BTF we can read."""
    from elftools.elf.elffile import ELFFile

    wanted = set(names)
    try:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            return {s.name: s.data() for s in elf.iter_sections() if s.name in wanted}
    except OSError:
        raise
    except Exception as e:  # pyelftools reports bad input through many types
        raise ElfError(f"malformed ELF: {e}", file=str(path)) from None
