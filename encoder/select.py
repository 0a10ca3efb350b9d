"""Which functions become FUNCs and which variables become VARs.

Both are decided by the ELF symbol table and by every unit together, so the
encoder collects candidates per unit and decides here, after dedup.  The
rules are pahole's; each skip has a reason that `-v` prints.

Functions come in two sets of rules; `Features.modern_funcs` picks one.

pahole 1.24 (`FunctionTable`; without `optimized_func`/`consistent_func`,
e.g. `--btf_features=var,float,decl_tag,type_tag,enum64`):
btf_encoder__encode_cu: not a declaration, every parameter named, and the
DWARF name is the name of an STT_FUNC symbol (when the ELF has none,
external functions only); the first unit that has a function by that name
wins.

Newer pahole (`ElfFunctionTable`; with `optimized_func` or
`consistent_func`, as `--btf_features=default`, which kbuild passes to
pahole >= 1.26; the rules of pahole's master of 2026-07, v1.31 plus
"only skip optimized parms when the ABI changed"):
- the ELF function table: every STT_FUNC symbol except `.cold`/`.part`
  ones (split-off pieces, not functions), keyed by its name up to the first
  '.', so `foo` and `foo.isra.0` are one entry; a key whose symbols sit at
  more than one address is ambiguous and never encoded (two static `foo` in
  two files, or a `foo` and a `foo.constprop.0` both kept), with pahole's
  quirks: an address 0 counts as none seen yet, and the last key in name
  order is never checked;
- every defining DW_TAG_subprogram with all parameters named whose DWARF
  name is a key leaves a state; the states of one key, from every unit,
  are merged: their flags (convert.py's FuncCandidate.flags) are OR-ed and,
  while none says "unexpected register" or "reordered", their prototypes
  must match loosely (same parameter count; types equal by kind and name,
  const ignored, pointers followed) or the function is "inconsistent";
- skip reasons, later ones winning (these are pahole's -v texts):
  unexpected register usage for parameter; inconsistent prototype (only
  with `consistent_func`); uncertain parameter location; reordered
  parameters; optimized parameters (the chosen state has optimized-out
  parameters and the ABI changed: clang's DW_CC_nocall, or a `.isra`/
  `.constprop` symbol at its address); ambiguous address;
- the state emitted is the first whose address is one of the key's symbol
  addresses and is not dropped for optimized parameters, else the first at
  such an address, else the first; the FUNC is named after the key.
  Symbol addresses are the raw st_value, as pahole reads them: in a
  relocatable file (.ko, .o) they are section offsets and DWARF addresses
  are placed as libdwfl places sections, so they (almost) never meet.

Variables (btf_encoder__encode_cu_variables): a defining, global-scope
variable whose address is a sized STT_OBJECT symbol of `.data..percpu`
(every section of data with `global_var`); named after the ELF symbol, with
section-relative offsets, one DATASEC per section, entries sorted by offset
and sized up to the last one's end.
"""

from __future__ import annotations

import re
from itertools import compress, islice

from .btf.kinds import Kind
from .btf.model import FuncProto
from .elf.consts import STT
from .graph.convert import (OPTIMIZED_PARMS, REORDERED_PARM, SIGNATURE_CHANGED,
                            UNCERTAIN_PARM_LOC, UNEXPECTED_REG, FuncCandidate, VarCandidate)
from .record import factory, record

PERCPU_SECTION = ".data..percpu"
KSYM_NAME_LEN = 128     # pahole's own limit for symbol names (btf_name_valid)
_BTF_NAME = re.compile(r"[A-Za-z_.][A-Za-z0-9_.]*\Z")


def btf_name_valid(name: str) -> bool:
    return len(name) < KSYM_NAME_LEN and bool(_BTF_NAME.match(name))


@record
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
        funcs = compress(islice(symbols.names(), 1, None),
                         islice(symbols.of_type_mask(STT.FUNC), 1, None))
        return cls(set(funcs) - {""})

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


# -- newer pahole (>= 1.26 features) ----------------------------------------------------

NOT_FUNCTIONS = (".cold", ".part")         # hot/cold splitting, partial inlining
ABI_CHANGING = (".constprop", ".isra")     # clones whose arguments differ from the source's
INCONSISTENT = 32                          # a state flag beside convert.py's


