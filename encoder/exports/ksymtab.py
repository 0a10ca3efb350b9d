"""The kernel's export table: `__ksymtab*`, `__kcrctab*`, `__kflagstab`.

Every `EXPORT_SYMBOL*` of a vmlinux or a module ends up as one entry of
`struct kernel_symbol` in `__ksymtab` (or `__ksymtab_gpl`), sorted by name
(research/anchors.md §5).  Since 6.5 the entries are written by modpost
rather than by the macro, but the linked layout is the same.  An entry is

  PREL32 arches (x86, arm64, ...)   {s32 value, s32 name[, s32 namespace]}
                                    each relative to its own field: 12 bytes
                                    (8 before namespaces, 4.19-5.3)
  the others                        {ptr value, ptr name[, ptr namespace]}

We do not trust the machine to say which: every layout whose size divides
the section is decoded, and the first whose every name lands in
`__ksymtab_strings` wins.  A namespace that is a null offset, points outside
the strings or at "" means none.

A vmlinux has its relocations applied (the `.rela__ksymtab` of a kernel
linked with --emit-relocs are history, not work).  In a `.ko` the fields
hold addends; the section's relocations are applied in bulk against the
ELF layer's section layout (elf/relocs.py), which makes the arithmetic the
same as for vmlinux.  When no layout decodes, the local labels
`__ksymtab_<name>` at each entry still name it (no value, no namespace).

CRCs (MODVERSIONS) are one u32 per entry in the matching `__kcrctab*`, in
the same order; `__crc_<name>` labels are the fallback.  The 2026
`__kflagstab` holds one flag byte per `__ksymtab` entry, bit 0 = GPL-only.
"""

from __future__ import annotations

import struct

from ..elf.consts import SHN_ABS, STT
from ..errors import ElfError
from ..record import factory, record

STRINGS = "__ksymtab_strings"
FLAGSTAB = "__kflagstab"
KSYM_FLAG_GPL_ONLY = 1

# Entry section -> (CRC section, Module.symvers export type, GPL-only).
# The _future and _unused kinds were removed in 5.13 but old kernels have them.
SECTIONS = {
    "__ksymtab": ("__kcrctab", "EXPORT_SYMBOL", False),
    "__ksymtab_gpl": ("__kcrctab_gpl", "EXPORT_SYMBOL_GPL", True),
    "__ksymtab_gpl_future": ("__kcrctab_gpl_future", "EXPORT_SYMBOL_GPL_FUTURE", False),
    "__ksymtab_unused": ("__kcrctab_unused", "EXPORT_UNUSED_SYMBOL", False),
    "__ksymtab_unused_gpl": ("__kcrctab_unused_gpl", "EXPORT_UNUSED_SYMBOL_GPL", True),
}
GPL_TYPE = "EXPORT_SYMBOL_GPL"


@record(frozen=True)
class Layout:
    """One shape of `struct kernel_symbol`."""
    name: str
    relative: bool          # PREL32 fields, else absolute pointers
    fields: int             # 2 (value, name) or 3 (+ namespace)
    word: int               # bytes per field

    @property
    def size(self) -> int:
        return self.fields * self.word


def _layouts(pointer_size: int) -> list[Layout]:
    out = [Layout("prel32+ns", True, 3, 4), Layout("prel32", True, 2, 4)]
    return out + [Layout(f"abs{8 * pointer_size}+ns", False, 3, pointer_size),
                  Layout(f"abs{8 * pointer_size}", False, 2, pointer_size)]


@record
class Export:
    """One exported symbol."""
    name: str
    export_type: str        # EXPORT_SYMBOL, EXPORT_SYMBOL_GPL, ...
    namespace: str          # "" = none
    crc: int | None         # None without MODVERSIONS
    address: int | None     # of the exported object (ELF layout); None if unknown
    section: str            # the __ksymtab* section of its entry
    index: int              # its entry's number in that section
    kind: str = "unknown"   # "func" or "object": the ELF symbol there

    @property
    def gpl_only(self) -> bool:
        return self.export_type in (GPL_TYPE, "EXPORT_UNUSED_SYMBOL_GPL")


@record
class ExportTable:
    """All exports of one ELF file, in section then entry order."""
    exports: list[Export] = factory(list)
    layout: str | None = None       # the entry layout that decoded, or "labels"
    has_crcs: bool = False
    has_flagstab: bool = False
    warnings: list[str] = factory(list)

    def by_name(self) -> dict[str, Export]:
        return {e.name: e for e in self.exports}


