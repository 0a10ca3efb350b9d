"""The difference of two BTFs by named type, function and variable, as a
person reads it: what `dwarf2btf diff OLD NEW` prints to compare two kernels
or two encoders.

Which entries are the same, changed, removed or added is compare.py's
judgement (canonical descriptions: named types referred to by name,
anonymous ones spelled out), so ids, order and dedup choices never count.
For a changed struct, union, enum, function, variable or typedef this module
says what changed inside it, member by member; other kinds, and names
defined more than once, show both descriptions.
"""

from __future__ import annotations

import json

from ..record import asdict, factory, record
from .compare import Canon, Report, compare
from .kinds import Kind
from .model import Btf

LONG = 160                  # characters of a description shown before "..."


@record
class Change:
    kind: str               # compare's kind name: STRUCT, FUNC, ...
    name: str
    status: str             # "changed" | "removed" | "added"
    details: list[str] = factory(list)

    def title(self) -> str:
        mark = {"changed": "~", "removed": "-", "added": "+"}[self.status]
        return f"{mark} {self.kind.lower()} {self.name}"


@record
class Diff:
    report: Report
    changes: list[Change]

    @property
    def same(self) -> bool:
        return not self.changes

    def counts(self) -> dict[str, int]:
        out = {"changed": 0, "removed": 0, "added": 0}
        for c in self.changes:
            out[c.status] += 1
        return out

    def summary(self) -> str:
        n = self.counts()
        same = sum(k.identical for k in self.report.kinds.values())
        return (f"{same} same, {n['changed']} changed, {n['removed']} removed, "
                f"{n['added']} added")

    def text(self, show: int = 12) -> str:
        """Each change with up to `show` lines of detail, then the summary."""
        lines = []
        for c in self.changes:
            lines.append(c.title())
            lines += [f"    {d}" for d in c.details[:show]]
            if len(c.details) > show:
                lines.append(f"    ... {len(c.details) - show} more")
        lines.append(self.summary())
        return "\n".join(lines) + "\n"

    def stat(self) -> str:
        """compare.py's per-kind table."""
        r = self.report
        lines = [f"{'kind':12} {'old':>7} {'new':>7} {'same':>7} {'changed':>7} "
                 f"{'removed':>7} {'added':>7}"]
        for k, c in sorted(r.kinds.items()):
            lines.append(f"{k:12} {c.ref:7} {c.cand:7} {c.identical:7} {c.differ:7} "
                         f"{c.missing:7} {c.extra:7}")
        return "\n".join(lines) + "\n" + self.summary() + "\n"

    def as_dict(self) -> dict:
        return {"same": self.same, "counts": self.counts(),
                "kinds": {k: asdict(c) for k, c in sorted(self.report.kinds.items())},
                "changes": [asdict(c) for c in self.changes]}

    def json(self) -> str:
        return json.dumps(self.as_dict(), indent=1) + "\n"


def diff(old: Btf, new: Btf, kinds: set[str] | None = None) -> Diff:
    """What changed from `old` to `new`; `kinds` (compare's names, e.g.
    {"STRUCT", "FUNC"}) keeps only those."""
    rep = compare(old, new)
    a, b = _Side(old), _Side(new)
    changes = []
    for kind, name, bodies_a, bodies_b in rep.differ:
        changes.append(Change(kind, name, "changed", _details(a, b, kind, name,
                                                              bodies_a, bodies_b)))
    changes += [Change(k, n, "removed") for k, n in rep.missing]
    changes += [Change(k, n, "added", [_short(b.canon.body(i)) for i in b.ids(k, n)])
                for k, n in rep.extra]
    order = {"changed": 0, "removed": 1, "added": 2}
    changes.sort(key=lambda c: (c.kind, c.name, order[c.status]))
    if kinds:
        changes = [c for c in changes if c.kind in kinds]
        rep.kinds = {k: v for k, v in rep.kinds.items() if k in kinds}
    return Diff(rep, changes)


class _Side:
    """One BTF's named entries, found by (kind, name) on demand."""

    def __init__(self, btf: Btf):
        self.btf = btf
        self.canon = Canon(btf)
        self._index: dict[tuple[str, str], list[int]] | None = None

    def ids(self, kind: str, name: str) -> list[int]:
        if self._index is None:
            self._index = {}
            for type_id, t in zip(self.btf.own_ids(), self.btf.types):
                if t.name:
                    self._index.setdefault((t.kind.name, t.name), []).append(type_id)
        return self._index.get((kind, name), [])

    def ref(self, type_id: int) -> str:
        return _short(self.canon.ref(type_id))


