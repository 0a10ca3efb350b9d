"""What a BTF is made of: counts and wire bytes per kind, strings, the largest
and the most referred-to types.  `dwarf2btf stats FILE` prints it.

Sizes are those of the blob the writer makes of the model, which for BTF
read from a file are the file's own bytes (the model round-trips).
"""

from __future__ import annotations

import heapq
import json
from collections import Counter

from ..record import asdict, factory, record
from .compare import Canon
from .kinds import LAYOUT, TYPE_HEADER_LEN, Kind
from .model import Btf, Type, Unknown, type_refs
from .wire import parse_header
from .writer import encode as write

def record_size(t: Type) -> int:
    """Bytes of one type record on the wire."""
    if isinstance(t, Unknown):
        return TYPE_HEADER_LEN + len(t.data)
    info, elem = LAYOUT[t.kind]
    return TYPE_HEADER_LEN + info + elem * vlen(t)


def vlen(t: Type) -> int:
    """The record's vlen: members, values, parameters or section entries."""
    for attr in ("members", "values", "params", "vars"):
        items = getattr(t, attr, None)
        if items is not None:
            return len(items)
    return 0


@record
class KindStats:
    count: int = 0
    named: int = 0
    bytes: int = 0


@record
class Top:
    id: int
    kind: str
    name: str
    value: int
    what: str = ""          # how compare.py spells it: "*struct sk_buff" for a PTR


@record
class Stats:
    types: int
    start_id: int
    base_types: int
    header_bytes: int
    type_bytes: int
    string_bytes: int
    layout_bytes: int
    total_bytes: int
    kinds: dict[str, KindStats] = factory(dict)
    largest_records: list[Top] = factory(list)
    largest_types: list[Top] = factory(list)
    most_referenced: list[Top] = factory(list)

    def as_dict(self) -> dict:
        return asdict(self)

    def json(self) -> str:
        return json.dumps(self.as_dict(), indent=1) + "\n"

    def text(self) -> str:
        split = f" (split BTF: ids from {self.start_id}, over {self.base_types} base types)" \
            if self.start_id > 1 else ""
        lines = [f"{self.types} types{split}",
                 f"bytes: {self.total_bytes} total = header {self.header_bytes} "
                 f"+ types {self.type_bytes} + strings {self.string_bytes}"
                 + (f" + layout {self.layout_bytes}" if self.layout_bytes else ""),
                 "",
                 f"{'kind':12} {'count':>8} {'named':>8} {'bytes':>10} {'share':>6}"]
        for k, s in sorted(self.kinds.items(), key=lambda kv: -kv[1].bytes):
            share = 100 * s.bytes / self.type_bytes if self.type_bytes else 0
            lines.append(f"{k:12} {s.count:8} {s.named:8} {s.bytes:10} {share:5.1f}%")
        for title, unit, rows in (("largest records", "bytes", self.largest_records),
                                  ("largest types", "size", self.largest_types),
                                  ("most referenced", "refs", self.most_referenced)):
            if rows:
                lines += ["", f"{title} ({unit}):"]
                lines += [f"  {r.value:10}  [{r.id}] {r.kind} '{r.name or '(anon)'}'"
                          + ("" if r.name else f" {r.what}") for r in rows]
        return "\n".join(lines) + "\n"


_SIZED = (Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64, Kind.DATASEC)


def stats(btf: Btf, top: int = 10) -> Stats:
    """The statistics of `btf`'s own types (not its base's)."""
    h = parse_header(write(btf))
    kinds: dict[str, KindStats] = {}
    refs: Counter[int] = Counter()
    records, sizes = [], []
    for type_id, t in zip(btf.own_ids(), btf.types):
        name = t.kind.name if isinstance(t.kind, Kind) else f"KIND{int(t.kind)}"
        ks = kinds.setdefault(name, KindStats())
        n = record_size(t)
        ks.count += 1
        ks.named += bool(getattr(t, "name", ""))
        ks.bytes += n
        records.append((n, type_id))
        if t.kind in _SIZED:
            sizes.append((t.size, type_id))
        if not isinstance(t, Unknown):
            refs.update(r for r in type_refs(t) if r)

    canon = Canon(btf)

    def rows(pairs) -> list[Top]:
        out = []
        for value, type_id in pairs:
            t = btf[type_id]
            what = canon.ref(type_id)
            out.append(Top(type_id, t.kind.name if isinstance(t.kind, Kind) else str(t.kind),
                           getattr(t, "name", ""), value,
                           what if len(what) <= 80 else what[:77] + "..."))
        return out

    by_value = lambda pair: (pair[0], -pair[1])     # noqa: E731  (ties: lower id first)
    return Stats(
        types=len(btf.types), start_id=btf.start_id, base_types=btf.start_id - 1,
        header_bytes=h.hdr_len, type_bytes=h.type_len, string_bytes=h.str_len,
        layout_bytes=h.layout_len, total_bytes=h.hdr_len + h.type_len + h.str_len + h.layout_len,
        kinds=kinds,
        largest_records=rows(heapq.nlargest(top, records, key=by_value)),
        largest_types=rows(heapq.nlargest(top, sizes, key=by_value)),
        most_referenced=rows(heapq.nlargest(top, ((n, i) for i, n in refs.items()),
                                            key=by_value)))
