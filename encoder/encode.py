"""The encoding pipeline: an ELF file's DWARF in, one deduplicated BTF out.

  units --walk--> DIE records --convert--> unit types + candidates
        --dedup.add_unit--> (per unit, streamed)
  dedup.finish --> canonical types --select--> + FUNC_PROTO/FUNC, VAR, DATASEC

Units are walked and converted in worker processes with `jobs > 1`, but
always handed to dedup in unit order, so the output is the same bytes for
any number of jobs.  Only the compact per-unit results cross processes.
"""

from __future__ import annotations

import array
from typing import Callable, Iterator

from dedup.compact import FUNC, FUNC_PROTO, compact_unit, from_compact, to_compact
from dedup.deduper import base_index

from .btf.kinds import FuncLinkage, VarLinkage
from .btf.model import (Btf, Datasec, DeclTag, Enum, Enum64, Func, FuncProto, Fwd, Param,
                        Struct, Typedef, Union, Var, VarSecinfo)
from .btf.perbase import PerBase
from .dwarf.constants import Lang
from .exports.tags import tag_candidates
from .features import Features
from .learned import Learning, first_ids, known_ids
from .graph.convert import FuncCandidate, Options, UnitTypes, VarCandidate, convert
from .record import factory, record
from .select import ElfFunctionTable, FunctionTable, Skip, VariableTable

RUST_LANGS = frozenset({Lang.Rust})


@record
class Request:
    """What to encode and how."""
    path: str
    base: Btf | None = None
    features: Features = factory(Features)
    jobs: int = 1
    lang_exclude: frozenset[int] = frozenset()
    # Skip types earlier units described identically (compiled walk only);
    # off, every unit is converted in full: the same output, slower.
    signatures: bool = True


@record
class Result:
    btf: Btf
    skips: list[Skip]
    warnings: list[str]
    units: int = 0


def _options(features: Features, elf) -> Options:
    return Options(float=features.float, type_tag=features.type_tag,
                   decl_tag=features.decl_tag, enum64=features.enum64,
                   little_endian=True, pointer_size=8 if elf.is64 else 4,
                   func_facts=features.modern_funcs, machine=int(elf.machine))


# With the compiled walk, a unit's own types are numbered from UNIT_FIRST and
# the types earlier units described identically (same signature) are not
# converted again: the unit refers to them as KNOWN_FIRST + k.
UNIT_FIRST = 1 << 30
KNOWN_FIRST = 1 << 29


@record
class Signing:
    """What signing units needs (compiled walk only): the signatures handed
    out so far, pass 1's names (fast.names) and the ELF's function names."""
    seen: object
    names: object
    funcs: set[str] | None


def _convert_unit(dwarf, unit, first_id: int, opts: Options,
                  lang_exclude: frozenset[int], signing: Signing | None = None,
                  variables: VariableTable | None = None) -> UnitTypes | None:
    """Walk and convert one unit; None if its language is excluded.  With
    `signing`, only types whose signature it has not seen are converted, and
    it learns theirs.  Candidates nothing can select (function declarations,
    variables `variables` cannot place) are dropped here, before a worker
    ships them: in vmlinux that is 99 % of the variables."""
    from .dwarf.fast import walk_unit
    dies = walk_unit(dwarf, unit)
    if dies.language in lang_exclude:
        return None
    recs = dies.dies
    todo = known = None
    if signing is not None and hasattr(recs, "classify"):
        todo = recs.classify(signing.seen, 0, signing.names, signing.funcs)
        known = recs.sig
    addr_base = dies.addr_base

    def addrx(index: int) -> int:
        return dwarf.address(addr_base or 8, index, unit.address_size)

    def loclist(offset: int) -> list[bytes]:
        from .dwarf.loclists import location_list
        return [e.expr for e in location_list(dwarf, dies, offset)]

    ut = convert(recs, dies.index(), first_id=first_id, opts=opts, name=dies.name,
                 addrx=addrx, producer=dies.producer, loclist=loclist, todo=todo,
                 known=known, known_first=KNOWN_FIRST, compact=True)
    ut.funcs = [f for f in ut.funcs if not f.declaration]
    if variables is not None:
        ut.vars = [v for v in ut.vars if not isinstance(variables.place(v), str)]
    return ut