def _details(a: _Side, b: _Side, kind: str, name: str,
             bodies_a: list[str], bodies_b: list[str]) -> list[str]:
    ia, ib = a.ids(kind, name), b.ids(kind, name)
    if len(ia) == 1 and len(ib) == 1:
        ta, tb = a.btf[ia[0]], b.btf[ib[0]]
        k = ta.kind
        if k in (Kind.STRUCT, Kind.UNION):
            return _members(a, b, ta, tb)
        if k in (Kind.ENUM, Kind.ENUM64):
            return _enum(ta, tb)
        if k == Kind.FUNC:
            return _proto(a, b, a.btf[ta.type], b.btf[tb.type]) + \
                _field("linkage", int(ta.linkage), int(tb.linkage))
        if k in (Kind.VAR, Kind.TYPEDEF):
            return _field("type", a.ref(ta.type), b.ref(tb.type)) + \
                (_field("linkage", int(ta.linkage), int(tb.linkage)) if k == Kind.VAR else [])
        if k == Kind.DATASEC:
            return _datasec(a, b, ta, tb)
    return [f"- {_short(x)}" for x in bodies_a] + [f"+ {_short(x)}" for x in bodies_b]


def _field(what: str, old, new) -> list[str]:
    return [] if old == new else [f"{what}: {old} -> {new}"]


def _members(a: _Side, b: _Side, ta, tb) -> list[str]:
    out = _field("size", ta.size, tb.size)

    def keyed(side: _Side, t) -> dict[str, str]:
        return {(m.name or f"#{i}"): f"{side.ref(m.type)} @{m.offset}"
                + (f":{m.bitfield_size}" if m.bitfield_size else "")
                for i, m in enumerate(t.members)}
    ma, mb = keyed(a, ta), keyed(b, tb)
    for n in ma:
        if n not in mb:
            out.append(f"- {n}: {ma[n]}")
        elif ma[n] != mb[n]:
            out.append(f"~ {n}: {ma[n]} -> {mb[n]}")
    out += [f"+ {n}: {mb[n]}" for n in mb if n not in ma]
    if not out and list(ma) != list(mb):
        out.append("member order changed")
    return out


def _enum(ta, tb) -> list[str]:
    out = _field("size", ta.size, tb.size) + _field("signed", ta.signed, tb.signed)
    va = {v.name: v.value for v in ta.values}
    vb = {v.name: v.value for v in tb.values}
    for n, v in va.items():
        if n not in vb:
            out.append(f"- {n} = {v}")
        elif vb[n] != v:
            out.append(f"~ {n} = {v} -> {vb[n]}")
    out += [f"+ {n} = {v}" for n, v in vb.items() if n not in va]
    return out


def _proto(a: _Side, b: _Side, pa, pb) -> list[str]:
    if pa.kind != Kind.FUNC_PROTO or pb.kind != Kind.FUNC_PROTO:
        return _field("type", a.ref(pa), b.ref(pb))
    out = _field("returns", a.ref(pa.ret), b.ref(pb.ret))
    for i in range(max(len(pa.params), len(pb.params))):
        x = _param(a, pa.params[i]) if i < len(pa.params) else None
        y = _param(b, pb.params[i]) if i < len(pb.params) else None
        if x != y:
            out.append(f"- arg {i}: {x}" if y is None else f"+ arg {i}: {y}" if x is None
                       else f"~ arg {i}: {x} -> {y}")
    return out


def _param(side: _Side, p) -> str:
    if not p.type and not p.name:
        return "..."
    return f"{p.name or '(anon)'}: {side.ref(p.type)}"


def _datasec(a: _Side, b: _Side, ta, tb) -> list[str]:
    def names(side: _Side, t) -> dict[str, str]:
        return {side.btf[v.type].name: f"@{v.offset}+{v.size}" for v in t.vars}
    va, vb = names(a, ta), names(b, tb)
    out = _field("size", ta.size, tb.size)
    out += [f"- {n} {w}" for n, w in va.items() if n not in vb]
    out += [f"~ {n} {w} -> {vb[n]}" for n, w in va.items() if n in vb and vb[n] != w]
    out += [f"+ {n} {w}" for n, w in vb.items() if n not in va]
    return out


def _short(text: str) -> str:
    return text if len(text) <= LONG else f"{text[:LONG]}... [{len(text)} chars]"