def _suffix_has(name: str, parts: tuple[str, ...]) -> bool:
    dot = name.find(".")
    return dot >= 0 and any(p in name[dot:] for p in parts)


def _ambiguous(addrs: list[int]) -> bool:
    """pahole's elf_function__has_ambiguous_address, quirk included: an
    address 0 is "not seen yet", so `[0, x]` is not ambiguous, `[x, 0]` is."""
    seen = 0
    for a in addrs:
        if seen and seen != a:
            return True
        seen = a
    return False


@record
class FuncState:
    """One unit's view of a function that has an ELF entry."""
    key: str
    cand: FuncCandidate
    proto: FuncProto            # canonical type ids
    unit: str | None
    flags: int
    optimized_symbol: bool      # its address is a .isra/.constprop symbol's

    @property
    def addr(self) -> int:
        return self.cand.low_pc or 0

    def skip_optimized(self) -> bool:
        """Optimized-out parameters where the ABI changed: BTF would lie."""
        return bool(self.flags & OPTIMIZED_PARMS) and \
            bool(self.flags & SIGNATURE_CHANGED or self.optimized_symbol)


class ElfFunctionTable:
    """Newer pahole's ELF function table: STT_FUNC symbols by name up to the
    first '.', `.cold`/`.part` ones left out (elf_functions__collect)."""

    def __init__(self, entries: dict[str, list[tuple[str, int]]]):
        self.entries = entries
        # pahole decides ambiguity while merging sorted entries and never for
        # the last key (elf_functions__collect); so do we.
        last = max(entries, default=None)
        self.ambiguous = {k for k, syms in entries.items()
                          if k != last and _ambiguous([a for _, a in syms])}

    @classmethod
    def from_symbols(cls, symbols) -> "ElfFunctionTable":
        entries: dict[str, list[tuple[str, int]]] = {}
        if symbols is not None:
            names = symbols.names()
            values = symbols.values
            for i in symbols.of_type(STT.FUNC):
                name = names[i]
                if _suffix_has(name, NOT_FUNCTIONS):
                    continue
                entries.setdefault(name.split(".", 1)[0], []).append((name, values[i]))
        return cls(entries)

    def lookup(self, f: FuncCandidate) -> str:
        """The key `f` files its state under; raises LookupError(reason) if none."""
        if f.declaration:
            raise LookupError("declaration")
        if f.own_proto is None and not f.named_params:
            raise LookupError("a parameter has no name")
        if not f.name:
            raise LookupError("no name")
        if not self.entries:
            raise LookupError("the ELF has no function symbols")
        if f.name not in self.entries:
            raise LookupError("not in the ELF functions table")
        return f.name

    def state(self, f: FuncCandidate, proto: FuncProto, unit: str | None) -> FuncState:
        key = f.name
        addr = f.low_pc or 0
        opt = bool(addr) and any(a == addr and _suffix_has(n, ABI_CHANGING)
                                 for n, a in self.entries[key])
        return FuncState(key, f, proto, unit, f.flags, opt)

    def merge(self, states: list[FuncState], btf, *, consistent: bool):
        """(key, the state to emit, skip reason or None) per key, keys sorted
        (btf_encoder__add_saved_funcs); a key with a reason is not encoded."""
        groups: dict[str, list[FuncState]] = {}
        for st in states:
            groups.setdefault(st.key, []).append(st)
        for key in sorted(groups):
            group = groups[key]
            flags = group[0].flags
            detail = None
            for other in group[1:]:
                flags |= other.flags
                if not flags & (UNEXPECTED_REG | INCONSISTENT | REORDERED_PARM):
                    detail = protos_mismatch(btf, group[0].proto, other.proto)
                    if detail is not None:
                        flags |= INCONSISTENT
            canonical = self.canonical(key, group)
            why = None
            if flags & UNEXPECTED_REG:
                why = "unexpected register usage for parameter"
            if consistent and flags & INCONSISTENT:
                why = f"inconsistent prototype ({detail})"
            if flags & UNCERTAIN_PARM_LOC:
                why = "uncertain parameter location"
            if flags & REORDERED_PARM:
                why = "reordered parameters"
            if canonical.skip_optimized():
                why = "optimized parameters"
            if key in self.ambiguous:
                why = "ambiguous address"
            yield key, canonical, why

    def canonical(self, key: str, group: list[FuncState]) -> FuncState:
        """The state pahole emits: at a symbol's address, best one whose
        parameters it need not drop the function for."""
        if len(group) == 1:
            return group[0]
        addrs = {a for _, a in self.entries[key]}
        first = None
        for st in group:
            if st.addr in addrs:
                if first is None:
                    first = st
                if not st.skip_optimized():
                    return st
        return first or group[0]


