"""Dicts kept as bytes and probed in place: big tables of a base BTF.

A process that encodes one small module over vmlinux asks dedup's tables
of the base (95 k entries each) a few thousand questions, and the base's
string table a few hundred; unpacking whole tables from the base cache
(encoder/basecache.py) would cost more than the module itself.  A
`FrozenTable` is an open-addressing hash table in one bytes object: a probe
hashes the key (`key_hash`: stable across processes, unlike `hash()`), and
unpacks only the entries whose hash matches, comparing keys exactly.
`Overlay` gives it the dict operations the passes use, new entries kept
in a dict of its own.  `_cfrozen.c` hashes, probes and overlays the same
way in C when it was built (a module asks tens of thousands of questions,
a batch millions); this file is the reference and the fallback.

Keys are strings, ints, bools, None and tuples of them (dedup's labels).
The hash tells 1 from True, so a key must be built the same way when
packed and probed, which `compact.py`'s labels are.
"""

from __future__ import annotations

import array
import marshal
import struct

try:
    from . import _cfrozen
except ImportError:          # pragma: no cover - depends on the installation
    _cfrozen = None

_HEAD = struct.Struct("<4sII")      # magic, entries, slots
_MAGIC = b"FRZ3"
_MISSING = _cfrozen.MISSING if _cfrozen is not None else object()

_M = (1 << 64) - 1
_M1 = 0x9e3779b97f4a7c15


def _word(h: int, w: int) -> int:
    x = h ^ w
    return ((x << 29 | x >> 35) & _M) * _M1 & _M


def _bytes_in(h: int, data: bytes) -> int:
    h = _word(h, len(data))
    full = len(data) & ~7
    for at in range(0, full, 8):
        h = _word(h, int.from_bytes(data[at:at + 8], "little"))
    tail = data[full:]
    if tail:
        h = _word(h, int.from_bytes(tail, "little") | len(tail) << 56)
    return h


def _feed(h: int, x) -> int:
    if x is None:
        return _word(h, 1)
    if isinstance(x, bool):
        return _word(h, 2 | x << 8)
    if isinstance(x, int):
        if -1 << 63 <= x < 1 << 63:
            return _word(_word(h, 3), x & _M)
        return _bytes_in(_word(h, 4), str(x).encode())
    if isinstance(x, str):
        return _bytes_in(_word(h, 5), x.encode("utf-8", "surrogatepass"))
    if isinstance(x, tuple):
        h = _word(_word(h, 6), len(x))
        for item in x:
            h = _feed(h, item)
        return h
    raise TypeError(f"a frozen table's key holds no {type(x).__name__}")


def key_hash_py(key) -> int:
    """A key's 64-bit hash, word by word over its structure (the reference
    for _cfrozen.key_hash)."""
    k = _feed(0x243f6a8885a308d3, key)
    k = (k ^ k >> 33) * 0xff51afd7ed558ccd & _M
    k = (k ^ k >> 33) * 0xc4ceb9fe1a85ec53 & _M
    return k ^ k >> 33


key_hash = _cfrozen.key_hash if _cfrozen is not None else key_hash_py


class FrozenTable:
    """A read-only mapping over `pack`'s bytes."""

    __slots__ = ("blob", "_slots", "_hashes", "_items", "_mask", "_seen")

    def __init__(self, blob: bytes):
        if len(blob) < _HEAD.size:
            raise ValueError("not a frozen table")
        magic, n, nslots = _HEAD.unpack_from(blob)
        if magic != _MAGIC or nslots & (nslots - 1):
            raise ValueError("not a frozen table")
        at = _HEAD.size
        view = memoryview(blob)
        self._slots = view[at:at + 4 * nslots].cast("I")
        at += 4 * nslots
        self._hashes = view[at:at + 8 * n].cast("Q")
        self._items = FrozenList(view[at + 8 * n:])     # (key, value), in the dict's order
        if len(self._hashes) != n or len(self._items) != n:
            raise ValueError("truncated frozen table")
        self.blob = blob
        self._mask = nslots - 1
        self._seen: dict = {}       # answers so far (the table never changes)

    @staticmethod
    def pack(table: dict) -> bytes:
        """`table` as bytes, entries in its order (the same dict gives the
        same bytes)."""
        n = len(table)
        nslots = 1 << max(3, (2 * n).bit_length())      # load factor <= 1/2
        mask = nslots - 1
        slots = array.array("I", bytes(4 * nslots))
        hashes = array.array("Q")
        for i, key in enumerate(table, 1):
            h = key_hash(key)
            s = h & mask
            while slots[s]:
                s = (s + 1) & mask
            slots[s] = i
            hashes.append(h)
        return b"".join([_HEAD.pack(_MAGIC, n, nslots), slots.tobytes(), hashes.tobytes(),
                         FrozenList.pack(table.items())])

    def get(self, key, default=None):
        got = self._seen.get(key, _MISSING)
        if got is _MISSING:
            got = self._seen[key] = self._probe(key)
        return default if got is _MISSING else got

    def _probe(self, key):
        if _cfrozen is not None:
            return _cfrozen.probe(self.blob, key, _MISSING)
        return self._probe_py(key)

    def _probe_py(self, key):
        h = key_hash(key)
        mask, slots, hashes, items = self._mask, self._slots, self._hashes, self._items
        s = h & mask
        while True:
            i = slots[s]
            if not i:
                return _MISSING
            if hashes[i - 1] == h:
                k, v = items[i - 1]
                if k == key:
                    return v
            s = (s + 1) & mask

    def __contains__(self, key) -> bool:
        return self.get(key, _MISSING) is not _MISSING

    def __len__(self) -> int:
        return len(self._items)

    def copy(self) -> "Overlay":
        """A dict-like view to add entries to (the table stays as it is)."""
        return Overlay(self)

    def items(self):
        """The entries, in the packed dict's order."""
        items = self._items
        return (items[i] for i in range(len(items)))


