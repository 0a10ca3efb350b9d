"""One small exception hierarchy for everything a user can get wrong.

The command line turns any :class:`Dwarf2BtfError` into one line on stderr
and exit status 2; anything else is our bug (exit 1).  Each error names the
file, the section and the byte offset, so the line alone says where to look.
"""

from __future__ import annotations


class Dwarf2BtfError(Exception):
    """Bad input or a refused request: reported in one line, never a traceback."""

    def __init__(self, what: str, *, file: str | None = None,
                 section: str | None = None, offset: int | None = None):
        super().__init__(what)
        self.what = what
        self.file = file
        self.section = section
        self.offset = offset

    def located(self, *, file: str | None = None, section: str | None = None,
                offset: int | None = None) -> "Dwarf2BtfError":
        """Fill in the place where a lower layer did not know it; returns self."""
        if self.file is None:
            self.file = file
        if self.section is None:
            self.section = section
        if self.offset is None:
            self.offset = offset
        return self

    def moved(self, delta: int) -> "Dwarf2BtfError":
        """Shift the offset by `delta`, from a part's start to its container's."""
        if self.offset is not None:
            self.offset += delta
        return self

    def within(self, *, file: str, section: str | None) -> "Dwarf2BtfError":
        """Place an error found inside a blob that came from `section` of `file`."""
        self.file = file
        if section:
            self.section = f"{section} {self.section}" if self.section else section
        return self

    def __str__(self) -> str:
        where = [p for p in (self.file, self.section) if p]
        if self.offset is not None:
            where.append(f"offset {self.offset:#x}")
        return f"{': '.join(where)}: {self.what}" if where else self.what


class ElfError(Dwarf2BtfError):
    """The ELF container is malformed or lacks a section we need."""


class DwarfError(Dwarf2BtfError):
    """DWARF we cannot decode or do not support."""


class BtfError(Dwarf2BtfError):
    """BTF bytes that cannot be parsed."""


class BtfInvalid(BtfError):
    """BTF that parses but breaks a rule the kernel enforces."""