def protos_mismatch(btf, a: FuncProto, b: FuncProto) -> str | None:
    """None if two prototypes match as pahole's funcs__match has it, else how not."""
    if len(a.params) != len(b.params):
        return f"param count mismatch; {len(a.params)} params != {len(b.params)} params"
    if not types_match(btf, a.ret, b.ret):
        return "return type mismatch"
    for n, (p, q) in enumerate(zip(a.params, b.params), 1):
        if not types_match(btf, p.type, q.type):
            return f"param type mismatch for param#{n} {p.name} != {q.name}"
    return None


def _kind(t) -> Kind:
    if t.kind == Kind.FWD:
        return Kind.UNION if t.union else Kind.STRUCT
    return t.kind


_FOLLOWED = frozenset({Kind.PTR, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT, Kind.TYPE_TAG})
_BY_NAME = frozenset({Kind.TYPEDEF, Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64})


def types_match(btf, a: int, b: int, depth: int = 0) -> bool:
    """pahole's loose types__match: ints by size, encoding and name; floats by
    size and name; named kinds by name (a FWD as its struct or union);
    qualifiers, pointers, tags and arrays followed; a const on one side only
    is skipped."""
    for _ in range(256):
        if a == b:
            return True
        if not a or not b:
            return False
        t, u = btf[a], btf[b]
        k, m = _kind(t), _kind(u)
        if k != m:
            if k == Kind.CONST:
                a = t.type
                continue
            if m == Kind.CONST:
                b = u.type
                continue
            return False
        if k == Kind.INT:
            return (t.size, t.bits, int(t.encoding), t.offset, t.name) == \
                (u.size, u.bits, int(u.encoding), u.offset, u.name)
        if k == Kind.FLOAT:
            return t.size == u.size and t.name == u.name
        if k in _BY_NAME:
            return t.name == u.name
        if k in _FOLLOWED:
            a, b = t.type, u.type
        elif k == Kind.ARRAY:
            if t.nelems != u.nelems:
                return False
            a, b = t.type, u.type
        elif k == Kind.FUNC_PROTO:
            if len(t.params) != len(u.params) or depth > 16:
                return False
            if not types_match(btf, t.ret, u.ret, depth + 1):
                return False
            return all(types_match(btf, p.type, q.type, depth + 1)
                       for p, q in zip(t.params, u.params))
        else:
            return False
    return False


@record
class DataSection:
    """An ELF section whose variables get VARs: its symbols by address."""
    name: str
    index: int
    base: int                   # sh_addr: DWARF addresses are absolute
    size: int
    symbols: dict[int, tuple[str, int]] = factory(dict)  # offset -> (name, size)


# Names newer pahole never makes VARs of: "common prefixes and no useful
# values" (filter_variable_name); they matter once every section is in.
USELESS_VAR_PREFIXES = ("__UNIQUE_ID", "__tpstrtab_", "__exitcall_", "__gendwarfksyms_ptr_",
                        "__func_stack_frame_non_standard_")


class VariableTable:
    """The data sections and their sized object symbols."""

    def __init__(self, sections: list[DataSection], filter_names: bool = False):
        self.sections = sections
        self.filter_names = filter_names

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
        return cls(wanted, filter_names=all_sections)

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
                if self.filter_names and name.startswith(USELESS_VAR_PREFIXES):
                    return "a generated name (pahole's filter_variable_name)"
                if v.address == 0 and v.name != name:
                    return f"address 0 and the symbol there is '{name}'"
                if offset + size > 0xFFFFFFFF:
                    return f"{size} bytes at {offset:#x}: past what BTF's 32-bit offsets reach"
                return sec, offset, name, size
        return "no sized object symbol at its address in a selected section"
