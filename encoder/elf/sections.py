"""Section contents by name, for the few sections a command needs whole."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ..errors import ElfError


def section_bytes(path: str | Path, names: Iterable[str]) -> dict[str, bytes]:
    """The bytes of each named section present in the ELF file at `path`."""
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
