"""DECL_TAGs from the export classifier, added while encoding.

pahole's `decl_tag_kfuncs` (btf_encoder.c, btf__tag_kfunc): right after a
kfunc's FUNC and its own DWARF decl tags come `DECL_TAG "bpf_kfunc"`
(component_idx -1) and, for KF_FASTCALL, `DECL_TAG "bpf_fastcall"`; only
for functions that are encoded, only with `decl_tag` on, only from sets
marked BTF_SET8_KFUNCS.  We get the same order by appending the tags to the
function candidates before the FUNCs are emitted (a duplicate of a tag the
DWARF already had is folded by the encoder's interner, as pahole's dedup
folds it).

Our own feature `export_tags` (docs/EXPORTS.md) adds, on FUNCs and VARs:
  export | export_gpl | export_gpl_future | export_unused | export_unused_gpl
  export_ns:<namespace>
  kfunc:<set>            each kfunc set naming the function (every set8 on
                         kernels whose sets carry no BTF_SET8_KFUNCS)
  kf:<flag>              each KF_* flag (lower case, no KF_) of any such set

Whatever the features, every function a `.BTF_ids` slot names must come out
as a FUNC; `Tagger.missing` says which did not and why (for `-v`).
"""

from __future__ import annotations

from ..btf.perbase import PerBase
from .kfuncs import KF_FASTCALL, BtfIds, kf_names, read_btf_ids
from .ksymtab import ExportTable, read_exports

KFUNC_TAG = "bpf_kfunc"
FASTCALL_TAG = "bpf_fastcall"

EXPORT_TAGS = {
    "EXPORT_SYMBOL": "export",
    "EXPORT_SYMBOL_GPL": "export_gpl",
    "EXPORT_SYMBOL_GPL_FUTURE": "export_gpl_future",
    "EXPORT_UNUSED_SYMBOL": "export_unused",
    "EXPORT_UNUSED_SYMBOL_GPL": "export_unused_gpl",
}


def own_tags(name: str, exports: dict, ids: BtfIds, all_set8: bool) -> list[str]:
    """The `export_tags` values for the function or variable `name`."""
    out = []
    e = exports.get(name)
    if e is not None:
        out.append(EXPORT_TAGS.get(e.export_type, "export"))
        if e.namespace:
            out.append(f"export_ns:{e.namespace}")
    sets = ids.kfunc_sets(name, all_set8)
    flags = 0
    for s in sets:
        out.append(f"kfunc:{s.name}")
        flags |= dict(s.members).get(name, 0)
    out += (f"kf:{f}" for f in kf_names(flags))
    return out


class Tagger:
    """What one ELF file's exports and `.BTF_ids` make of its candidates."""

    def __init__(self, elf, *, kfuncs: bool, own: bool):
        symbols = elf.symbols()
        self.ids = read_btf_ids(elf, symbols)
        self.exports = read_exports(elf, symbols) if own else ExportTable()
        self.kfunc_flags = self.ids.kfuncs() if kfuncs else {}
        self.own = own
        self.all_set8 = not self.ids.marked

    def tags(self, name: str | None) -> list[str]:
        if not name:
            return []
        out = []
        flags = self.kfunc_flags.get(name)
        if flags is not None:
            out.append(KFUNC_TAG)
            if flags & KF_FASTCALL:
                out.append(FASTCALL_TAG)
        if self.own:
            out += own_tags(name, self._by_name, self.ids, self.all_set8)
        return out

    def tag(self, funcs, vars_=()) -> None:
        """Append the tags (component_idx -1) to every candidate by its name."""
        self._by_name = self.exports.by_name()
        for _, f, _ in funcs:
            if not f.declaration:
                f.tags.extend((t, -1) for t in self.tags(f.name))
        if self.own:
            for _, v, _ in vars_:
                if v.name and not v.declaration:
                    v.tags.extend((t, -1) for t in own_tags(v.name, self._by_name, self.ids,
                                                            self.all_set8))

    def missing(self, btf, skips) -> list[str]:
        """One warning per `.BTF_ids` function that is no FUNC in `btf` (or its base)."""
        if not self.ids.funcs:
            return []
        return missing_funcs(self.ids, func_names(btf), skips)


def func_names(btf) -> set[str]:
    """Names of the FUNCs of `btf` and of its bases."""
    from ..btf.kinds import Kind
    out = {t.name for t in btf.types if t.kind == Kind.FUNC}
    return out | _base_funcs(btf.base) if btf.base is not None else out


_base_funcs = PerBase("funcs", func_names)


def missing_funcs(ids: BtfIds, have: set[str], skips=None) -> list[str]:
    """A line per `.BTF_ids` function not in `have`; with the encoder's
    `skips`, why the function selection left it out."""
    why: dict[str, str] = {}
    for s in skips or ():
        if s.kind == "function":
            why[s.name] = s.reason
    out = []
    for fn in sorted(ids.funcs):
        if fn in have:
            continue
        where = sorted({s or "a BTF_ID list" for s in ids.funcs[fn]})
        line = f"'{fn}' is named in .BTF_ids ({', '.join(where)}) but has no BTF FUNC"
        if skips is not None:
            line += ": " + why.get(fn, "no DWARF definition of that name")
        out.append(line)
    return out


def tag_candidates(elf, features, funcs, vars_=()) -> Tagger:
    """The encoder's hook: tag the candidates; `.missing()` after emitting."""
    t = Tagger(elf, kfuncs=features.decl_tag_kfuncs and features.decl_tag,
               own=getattr(features, "export_tags", False) and features.decl_tag)
    t.tag(funcs, vars_)
    return t
