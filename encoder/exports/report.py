"""`dwarf2btf exports FILE`: what FILE exports, to whom, and on what terms.

One row per symbol any classifier names: a `__ksymtab*` export, a function
in a `.BTF_ids` set or list, or a function called `export_*`.  Formats:
`table` (for people), `json` (everything, for scripts), `symvers`
(Module.symvers lines).  When BTF is at hand (FILE's own .BTF, or --btf,
with --base for a module's split BTF) every `.BTF_ids` function must be a
FUNC in it; those that are not are listed in the report and on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..elf.consts import STT
from ..record import factory, record
from .kfuncs import BtfIds, kf_names, read_btf_ids
from .ksymtab import ExportTable, read_exports
from .symvers import lines as symvers_lines
from .symvers import module_name
from .tags import func_names, missing_funcs

NAME_PREFIX = "export_"      # the 2020 naming convention (seed thread 000)


@record
class Row:
    symbol: str
    kind: str = "unknown"
    export_type: str = ""
    namespace: str = ""
    crc: int | None = None
    kfunc_sets: list[tuple[str, int]] = factory(list)  # (set, KF flags)
    id_sets: list[str] = factory(list)    # sets/lists naming it ("" = a list)
    name_convention: bool = False
    btf_func: bool | None = None                         # None: no BTF to look in

    def as_json(self) -> dict:
        return {"symbol": self.symbol, "kind": self.kind,
                "export": self.export_type or None, "namespace": self.namespace or None,
                "crc": None if self.crc is None else f"0x{self.crc:08x}",
                "kfunc": [{"set": s, "flags": kf_names(f), "flags_value": f}
                          for s, f in self.kfunc_sets],
                "btf_ids": sorted(set(self.id_sets)), "export_prefix": self.name_convention,
                "btf_func": self.btf_func}


@record
class Report:
    path: str
    module: str
    exports: ExportTable
    ids: BtfIds
    all_set8: bool
    rows: list[Row]
    missing: list[str] | None       # None: no BTF checked
    btf_source: str | None


def build(path: str, *, module: str | None = None, btf=None, btf_source: str | None = None,
          all_set8: bool | None = None) -> Report:
    """Classify every symbol of the ELF file `path`."""
    from ..elf import ElfFile
    with ElfFile(path) as elf:
        symbols = elf.symbols()
        table = read_exports(elf, symbols)
        ids = read_btf_ids(elf, symbols)
        prefixed = _prefixed_functions(symbols)
        mod = module or module_name(path, elf)
    if all_set8 is None:
        all_set8 = not ids.marked
    rows: dict[str, Row] = {}
    for e in table.exports:
        rows[e.name] = Row(e.name, e.kind, e.export_type, e.namespace, e.crc)
    for fn, holders in ids.funcs.items():
        r = rows.setdefault(fn, Row(fn, "func"))
        r.id_sets += holders
        r.kfunc_sets = [(s.name, dict(s.members)[fn]) for s in ids.kfunc_sets(fn, all_set8)]
    for fn in prefixed:
        rows.setdefault(fn, Row(fn, "func")).name_convention = True
    have = func_names(btf) if btf is not None else None
    missing = None
    if have is not None:
        for r in rows.values():
            if r.kind == "func":
                r.btf_func = r.symbol in have
        missing = missing_funcs(ids, have)
    return Report(path, mod, table, ids, all_set8, [rows[k] for k in sorted(rows)], missing,
                  btf_source)


def _prefixed_functions(symbols) -> list[str]:
    if symbols is None:
        return []
    names = symbols.names()
    return sorted({names[i] for i in symbols.of_type(STT.FUNC)
                   if names[i].startswith(NAME_PREFIX)})


# -- formats -----------------------------------------------------------------------------

def as_symvers(rep: Report) -> str:
    return "".join(f"{line}\n" for line in symvers_lines(rep.exports, rep.module))


def as_json(rep: Report) -> str:
    sets = [{"name": s.name, "kind": "set8" if s.eight else "set", "flags": s.flags,
             "kfuncs": s.kfuncs or (rep.all_set8 and s.eight),
             "members": [{"func": f, "flags": kf_names(fl)} for f, fl in s.members]}
            for s in rep.ids.sets]
    doc = {"file": rep.path, "module": rep.module, "ksymtab_layout": rep.exports.layout,
           "modversions": rep.exports.has_crcs, "kflagstab": rep.exports.has_flagstab,
           "kfunc_sets_marked": rep.ids.marked, "all_set8": rep.all_set8,
           "counts": _counts(rep), "sets": sets, "symbols": [r.as_json() for r in rep.rows],
           "btf": rep.btf_source, "missing_btf_funcs": rep.missing,
           "warnings": rep.exports.warnings}
    return json.dumps(doc, indent=1) + "\n"


def _counts(rep: Report) -> dict:
    ex = rep.exports.exports
    return {"exports": len(ex), "gpl_only": sum(e.gpl_only for e in ex),
            "namespaced": sum(bool(e.namespace) for e in ex),
            "kfuncs": sum(bool(r.kfunc_sets) for r in rep.rows),
            "btf_id_funcs": len(rep.ids.funcs),
            "export_prefix": sum(r.name_convention for r in rep.rows)}


def as_table(rep: Report) -> str:
    c = _counts(rep)
    which = "every set8 (no set is marked BTF_SET8_KFUNCS)" if rep.all_set8 and \
        not rep.ids.marked else "BTF_SET8_KFUNCS sets"
    out = [f"# {rep.path} ({rep.module})",
           f"# {c['exports']} exports ({c['gpl_only']} GPL-only, {c['namespaced']} in a "
           f"namespace), CRCs: {'yes' if rep.exports.has_crcs else 'no'}, "
           f"layout: {rep.exports.layout or '-'}",
           f"# {c['kfuncs']} kfuncs from {which}, {c['btf_id_funcs']} functions in "
           f".BTF_ids, {c['export_prefix']} named export_*"]
    header = ("symbol", "kind", "export", "namespace", "crc", "kfunc", "btf")
    body = []
    for r in rep.rows:
        kf = "; ".join(f"{s}: {','.join(kf_names(f)) or '-'}" for s, f in r.kfunc_sets)
        if not kf and r.id_sets:
            kf = "(btf_id) " + ",".join(sorted({s or "list" for s in r.id_sets}))
        export = r.export_type or ("(name)" if r.name_convention else "-")
        crc = "-" if r.crc is None else f"0x{r.crc:08x}"
        btf = "" if r.btf_func is None else "FUNC" if r.btf_func else \
            "MISSING" if r.id_sets else "-"
        body.append((r.symbol, r.kind, export, r.namespace or "-", crc, kf or "-", btf))
    widths = [max(len(x[i]) for x in [header, *body]) for i in range(len(header) - 1)]
    for row in [header, *body]:
        out.append("  ".join(v.ljust(w) for v, w in zip(row, widths)) + "  " + row[-1])
    out = [line.rstrip() for line in out]
    if rep.missing:
        out.append(f"# MISSING: {len(rep.missing)} functions named in .BTF_ids have no "
                   f"BTF FUNC in {rep.btf_source}:")
        out += (f"#   {m}" for m in rep.missing)
    return "\n".join(out) + "\n"


FORMATS = {"table": as_table, "json": as_json, "symvers": as_symvers}


# -- the subcommand --------------------------------------------------------------------

def add_parser(sub) -> None:
    """`dwarf2btf exports`: registered by cli.py."""
    x = sub.add_parser("exports", help="list exports, kfuncs and their BTF (Module.symvers)")
    x.add_argument("file", help="vmlinux or a module (.ko)")
    x.add_argument("--format", choices=sorted(FORMATS), default="table")
    x.add_argument("--module", help="module name for symvers (default: from the path)")
    x.add_argument("--btf", help="BTF to check .BTF_ids functions against "
                                 "(default: FILE's own .BTF)")
    x.add_argument("--base", "-B", help="base BTF of a module's split BTF")
    x.add_argument("--all-set8", action=argparse.BooleanOptionalAction, default=None,
                   help="count every BTF_SET8 as a kfunc set (default: only if no set "
                        "is marked BTF_SET8_KFUNCS, i.e. before 6.9)")
    x.add_argument("-v", "--verbose", action="store_true", help="print warnings")
    x.set_defaults(func=run)


def _load_btf(args) -> tuple[object | None, str | None, str | None]:
    """(BTF, where from, why not) for the FUNC check."""
    from ..btf.reader import load, read_sections
    from ..errors import Dwarf2BtfError
    base = load(args.base) if args.base else None
    if args.btf:
        return load(args.btf, base=base), args.btf, None
    try:
        btf_bytes, base_bytes, section = read_sections(args.file)
    except Dwarf2BtfError:
        section = None
    if section is None:                 # no .BTF, or not ELF at all (build() says so)
        return None, None, "FILE has no .BTF (give --btf)"
    if base is None and base_bytes is None and _split(btf_bytes):
        return None, None, "FILE's .BTF is split BTF (give --base)"
    return load(args.file, base=base), f"{args.file} .BTF", None


def _split(data: bytes) -> bool:
    """Whether raw BTF is split: its strings (maybe none) do not start with
    the empty string every base BTF's start with."""
    if len(data) < 24:
        return False
    hdr_len = int.from_bytes(data[4:8], "little")
    str_off, str_len = (int.from_bytes(data[i:i + 4], "little") for i in (16, 20))
    at = hdr_len + str_off
    return str_len == 0 or (at < len(data) and data[at] != 0)


def run(args) -> int:
    btf, source, why = _load_btf(args)
    rep = build(args.file, module=args.module, btf=btf, btf_source=source,
                all_set8=args.all_set8)
    sys.stdout.write(FORMATS[args.format](rep))
    if args.verbose:
        for w in rep.exports.warnings:
            print(f"dwarf2btf: warning: {w}", file=sys.stderr)
        if why:
            print(f"dwarf2btf: .BTF_ids functions not checked: {why}", file=sys.stderr)
    for m in rep.missing or ():
        print(f"dwarf2btf: {args.file}: {m}", file=sys.stderr)
    return 0
