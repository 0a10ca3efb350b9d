"""What earlier modules over the same base proved: type signature -> base id.

A batch encodes hundreds of modules over one vmlinux, and each describes
again the kernel types it uses (struct sk_buff and all it reaches): nine in
ten of the types a module converts end up as base types.  Once a module has
shown that the DIE graph of signature S is the base type b, later modules in
the process refer to b wherever S appears and never convert it.

That is sound only where the answer cannot depend on the module.  A type
that dedup mapped onto a base type has every named type it reaches in the
base, so its signature is structural (base names are never signed by name)
and equal signatures mean bisimilar graphs.  What can still depend on the
module is a declaration: a FWD resolves by what else has its name.  So a
signature is learned only when its graph reaches no declaration (FWD or
enum forward) and the base type it became reaches none either.
"""

from __future__ import annotations

import weakref

from dedup.compact import Label, Refs
from dedup.deduper import base_index
from dedup.reach import reach_declarations

from .btf.model import Btf
from .btf.perbase import PerBase

try:
    from . import _clearned
except ImportError:          # pragma: no cover - depends on the installation
    _clearned = None


def _reaching_declarations(base: Btf) -> bytes:
    """1 per base id from which a declaration can be reached (itself
    included), else 0."""
    index = base_index(base)
    index.unpack_all()
    return bytes(reach_declarations(index.lab, index.ref, 0, 0, b"", b""))


_base_dirty = PerBase("declaration_reach", _reaching_declarations)

# per base, per encoding options: signature -> base id, and the same
# signatures as the SigSet classify starts each module from (this process only)
_LEARNED: "weakref.WeakKeyDictionary[Btf, dict]" = weakref.WeakKeyDictionary()


class Learning:
    """One encode's share: what it may skip, and what it found out.

    `seen()` and `table` serve the encode without copying the table into
    its own, which grows with every module of a batch."""

    def __init__(self, base: Btf, options_key: str, first: int, known_first: int):
        by_options = _LEARNED.setdefault(base, {})
        if options_key not in by_options:
            from .dwarf.fast import SigSet
            by_options[options_key] = ({}, SigSet())
        self.table: dict[bytes, int]
        self.table, self._seen = by_options[options_key]
        self.base_end = base.type_count
        self.dirty_base = _base_dirty(base)
        self.first = first
        self.known_first = known_first
        self.clean_sig: dict[bytes, bool] = {}
        self._units: list[tuple[int, list, bytearray]] = []

    def seen(self):
        """A SigSet of the learned signatures, the encode's own to add to."""
        return self._seen.copy()

    def unit(self, handle: int, labels: list[Label], refs: list[Refs],
             known: list[bytes], signed: list[tuple[bytes, int]]) -> None:
        """Note which of a unit's types reach no declaration."""
        first, clean_sig = self.first, self.clean_sig
        known_dirty = known_verdicts(known, clean_sig, self.table)
        dirty = reach_declarations(labels, refs, first, self.known_first, known_dirty,
                                   self.dirty_base)
        # a signature may stand for void or an earlier type: not learned
        mine = note_signed(signed, first, len(labels), dirty, clean_sig)
        self._units.append((handle, mine, dirty))

    def learn(self, maps) -> None:
        """After dedup: remember the clean signatures that became base types."""
        add = self._seen.add
        for handle, mine, dirty in self._units:
            m = maps[handle]
            for sig in learn_signed(mine, dirty, self.first, m.own, m.first, self.base_end,
                                    self.dirty_base, self.table):
                add(sig)


# Learning's loops over signatures; _clearned.c is the same, compiled.

def note_signed_py(signed: list[tuple[bytes, int]], first: int, n: int, dirty,
                   clean: dict[bytes, bool]) -> list[tuple[bytes, int]]:
    """The pairs whose id is one of the unit's n own types, each signature's
    verdict (True: reaches no declaration) noted in `clean` unless it has one."""
    mine = [(sig, t) for sig, t in signed if 0 <= t - first < n]
    for sig, type_id in mine:
        clean.setdefault(sig, not dirty[type_id - first])
    return mine


def known_verdicts_py(known: list[bytes], clean: dict[bytes, bool],
                      table: dict[bytes, int]) -> bytes:
    """1 per known signature whose type reaches a declaration: the module's
    verdict if it has one, else clean exactly when earlier modules proved it."""
    verdict = clean.get
    return bytes([not verdict(sig, sig in table) for sig in known])


def learn_signed_py(mine: list[tuple[bytes, int]], dirty, first: int, own, own_first: int,
                    end: int, dirty_base: bytes, table: dict[bytes, int]) -> list[bytes]:
    """Into `table`, each clean pair whose final id (own[id - own_first]) is
    a base id not marked in `dirty_base` (a byte per base id below `end`, as
    dedup.reach's), unless there already; the signatures added."""
    added = []
    for sig, type_id in mine:
        if not dirty[type_id - first]:
            final = own[type_id - own_first]
            if final < end and not dirty_base[final] and sig not in table:
                table[sig] = final
                added.append(sig)
    return added


# encode.py's: which store id a signature stands for in the module

def first_ids_py(signed: list[tuple[bytes, int]], into: dict[bytes, int], first: int, own,
                 known_first: int, known) -> None:
    """Each signature `into` lacks gets its type's store id (by
    Deduper.store_map's rule)."""
    for sig, t in signed:
        if sig not in into:
            into[sig] = own[t - first] if t >= first else \
                known[t - known_first] if known and t >= known_first else t


def known_ids_py(known: list[bytes], mine: dict[bytes, int],
                 learned: dict[bytes, int]) -> list[int]:
    """Each known signature's id: this module's, else what earlier ones learned."""
    get = mine.get
    return [i if (i := get(sig)) is not None else learned[sig] for sig in known]


if _clearned is not None:
    note_signed, known_verdicts, learn_signed, first_ids, known_ids = (
        _clearned.note_signed, _clearned.known_verdicts, _clearned.learn_signed,
        _clearned.first_ids, _clearned.known_ids)
else:                       # pragma: no cover - depends on the installation
    note_signed, known_verdicts, learn_signed, first_ids, known_ids = (
        note_signed_py, known_verdicts_py, learn_signed_py, first_ids_py, known_ids_py)
