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
        self._pending: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        PerBase.ALL[name] = self

    def __call__(self, base):
        now = shape(base)
        got = self._values.get(base)
        if got is None or got[0] != now:
            pending = self._pending.pop(base, None)
            state = pending[1]() if pending is not None and pending[0] == now else None
            value = self.compute(base) if state is None else self.load(state, base)
            got = self._values[base] = (now, value)
        return got[1]

    def export(self, base):
        """The on-disk form of this base's value (computed if need be)."""
        return self.save(self(base))

    def adopt(self, base, thaw: Callable[[], Any]) -> None:
        """Take this base's value from its on-disk form, `thaw()`, when it
        is first asked for: a run pays only for the values it uses.  A
        `thaw()` of None (the bytes did not check out) means compute it."""
        self._values.pop(base, None)
        self._pending[base] = (shape(base), thaw)