def frozen(table) -> bytes:
    """The bytes of a dict, a `FrozenTable` or an `Overlay` (for a cache to
    store)."""
    if isinstance(table, _OVERLAYS):
        if not table.own and isinstance(table.frozen, FrozenTable):
            return table.frozen.blob
        table = {**dict(table.frozen.items()), **table.own}
    return table.blob if isinstance(table, FrozenTable) else FrozenTable.pack(table)


def layered(table) -> "Overlay":
    """A table to add entries to over `table` (a dict, a `FrozenTable` or an
    `Overlay`), which must not change after: a base's tables under each
    module's store.  Copying a base's dicts of 95 k entries for every
    module was 30 % of a batch's encoding without the base cache."""
    return table.copy() if isinstance(table, _OVERLAYS) else Overlay(table)


class OverlayPy:
    """A dict over a `FrozenTable` (or a dict nobody changes): reads fall
    through to it, writes stay here.  Only what the passes need: get, [],
    in, setdefault, pop (of an entry added here), copy.  The reference for
    `_cfrozen.Overlay`."""

    __slots__ = ("frozen", "own")

    def __init__(self, frozen: FrozenTable, own: dict | None = None):
        self.frozen = frozen
        self.own = {} if own is None else own

    def get(self, key, default=None):
        got = self.own.get(key, _MISSING)
        if got is _MISSING:
            return self.frozen.get(key, default)
        return got

    def __getitem__(self, key):
        got = self.get(key, _MISSING)
        if got is _MISSING:
            raise KeyError(key)
        return got

    def __contains__(self, key) -> bool:
        return self.get(key, _MISSING) is not _MISSING

    def __setitem__(self, key, value) -> None:
        self.own[key] = value

    def setdefault(self, key, value):
        got = self.get(key, _MISSING)
        if got is _MISSING:
            got = self.own[key] = value
        return got

    def pop(self, key):
        return self.own.pop(key)

    def copy(self) -> "OverlayPy":
        return OverlayPy(self.frozen, self.own.copy())


Overlay = _cfrozen.Overlay if _cfrozen is not None else OverlayPy
_OVERLAYS = (Overlay, OverlayPy)


class FrozenList:
    """A read-only sequence over `pack`'s bytes: item i unpacked when asked
    for (dedup's labels and refs of a base, of which a module reads a few
    thousand of 95 k)."""

    __slots__ = ("blob", "_ends", "_records")

    def __init__(self, blob: bytes):
        if len(blob) < _LIST_HEAD.size:
            raise ValueError("not a frozen list")
        magic, n = _LIST_HEAD.unpack_from(blob)
        at = _LIST_HEAD.size
        ends = memoryview(blob)[at:at + 4 * (n + 1)]
        if magic != _LIST_MAGIC or len(ends) != 4 * (n + 1):
            raise ValueError("not a frozen list")
        self._ends = ends.cast("I")
        self._records = at + 4 * (n + 1)
        if self._records + self._ends[n] != len(blob):
            raise ValueError("truncated frozen list")
        self.blob = blob

    @staticmethod
    def pack(items) -> bytes:
        records = [marshal.dumps(x) for x in items]
        ends = array.array("I", [0])
        for rec in records:
            ends.append(ends[-1] + len(rec))
        return b"".join([_LIST_HEAD.pack(_LIST_MAGIC, len(records)), ends.tobytes(), *records])

    def __len__(self) -> int:
        return len(self._ends) - 1

    def __getitem__(self, i: int):
        at, ends = self._records, self._ends
        if i < 0:
            i += len(ends) - 1
        return marshal.loads(self.blob[at + ends[i]:at + ends[i + 1]])


_LIST_HEAD = struct.Struct("<4sI")      # magic, items
_LIST_MAGIC = b"FRL1"