class _Section:
    """A section's bytes (relocated in an ET_REL file) and its address."""

    def __init__(self, elf, name: str):
        self.elf = elf
        self.header = h = elf.header(name)
        self.name = name
        self.address = elf.section_address(h.index)
        data = None
        if elf.is_relocatable:
            from ..elf.relocs import relocate_section
            data = relocate_section(elf, h, elf.section(name, relocate=False))
        if data is None:
            data = elf.section(name, relocate=False) or b""
        self.data = bytes(data)

    def __len__(self) -> int:
        return len(self.data)

    def string_at(self, address: int) -> str | None:
        """The NUL-terminated string at `address`, None if not inside."""
        off = address - self.address
        if not 0 <= off < len(self.data):
            return None
        end = self.data.find(b"\0", off)
        if end < 0:
            return None
        return self.data[off:end].decode("utf-8", "replace")

    def error(self, what: str, offset: int | None = None) -> ElfError:
        return ElfError(what, file=self.elf.path, section=self.name, offset=offset)


def read_exports(elf, symbols=None) -> ExportTable:
    """Every export of `elf` (an ElfFile: vmlinux or a module)."""
    table = ExportTable()
    present = [n for n in SECTIONS if elf.header(n) is not None]
    if not present:
        return table
    if symbols is None:
        symbols = elf.symbols()
    labels = _Labels(elf, symbols)
    strings = _Section(elf, STRINGS) if elf.header(STRINGS) is not None else None
    for name in present:
        sec = _Section(elf, name)
        if not len(sec):
            continue
        crc_name, export_type, _ = SECTIONS[name]
        entries = None
        if strings is not None:
            entries, layout = _decode(sec, strings, elf.address_size, labels.entry_at)
            if entries is not None:
                table.layout = layout.name
        if entries is None:
            entries = labels.entries(sec)
            if not entries:
                if strings is None:
                    raise sec.error(f"exports without a {STRINGS} section to name them")
                raise sec.error("no entry layout (PREL32 or pointers, with or without a "
                                f"namespace) resolves every name into {STRINGS}, and no "
                                "__ksymtab_<name> labels name the entries", offset=0)
            table.layout = "labels"
            table.warnings.append(f"{name}: entries named by their __ksymtab_<name> labels; "
                                  "values and namespaces unknown")
        crcs = _crcs(elf, crc_name, [e[1] for e in entries], labels, table)
        for i, (value, ename, ns) in enumerate(entries):
            table.exports.append(Export(ename, export_type, ns, crcs[i] if crcs else None,
                                        value, name, i))
    _apply_flagstab(elf, table, labels)
    for e in table.exports:
        e.kind = labels.kind(e.name, e.address)
    return table


def _plausible(name: str | None) -> bool:
    return bool(name) and name.isprintable() and " " not in name


def _decode(sec: _Section, strings: _Section, pointer_size: int, entry_at):
    """([(value, name, namespace)], layout) for the first layout that names
    every entry (and puts it where its `__ksymtab_<name>` label, if any,
    says it is), else (None, None)."""
    data = sec.data
    for lay in _layouts(pointer_size):
        if len(data) % lay.size:
            continue
        fmt = "<" + ("i" if lay.relative else ("Q" if lay.word == 8 else "I")) * lay.fields
        out = []
        for i, fields in enumerate(struct.iter_unpack(fmt, data)):
            at = sec.address + i * lay.size
            if lay.relative:
                targets = [at + k * 4 + v if v else 0 for k, v in enumerate(fields)]
            else:
                targets = list(fields)
            name = strings.string_at(targets[1])
            if not _plausible(name) or entry_at(name, sec) not in (None, at):
                break
            ns = ""
            if lay.fields == 3 and targets[2]:
                ns = strings.string_at(targets[2]) or ""
            out.append((targets[0], name, ns))
        else:
            return out, lay
    return None, None


