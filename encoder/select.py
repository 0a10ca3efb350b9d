"""Which functions become FUNCs and which variables become VARs.

Both are decided by the ELF symbol table and by every unit together, so the
encoder collects candidates per unit and decides here, after dedup.  The
rules are pahole's; each skip has a reason that `-v` prints.

Functions (pahole 1.24, btf_encoder__encode_cu): not a declaration, every
parameter named, and the DWARF name is the name of an STT_FUNC symbol (when
the ELF has none, external functions only); the first unit that has a
function by that name wins.

Variables (btf_encoder__encode_cu_variables): a defining, global-scope
variable whose address is a sized STT_OBJECT symbol of `.data..percpu`
(every section of data with `global_var`); named after the ELF symbol, with
section-relative offsets, one DATASEC per section, entries sorted by offset
and sized up to the last one's end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .elf.consts import STT
from .graph.convert import FuncCandidate, VarCandidate

PERCPU_SECTION = ".data..percpu"
KSYM_NAME_LEN = 128     # pahole's own limit for symbol names (btf_name_valid)
_BTF_NAME = re.compile(r"[A-Za-z_.][A-Za-z0-9_.]*\Z")


def btf_name_valid(name: str) -> bool:
    return len(name) < KSYM_NAME_LEN and bool(_BTF_NAME.match(name))


@dataclass(slots=True)
class Skip:
    """One function or variable left out, and why (for -v)."""
    kind: str           # "function" | "variable"
    name: str
    reason: str
    unit: str | None = None

    def __str__(self) -> str:
        where = f" (CU {self.unit})" if self.unit else ""
        return f"skipping {self.kind} '{self.name}'{where}: {self.reason}"


class FunctionTable:
    """Names of the ELF's STT_FUNC symbols, each claimed at most once."""

    def __init__(self, names: set[str]):
        self.names = names
        self.generated: set[str] = set()

    @classmethod
    def from_symbols(cls, symbols) -> "FunctionTable":
        if symbols is None:
            return cls(set())
        names = symbols.names()
        types = symbols.types
        return cls({names[i] for i in range(1, len(names)) if types[i] == STT.FUNC and names[i]})

    def select(self, f: FuncCandidate) -> str | None:
        """None if `f` becomes a FUNC (and claim its name), else the reason not."""
        if f.declaration:
            return "declaration"
        if not f.named_params:
            return "a parameter has no name"
        if not f.name:
            return "no name"
        if self.names:
            if f.name not in self.names:
                return "no ELF function symbol of that name"
            if f.name in self.generated:
                return "already encoded from an earlier CU"
        elif not f.external:
            return "not external and the ELF has no function symbols"
        self.generated.add(f.name)
        return None


@dataclass(slots=True)
class DataSection:
    """An ELF section whose variables get VARs: its symbols by address."""
    name: str
    index: int
    base: int                   # sh_addr: DWARF addresses are absolute
    size: int
    symbols: dict[int, tuple[str, int]] = field(default_factory=dict)  # offset -> (name, size)


class VariableTable:
    """The data sections and their sized object symbols."""

    def __init__(self, sections: list[DataSection]):
        self.sections = sections

    @classmethod
    def from_elf(cls, elf, symbols, *, all_sections: bool, force: bool,
                 skips: list[Skip]) -> "VariableTable":
        wanted = []
        for h in elf.sections:
            if h.name == PERCPU_SECTION or (all_sections and h.type in (1, 8) and h.flags & 2):
                wanted.append(DataSection(h.name, h.index, elf.section_address(h.index), h.size))
        by_index = {s.index: s for s in wanted}
        if symbols is not None and by_index:
            names = symbols.names()
            for i in range(1, len(names)):
                sec = by_index.get(symbols.shndx[i])
                if sec is None or symbols.types[i] != STT.OBJECT or not symbols.sizes[i]:
                    continue
                name = names[i]
                if not btf_name_valid(name):
                    skips.append(Skip("variable", name, "invalid name for BTF"))
                    continue
                offset = symbols.values[i] - (0 if elf.is_relocatable else sec.base)
                sec.symbols.setdefault(offset, (name, symbols.sizes[i]))
        return cls(wanted)

    def place(self, v: VarCandidate) -> tuple[DataSection, int, str, int] | str:
        """(section, offset, ELF name, size) for a candidate, or why not."""
        if v.declaration and not v.has_spec:
            return "declaration"
        if v.address is None:
            return "not at a fixed address"
        for sec in self.sections:
            if sec.base <= v.address < sec.base + sec.size:
                offset = v.address - sec.base
                sym = sec.symbols.get(offset)
                if sym is None:
                    continue
                name, size = sym
                if v.address == 0 and v.name != name:
                    return f"address 0 and the symbol there is '{name}'"
                return sec, offset, name, size
        return "no sized object symbol at its address in a selected section"