def _names_of(base: Btf) -> set[str]:
    """Names of the aggregates, enums, declarations and typedefs of `base`
    and its own bases."""
    return {t.name for level in base.levels() for t in level.types
            if t.name and isinstance(t, (Struct, Union, Enum, Enum64, Fwd, Typedef))}


def _name_keys_of(base: Btf):
    """pass 1's keys of the base's names (fast.name_keys), or None without
    the compiled walk."""
    from .dwarf import fast
    return fast.name_keys(sorted(_names_of(base))) if fast.available() else None


def _load_name_keys(state, base):
    from .dwarf import fast
    return fast.SigSet(state) if state is not None and fast.available() else None


# hashed once per base, not once per module
_name_keys = PerBase("name_keys", _name_keys_of,
                     save=lambda keys: keys.dump() if keys is not None else None,
                     load=_load_name_keys)


def _base_names(base: Btf | None):
    """What pass 1 never cuts at: the base's names, as fast.names takes them."""
    return _name_keys(base) if base is not None else ()


# --- worker processes ------------------------------------------------------------

# Below this much DWARF, forking workers costs more than they save (a
# module: kbuild passes -j to every one; signed, xt_DSCP.ko took 0.14 ->
# 0.18 s with a pool and xfs.ko was no faster); vmlinux has 160 MB.
PARALLEL_MIN_BYTES = 32 << 20


def _jobs(req: Request, units: list, signed: bool = True) -> int:
    """How many processes the units are worth (converting every type in
    full, without signatures, is worth them sooner)."""
    if req.jobs <= 1 or len(units) < 2:
        return 1
    if not signed or sum(u.end - u.offset for u in units) >= PARALLEL_MIN_BYTES:
        return req.jobs
    return 1


def _unit_results(req: Request, dwarf, first_id: int, opts: Options,
                  signing: Signing | None, variables: VariableTable) -> Iterator:
    """(unit, UnitTypes | None) in unit order, from this process or forked
    workers (forked.ordered).

    Workers take units in order, a few at a time, and each skips the types
    it has itself converted before: a worker's SigSet is its own copy of
    the parent's before the first unit (the signatures learned from earlier
    modules), so a signature it knows came from an earlier unit, which the
    parent adds first.  What two workers both saw
    first is converted twice and merged by dedup, so the output does not
    depend on the number of jobs."""
    units = list(dwarf.units())

    def one(unit) -> UnitTypes | None:
        return _convert_unit(dwarf, unit, first_id, opts, req.lang_exclude, signing, variables)

    jobs = _jobs(req, units, signing is not None)
    if jobs <= 1:
        for unit in units:
            yield unit, one(unit)
        return
    from .forked import ordered
    yield from ordered(one, units, jobs)


# --- the pipeline ---------------------------------------------------------------------

