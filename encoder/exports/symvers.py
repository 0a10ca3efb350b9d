"""Module.symvers lines: what modpost writes for every export of a build.

One line per export, tab-separated (scripts/mod/modpost.c, write_dump):

    0x<crc, 8 hex digits>  <symbol>  <module>  <export type>  <namespace>

The CRC is 0x00000000 without MODVERSIONS; the module is `vmlinux` or the
module's path in the build tree without `.ko` (`fs/xfs/xfs`); the namespace
is empty when there is none.  An installed module sits under
`lib/modules/<release>/kernel/`, which is the build tree's layout, so the
path after `kernel/` is that name; anything else falls back to the file's
name (say `--module` to give it).
"""

from __future__ import annotations

from pathlib import PurePath

from ..elf.consts import ET
from ..record import record

INSTALL_DIRS = ("kernel", "updates", "extra")


@record(frozen=True)
class SymversLine:
    crc: int
    symbol: str
    module: str
    export_type: str
    namespace: str

    def __str__(self) -> str:
        return (f"0x{self.crc:08x}\t{self.symbol}\t{self.module}\t{self.export_type}\t"
                f"{self.namespace}")


def module_name(path: str, elf) -> str:
    """`vmlinux` for a kernel image, else the module's build-tree path."""
    if elf.e_type != ET.REL:
        return "vmlinux"
    p = PurePath(path)
    parts = p.parts[:-1]
    stem = p.name[:-3] if p.name.endswith(".ko") else p.stem
    for i in range(1, len(parts) - 1):
        if parts[i - 1:i + 1] == ("lib", "modules"):
            rest = parts[i + 2:]                  # after lib/modules/<release>/
            if rest and rest[0] in INSTALL_DIRS:
                rest = rest[1:]
            return "/".join((*rest, stem))
    if "kernel" in parts:
        return "/".join((*parts[parts.index("kernel") + 1:], stem))
    return stem


def lines(table, module: str) -> list[SymversLine]:
    """The Module.symvers lines of one file's ExportTable."""
    return [SymversLine(e.crc or 0, e.name, module, e.export_type, e.namespace)
            for e in table.exports]


def parse(text: str) -> list[SymversLine]:
    """A Module.symvers file back into lines (to compare against)."""
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        f = raw.split("\t")
        if len(f) < 4:
            raise ValueError(f"line {n}: {len(f)} fields, expected 5")
        out.append(SymversLine(int(f[0], 16), f[1], f[2], f[3], f[4] if len(f) > 4 else ""))
    return out
