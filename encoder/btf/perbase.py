"""Values derived from a base BTF once and shared by every use over it.

Many modules are encoded over one vmlinux: dedup's tables and classes of the
base, the verifier's columns, the interner's keys depend only on the base,
so each is computed once per base `Btf` and kept while it lives and has not
grown.  Every such value is a `PerBase`; `encoder/basecache.py` stores them
all on disk between runs (`export`) and hands them back (`adopt`).
"""

from __future__ import annotations

import weakref
from typing import Any, Callable


def shape(base) -> tuple:
    """What says a base is still the one a value was computed from: its
    levels' type counts and string-table ends."""
    return tuple((len(b.types), b.strings.end) for b in base.levels())


class PerBase:
    """One value per base: `compute(base)` on first use.

    `save(value)` gives what goes on disk (marshal-able); `load(state, base)`
    rebuilds the value from it.  Every instance is listed in `ALL` under its
    name, which is how the cache finds them."""

    ALL: dict[str, "PerBase"] = {}

    def __init__(self, name: str, compute: Callable[[Any], Any], *,
                 save: Callable[[Any], Any] | None = None,
                 load: Callable[[Any, Any], Any] | None = None):
        self.name = name
        self.compute = compute
        self.save = save or (lambda value: value)
        self.load = load or (lambda state, base: state)
        self._values: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        PerBase.ALL[name] = self

    def __call__(self, base):
        now = shape(base)
        got = self._values.get(base)
        if got is None or got[0] != now:
            got = self._values[base] = (now, self.compute(base))
        return got[1]

    def export(self, base):
        """The on-disk form of this base's value (computed if need be)."""
        return self.save(self(base))

    def adopt(self, base, state) -> None:
        """Take this base's value from its on-disk form."""
        self._values[base] = (shape(base), self.load(state, base))