def _crcs(elf, crc_name: str, names: list[str], labels: "_Labels",
          table: ExportTable) -> list[int] | None:
    """One CRC per entry from `crc_name`, or None when the kernel has none."""
    if elf.header(crc_name) is None:
        return None
    table.has_crcs = True
    sec = _Section(elf, crc_name)
    if len(sec) == 4 * len(names):
        return list(struct.unpack(f"<{len(names)}I", sec.data))
    out = []
    for n in names:
        crc = labels.crc(n, sec)
        if crc is None:
            raise sec.error(f"{len(sec)} bytes for {len(names)} exports, and no __crc_{n} "
                            "label to find its CRC by")
        out.append(crc)
    table.warnings.append(f"{crc_name}: {len(sec)} bytes for {len(names)} entries; "
                          "CRCs taken from the __crc_<name> labels")
    return out


def _apply_flagstab(elf, table: ExportTable, labels: "_Labels") -> None:
    """`__kflagstab`: one byte per `__ksymtab` entry (the loader indexes it
    by entry number); bit 0 makes the export GPL-only."""
    if elf.header(FLAGSTAB) is None:
        return
    table.has_flagstab = True
    sec = _Section(elf, FLAGSTAB)
    plain = [e for e in table.exports if e.section == "__ksymtab"]
    for e in plain:
        if len(sec) == len(plain):
            flags = sec.data[e.index]
        else:
            flags = labels.flags(e.name, sec)
            if flags is None:
                raise sec.error(f"{len(sec)} flag bytes for {len(plain)} __ksymtab entries, "
                                f"and no __flags_{e.name} label")
        if flags & KSYM_FLAG_GPL_ONLY:
            e.export_type = GPL_TYPE


class _Labels:
    """The symbols that describe exports: `__ksymtab_<name>`, `__crc_<name>`,
    `__flags_<name>`, and each name's own symbols (for func vs object)."""

    PREFIXES = ("__ksymtab_", "__crc_", "__flags_")

    def __init__(self, elf, symbols):
        self.elf = elf
        self.by_prefix: dict[str, dict[str, int]] = {p: {} for p in self.PREFIXES}
        self.own: dict[str, list[tuple[int, int]]] = {}     # name -> [(address, STT)]
        if symbols is None:
            return
        names = symbols.names()
        # ElfFile.symbol_addresses places ET_REL sections; an executable's
        # values are addresses already.
        addrs = elf.symbol_addresses(elf.header(symbols.section).index) \
            if elf.is_relocatable else symbols.values
        types = symbols.types
        for i in range(1, len(names)):
            n = names[i]
            if n.startswith("__"):
                for p in self.PREFIXES:
                    if n.startswith(p):
                        self.by_prefix[p].setdefault(n[len(p):], i)
            if types[i] in (STT.FUNC, STT.OBJECT):
                self.own.setdefault(n, []).append((addrs[i], types[i]))
        self.symbols = symbols
        self.addrs = addrs

    def entries(self, sec: _Section) -> list[tuple[None, str, str]]:
        """(None, name, "") per `__ksymtab_<name>` label inside `sec`, by address."""
        idx = sec.header.index
        found = [(self.addrs[i], n) for n, i in self.by_prefix["__ksymtab_"].items()
                 if self.symbols.shndx[i] == idx]
        return [(None, n, "") for _, n in sorted(found)]

    def entry_at(self, name: str, sec: _Section) -> int | None:
        """Where the `__ksymtab_<name>` label puts the entry, if in `sec`."""
        i = self.by_prefix["__ksymtab_"].get(name)
        if i is None or self.symbols.shndx[i] != sec.header.index:
            return None
        return self.addrs[i]

    def _u(self, prefix: str, name: str, sec: _Section, width: int) -> int | None:
        i = self.by_prefix[prefix].get(name)
        if i is None:
            return None
        if self.symbols.shndx[i] == SHN_ABS:            # pre-5.19: the CRC is the value
            return self.symbols.values[i]
        off = self.addrs[i] - sec.address
        if self.symbols.shndx[i] != sec.header.index or not 0 <= off <= len(sec) - width:
            return None
        return int.from_bytes(sec.data[off:off + width], "little")

    def crc(self, name: str, sec: _Section) -> int | None:
        return self._u("__crc_", name, sec, 4)

    def flags(self, name: str, sec: _Section) -> int | None:
        return self._u("__flags_", name, sec, 1)

    def kind(self, name: str, address: int | None) -> str:
        syms = self.own.get(name, ())
        hit = [t for a, t in syms if a == address] or [t for _, t in syms]
        if not hit:
            return "unknown"
        return "func" if STT.FUNC in hit else "object"
