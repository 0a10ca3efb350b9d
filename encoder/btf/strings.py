"""The BTF string section: NUL-terminated names addressed by byte offset.

Strings are interned in first-come order and never reordered or collected,
which is what libbpf's `btf__add_str` does and so what pahole writes.  A
split table continues after its base's (`start` = base length) and reuses a
base string rather than adding a copy, as libbpf does.

Names are decoded as UTF-8 with surrogate escapes, so any bytes survive a
read-write round trip.
"""

from __future__ import annotations

from ..errors import BtfError


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def encode_name(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


class StringTable:
    """Own strings of one BTF, plus a link to the base's table for split BTF."""

    def __init__(self, data: bytes | None = None, *, base: "StringTable | None" = None):
        self.base = base
        self.start = base.end if base is not None else 0
        if data is None:
            data = b"" if base is not None else b"\0"
        self._data = bytearray(data)
        self._index: dict[str, int] | None = None   # built on first add()
        self._cache: dict[int, str] = {}
        # Where the index comes from when not built here (a base's, from
        # the base cache: a module asks a few hundred names of 96 k).
        self.index_source = None

    @property
    def end(self) -> int:
        """One past the last offset: where a split table's own strings start."""
        return self.start + len(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def bytes(self) -> bytes:
        return bytes(self._data)

    def get(self, offset: int) -> str:
        """The string at `offset`; raises BtfError when the offset is invalid."""
        name = self._cache.get(offset)
        if name is not None:
            return name
        if offset < self.start:
            return self.base.get(offset)
        local = offset - self.start
        end = self._data.find(0, local)
        if local >= len(self._data) or end < 0:
            raise BtfError(f"string offset {offset} is past the string section "
                           f"(ends at {self.end})")
        name = self._cache[offset] = _decode(bytes(self._data[local:end]))
        return name

    def find(self, name: str) -> int | None:
        """The offset of `name` if it is already here or in the base."""
        if self.base is not None:
            off = self.base.find(name)
            if off is not None:
                return off
        return self._own_index().get(name)

    def add(self, name: str) -> int:
        """Intern `name` and return its offset."""
        off = self.find(name)
        if off is not None:
            return off
        off = self.end
        self._data += encode_name(name) + b"\0"
        self._index[name] = off
        return off

    def adder(self):
        """`add` for many names in a row (the writer, dedup's interning):
        the same offsets, with the tables' lookups bound once."""
        if type(self) is not StringTable or (self.base is not None and
                                             type(self.base) is not StringTable):
            return self.add         # a table that looks names up its own way
        own = self._own_index()
        add = self.add
        base = self.base
        if base is None:
            def fast(name: str) -> int:
                off = own.get(name)
                return off if off is not None else add(name)
        elif base.base is None:
            under = base._own_index()

            def fast(name: str) -> int:
                off = under.get(name)
                if off is None:
                    off = own.get(name)
                return off if off is not None else add(name)
        else:
            fast = add
        return fast

    def _own_index(self) -> dict[str, int]:
        if self._index is None:
            source, self.index_source = self.index_source, None
            self._index = source() if source is not None else self.build_index()
        return self._index

    def build_index(self) -> dict[str, int]:
        """name -> its first offset here."""
        index: dict[str, int] = {}
        pos = self.start
        for raw in bytes(self._data).split(b"\0")[:-1]:
            index.setdefault(_decode(raw), pos)
            pos += len(raw) + 1
        return index