def encode(req: Request, progress: Callable[[int, int], None] | None = None) -> Result:
    """Encode `req.path`; raises Dwarf2BtfError for bad input."""
    from dedup import Deduper
    from .dwarf.reader import Dwarf

    with Dwarf.open(req.path) as dwarf:
        elf = dwarf.elf
        feats = req.features
        opts = _options(feats, elf)
        from .dwarf import fast
        signed = req.signatures and fast.available()
        first_id = UNIT_FIRST if signed else \
            req.base.type_count if req.base is not None else 1
        symbols = elf.symbols()
        skips: list[Skip] = []
        functions = ElfFunctionTable.from_symbols(symbols) if feats.modern_funcs \
            else FunctionTable.from_symbols(symbols)
        variables = VariableTable.from_elf(elf, symbols, all_sections=feats.global_var,
                                           force=feats.encode_force, skips=skips) \
            if feats.var or feats.global_var else VariableTable([])
        deduper = Deduper(req.base, jobs=req.jobs)
        funcs: list[tuple[int, FuncCandidate, str | None]] = []
        vars_: list[tuple[int, VarCandidate, str | None]] = []
        warnings: list[str] = []
        sig2id: dict[bytes, int] = {}      # type signature -> store id
        learned: dict[bytes, int] = {}     # the same, from earlier modules (not copied)
        signing = learning = None
        if signed:
            if req.base is not None:
                # what earlier modules of this process proved about the base
                learning = Learning(req.base, f"{opts!r} {sorted(req.lang_exclude)}",
                                    first_id, KNOWN_FIRST)
                learned = learning.table
            # Over a base, a name the base knows is never signed by name:
            # dedup keeps a module's view of a base declaration apart.  A
            # function the ELF has no symbol of cannot become a FUNC (either
            # rule set): its DIEs need not be converted.
            elf_funcs = set(functions.entries) if feats.modern_funcs else functions.names
            signing = Signing(learning.seen() if learning is not None else fast.SigSet(),
                              fast.names(dwarf, req.lang_exclude, _base_names(req.base),
                                         _jobs(req, list(dwarf.units()))),
                              elf_funcs or None)
        n = 0
        results = _unit_results(req, dwarf, first_id, opts, signing, variables)
        for n, (unit, ut) in enumerate(results, 1):
            if progress:
                progress(n, unit.offset)
            if ut is None:
                continue
            known = known_ids(ut.known, sig2id, learned)
            labels, refs = (ut.labels, ut.refs) if ut.labels is not None else \
                compact_unit(ut.types)
            handle = deduper.add_compact(labels, refs, first=first_id, known=known,
                                         known_first=KNOWN_FIRST)
            if learning is not None:
                learning.unit(handle, labels, refs, ut.known, ut.signed)
            first_ids(ut.signed, sig2id, *deduper.store_map(handle))
            warnings += (f"CU {ut.name}: {w}" for w in ut.warnings)
            funcs += ((handle, f, ut.name) for f in ut.funcs)
            vars_ += ((handle, v, ut.name) for v in ut.vars)
        btf, maps = deduper.finish()
        if learning is not None:
            learning.learn(maps)
        tagger = tag_candidates(elf, feats, funcs, vars_)    # kfunc/export DECL_TAGs (exports/)
    emit_functions(btf, maps, funcs, functions, skips, consistent=feats.consistent_func)
    emit_variables(btf, maps, vars_, variables, skips)
    warnings += tagger.missing(btf, skips)                  # .BTF_ids functions left out
    return Result(btf, skips, warnings, n)


class Interner:
    """Adds FUNC_PROTO, FUNC and DECL_TAG types unless an identical one exists.

    After dedup, type ids are canonical, so identity of these leaf-like types
    is plain equality of their fields; the base's types count too, as libbpf
    maps a split type equal to a base type onto the base.  Keys are dedup's
    `(label, refs)`, so the base's come from dedup's index of it (once per
    base: many modules share one vmlinux).
    """

    KINDS = (FuncProto, Func, DeclTag)

    def __init__(self, btf: Btf):
        self.btf = btf
        # dedup's table of the base's reference kinds has these keys already
        self.base = base_index(btf.base).ref_table if btf.base is not None else {}
        self.index: dict[tuple, int] = {}
        for type_id, t in zip(btf.own_ids(), btf.types):
            if isinstance(t, self.KINDS):
                key = to_compact(t)
                if key not in self.base:
                    self.index.setdefault(key, type_id)

    def add(self, t) -> int:
        return self.intern(*to_compact(t))

    def intern(self, label: tuple, refs: tuple, make=from_compact) -> int:
        """The id of the type dedup would call (label, refs), made only if
        new (by `make(label, refs)`): most functions share a prototype
        already there."""
        key = (label, refs)
        type_id = self.base.get(key)
        if type_id is None:
            type_id = self.index.get(key)
            if type_id is None:
                type_id = self.index[key] = self.btf.add(make(label, refs))
        return type_id

    def proto(self, p: FuncProto, m) -> int:
        """`p` (unit-local ids) with its ids mapped through `m`, interned."""
        params = p.params
        return self.intern((FUNC_PROTO, "", *[x.name for x in params]),
                           m.ids([p.ret, *[x.type for x in params]]))

    def func(self, name: str, proto_id: int) -> int:
        return self.intern((FUNC, name, _STATIC), (proto_id,), _static_func)


