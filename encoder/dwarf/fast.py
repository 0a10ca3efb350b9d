"""The compiled DIE walk (`_cwalk.c`) behind walk.py's interface.

`walk_unit` returns the same `UnitDies` as walk.walk_unit, but its records
are a compiled `Unit`: a sequence of dies.py tuples built on demand, which
also answers `get(offset)` (so it serves as the unit's index), `children(i)`
and `classify(seen, seed)` (the type signatures, see _cwalk.c).  Without the
extension (no C compiler at install time), or for what the extension leaves
to Python (DW_FORM_indirect, sparse abbreviation codes), walk.py does the
work and `classify` is not available.
"""

from __future__ import annotations

from ..errors import DwarfError
from . import walk as reference
from .abbrev import conversion, form_fits
from .dies import ATTR_FIELD, FLAG_FIELDS, NFIELDS, actions_for
from .forms import read_uleb
from .reader import Dwarf, Unit

try:
    from . import _cwalk
except ImportError:          # pragma: no cover - depends on the installation
    _cwalk = None

if _cwalk is not None:
    assert _cwalk.NFIELDS == NFIELDS

SigSet = _cwalk.SigSet if _cwalk is not None else None
Fallback = _cwalk.Fallback if _cwalk is not None else None
name_keys = _cwalk.name_keys if _cwalk is not None else None


def names(dwarf: Dwarf, lang_exclude=frozenset(), exclude=(), jobs: int = 1):
    """Pass 1 over every unit: the names of aggregates, enums and typedefs
    defined one way only in the whole input (and referring only to such
    names), whose references the signatures may then take by name.  The
    big cycles of kernel types (task_struct reaches most of a unit) differ
    between units in some corner; signed through such names they do not.
    Names in `exclude` (names, or their `name_keys`) are never cut at.
    With `jobs` > 1, forked workers each take a consecutive share of the
    units and the tables are merged in unit order (`Names.merge`: the same
    table as one pass)."""
    if not isinstance(exclude, SigSet):
        exclude = _cwalk.name_keys(exclude)
    units = list(dwarf.units())
    shares = _shares(units, jobs)
    if len(shares) == 1:
        keep = sum(u.end - u.offset for u in units) < KEEP_MAX_BYTES
        table = _names_over(dwarf, units, lang_exclude, exclude, keep)
    else:
        from ..forked import Workers

        def share_dump(k: int) -> bytes:
            return _names_over(dwarf, shares[k], lang_exclude, exclude).dump()

        with Workers(share_dump, range(1, len(shares)), len(shares) - 1, 1) as later:
            table = _names_over(dwarf, shares[0], lang_exclude, exclude)
            for _, dump in later:
                table.merge(dump)
    table.finish()
    return table


# Pass 1 keeps the units it walked for pass 2 (`walk_unit` hands each out
# once) when there is less DWARF than this.  Walking twice was a tenth of
# a batch, and most modules have well under 4 MB; records take about nine
# times the DWARF's size (xfs.ko's 11 MB would keep 100 MB for 0.03 s).
KEEP_MAX_BYTES = 4 << 20


def _names_over(dwarf: Dwarf, units, lang_exclude, exclude, keep: bool = False):
    table = _cwalk.Names()
    table.exclude(exclude)
    for unit in units:
        dies = walk_unit(dwarf, unit)
        if keep:
            dwarf.walked[unit.offset] = dies
            if hasattr(dies.dies, "fit"):
                dies.dies.fit()
        if dies.language in lang_exclude or not hasattr(dies.dies, "classify"):
            continue
        table.add(dies.dies)
    return table


def _shares(units: list[Unit], jobs: int) -> list[list[Unit]]:
    """`jobs` runs of consecutive units of about equal bytes (one run for
    one job or one unit)."""
    if jobs <= 1 or len(units) < 2:
        return [units]
    total = sum(u.end - u.offset for u in units)
    shares: list[list[Unit]] = [[]]
    done = 0
    for u in units:
        if done >= total * len(shares) / jobs and len(shares) < jobs:
            shares.append([])
        shares[-1].append(u)
        done += u.end - u.offset
    return [s for s in shares if s]


def available() -> bool:
    return _cwalk is not None


def _tables() -> tuple[bytes, bytes, bytes]:
    """dies.py's attribute -> field map, abbrev.py's conversions (0xFF: a
    form of the wrong class, skipped) and the flag fields, as byte tables for
    _cwalk.compile_abbrev."""
    af = bytearray(max(ATTR_FIELD) + 1)
    for at, field in ATTR_FIELD.items():
        af[at] = field + 1
    conv = bytes(conversion(f, form) if form_fits(f, form) else 0xFF
                 for f in range(NFIELDS) for form in range(64))
    flags = bytes(f in FLAG_FIELDS for f in range(NFIELDS))
    return bytes(af), conv, flags


_TABLES = _tables() if _cwalk is not None else None


def _table(dwarf: Dwarf, unit: Unit):
    """The unit's abbreviation table compiled by _cwalk (cached per table),
    or None when _cwalk leaves it to walk.py."""
    cache = dwarf.__dict__.setdefault("_ctables", {})
    shape = unit.shape
    key = (unit.abbrev_offset, shape)
    got = cache.get(key)
    if got is None:
        try:
            got = _cwalk.compile_abbrev(dwarf.abbrev, unit.abbrev_offset, shape.version,
                                        shape.address_size, shape.offset_size, *_TABLES,
                                        actions_for)
        except _cwalk.Fallback:
            got = False
        cache[key] = got
    return got


def walk_unit(dwarf: Dwarf, unit: Unit) -> reference.UnitDies:
    """walk.walk_unit, compiled where possible (or as pass 1 kept it)."""
    kept = dwarf.walked.pop(unit.offset, None) if dwarf.walked else None
    if kept is not None:
        return kept
    if _cwalk is None:
        return reference.walk_unit(dwarf, unit)
    out = reference.UnitDies(unit, dwarf.path)
    data = dwarf.unit_bytes(unit)
    uoff = unit.offset
    dpos = unit.die_offset - uoff
    table = _table(dwarf, unit)
    root = None
    if table:
        try:
            code = read_uleb(data, dpos)[0]
            root = _cwalk.specs(table, code)
        except IndexError:
            pass
    if root is None:
        return reference.walk_unit(dwarf, unit)
    tag, kids, specs = root
    plan = (tag, kids, (0, 0, 0, 0), 0, (), -1, None, None, (), specs)
    pos, kids, _ = reference.read_root(dwarf, unit, data, out, {code: plan})
    out.visited = 1
    if not kids:
        return out
    spans = (dwarf.str, dwarf.line_str, dwarf.str_offsets, dwarf.addr, dwarf.loclists,
             dwarf.rnglists)
    bases = (out.str_offsets_base or 0, out.addr_base or 0, out.loclists_base or 0,
             out.rnglists_base or 0)
    try:
        recs = _cwalk.walk(data, pos, uoff, table, spans, bases, unit.offset_size,
                           unit.address_size)
    except _cwalk.Fallback:
        return reference.walk_unit(dwarf, unit)
    except _cwalk.Malformed as e:
        what, at = e.args[0] if len(e.args) == 1 else e.args
        raise DwarfError(what, file=dwarf.path, section=".debug_info",
                         offset=uoff + at) from None
    out.dies = recs
    out.visited = recs.visited
    out._index = recs
    return out
