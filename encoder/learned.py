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


def _reaching_declarations(base: Btf) -> frozenset[int]:
    """Base ids from which a declaration can be reached (itself included)."""
    index = base_index(base)
    index.unpack_all()
    dirty = reach_declarations(index.lab, index.ref, 0, 0, b"", ())
    return frozenset(b for b, d in enumerate(dirty) if d)


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
        first, n, clean_sig, table = self.first, len(labels), self.clean_sig, self.table
        verdict = clean_sig.get
        known_dirty = bytes([not verdict(sig, sig in table) for sig in known])
        dirty = reach_declarations(labels, refs, first, self.known_first, known_dirty,
                                   self.dirty_base)
        # a signature may stand for void or an earlier type: not learned
        mine = [(sig, t) for sig, t in signed if 0 <= t - first < n]
        for sig, type_id in mine:
            clean_sig.setdefault(sig, not dirty[type_id - first])
        self._units.append((handle, mine, dirty))

    def learn(self, maps) -> None:
        """After dedup: remember the clean signatures that became base types."""
        end, dirty_base, table, first = self.base_end, self.dirty_base, self.table, self.first
        seen = self._seen
        for handle, signed, dirty in self._units:
            m = maps[handle]
            for sig, type_id in signed:
                if not dirty[type_id - first]:
                    final = m[type_id]
                    if final < end and final not in dirty_base and sig not in table:
                        table[sig] = final
                        seen.add(sig)