_STATIC = int(FuncLinkage.STATIC)


def _static_func(label: tuple, refs: tuple) -> Func:
    """from_compact of a static FUNC's (label, refs), without the enum lookup"""
    return Func(label[1], refs[0], FuncLinkage.STATIC)


def _remap_proto(p: FuncProto, m: array.array) -> FuncProto:
    return FuncProto(m[p.ret], [Param(x.name, m[x.type]) for x in p.params])


def emit_functions(btf: Btf, maps: list[array.array],
                   funcs: list[tuple[int, FuncCandidate, str | None]],
                   table: FunctionTable | ElfFunctionTable, skips: list[Skip], *,
                   consistent: bool = True) -> None:
    """FUNC_PROTO + FUNC (+ decl tags) for every selected function: in unit
    order (pahole 1.24), or by name after merging every unit's view of each
    (newer pahole, `ElfFunctionTable`)."""
    interner = Interner(btf)
    if isinstance(table, ElfFunctionTable):
        states = []
        for handle, f, unit in funcs:
            try:
                table.lookup(f)
            except LookupError as e:
                if f.name and not f.declaration:
                    skips.append(Skip("function", f.name, str(e), unit))
                continue
            proto = _remap_proto(f.own_proto or f.proto, maps[handle])
            states.append(table.state(f, proto, unit))
        for key, st, why in table.merge(states, btf, consistent=consistent):
            if why is not None:
                skips.append(Skip("function", key, why, st.unit))
                continue
            fid = interner.func(key, interner.add(st.proto))
            for value, idx in st.cand.tags:
                if st.cand.own_proto is None or idx < 0:
                    interner.add(DeclTag(value, fid, idx))
        return
    select, func, proto = table.select, interner.func, interner.proto
    for handle, f, unit in funcs:
        why = select(f)
        if why is not None:
            if f.name and not f.declaration:
                skips.append(Skip("function", f.name, why, unit))
            continue
        fid = func(f.name, proto(f.proto, maps[handle]))
        for value, idx in f.tags:
            interner.add(DeclTag(value, fid, idx))


def emit_variables(btf: Btf, maps: list[array.array],
                   vars_: list[tuple[int, VarCandidate, str | None]],
                   table: VariableTable, skips: list[Skip]) -> None:
    """VAR (+ decl tags) per selected variable, then one DATASEC per section."""
    placed: dict[str, list[VarSecinfo]] = {}
    seen: set[tuple[str, int]] = set()
    for handle, v, unit in vars_:
        where = table.place(v)
        if isinstance(where, str):
            continue
        sec, offset, name, size = where
        type_id = maps[handle][v.type]
        if type_id == 0:
            skips.append(Skip("variable", name, "void type", unit))
            continue
        if not btf.size_of(type_id):
            skips.append(Skip("variable", name, "zero-sized type", unit))
            continue
        if (sec.name, offset) in seen:
            continue
        seen.add((sec.name, offset))
        linkage = VarLinkage.GLOBAL_ALLOCATED if v.external else VarLinkage.STATIC
        vid = btf.add(Var(name, type_id, linkage))
        for value, idx in v.tags:
            btf.add(DeclTag(value, vid, idx))
        placed.setdefault(sec.name, []).append(VarSecinfo(vid, offset, size))
    for sec in table.sections:
        infos = placed.get(sec.name)
        if infos:
            infos.sort(key=lambda s: s.offset)
            btf.add(Datasec(sec.name, infos[-1].offset + infos[-1].size, infos))

