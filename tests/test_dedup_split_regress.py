"""Split-BTF regressions: base FWDs that the module defines.

Both cases come from Debian modules over Debian's vmlinux BTF, where we left
far more types than libbpf's `btf__dedup` (ip_vs_rr.ko: 1,454 vs 134;
ib_core.ko: 3,183 vs 1,945).  Expected counts and
mappings are libbpf's (Debian's libbpf 1.1 on the units concatenated,
checked by hand when the tests were written).

A: the base's `struct net` points to a FWD `netns_ipvs` that ip_vs_rr
   defines.  The module's `net` stays (its walk against the base's would
   need the base FWD resolved: libbpf's `hypot_adjust_canon`), but from then
   on the base FWD stands for the module's struct, so `sock`, `sk_buff`, ...
   that reach `net` map onto the base instead of all staying.
B: ib_core's `ib_device` is seen by one CU with `hw_stats_device_data`
   defined and by another with only its FWD; the second copy's walk against
   the first met the base FWD the first one's reference had become, and
   failed.  Once the module defines it, that base FWD stands for the module
   struct, and the two views merge.
"""

from __future__ import annotations

import pytest

from dedup import Deduper
from encoder.btf.dump import dump_text
from encoder.btf.kinds import IntEncoding
from encoder.btf.model import Btf, Fwd, Int, Member, Ptr, Struct

pytestmark = pytest.mark.usefixtures("dedup_walks")   # _cdedup.c and engine.py's loops

INT = Int("int", 4, 32, IntEncoding.SIGNED)


def _run(base: Btf, units: list[list]):
    d = Deduper(base)
    for u in units:
        d.add_unit(u)
    out, maps = d.finish()
    return out, maps


# -- A: a base struct whose only difference is a FWD the module defines -----

def _net_base() -> Btf:
    return Btf([INT, Fwd("S"), Ptr(2), Struct("net", 8, [Member("ipvs", 3, 0)]), Ptr(4),
                Struct("sock", 8, [Member("net", 5, 0)]), Ptr(6),
                Struct("sk_buff", 8, [Member("sk", 7, 0)])])


def test_base_fwd_defined_by_module_blocks_only_first_match():
    base = _net_base()
    F = base.type_count                                      # 9
    unit = [INT, Struct("S", 4, [Member("x", F, 0)]), Ptr(F + 1),
            Struct("net", 8, [Member("ipvs", F + 2, 0)]), Ptr(F + 3),
            Struct("sock", 8, [Member("net", F + 4, 0)]), Ptr(F + 5),
            Struct("sk_buff", 8, [Member("sk", F + 6, 0)])]
    out, maps = _run(base, [unit])
    # libbpf: S, *S, net (refused: it would resolve the base FWD), *net;
    # sock and sk_buff (and the pointer to sock) map onto the base.
    assert "".join(dump_text(out)) == (
        "[9] STRUCT 'S' size=4 vlen=1\n"
        "\t'x' type_id=1 bits_offset=0\n"
        "[10] PTR '(anon)' type_id=9\n"
        "[11] STRUCT 'net' size=8 vlen=1\n"
        "\t'ipvs' type_id=10 bits_offset=0\n"
        "[12] PTR '(anon)' type_id=11\n")
    m = maps[0]
    assert m[F] == 1
    assert [m[F + i] for i in (5, 6, 7)] == [6, 7, 8]        # sock, *sock, sk_buff
    assert m[F + 3] == 11                                    # net stays the module's
    assert len(out.types) == 4


def test_base_fwd_defined_by_module_later_unit():
    """The FWD's definition and the structs reaching it in separate units,
    and a unit that only sees the FWD: still nothing of the base kept but
    what libbpf keeps, and never the module's `net` merged into the base's."""
    base = _net_base()
    F = base.type_count
    u1 = [INT, Struct("S", 4, [Member("x", F, 0)]), Ptr(F + 1),
          Struct("net", 8, [Member("ipvs", F + 2, 0)]), Ptr(F + 3)]
    u2 = [INT, Fwd("S"), Ptr(F + 1), Struct("net", 8, [Member("ipvs", F + 2, 0)]),
          Ptr(F + 3), Struct("sock", 8, [Member("net", F + 4, 0)]), Ptr(F + 5),
          Struct("sk_buff", 8, [Member("sk", F + 6, 0)])]
    out, maps = _run(base, [u1, u2])
    names = [t.name for t in out.types if isinstance(t, Struct)]
    assert names == ["S", "net"]
    assert maps[0][F + 3] == 11           # the module's net, with S defined
    # a view with FWD S: the module's own net (its FWD stands for the S it
    # meets there); libbpf happens to pick the base's (4) -- the same count
    assert maps[1][F + 3] == 11
    assert [maps[1][F + i] for i in (5, 6, 7)] == [6, 7, 8]
    assert len(out.types) == 4


# -- B: two views of one module struct, one through a base FWD --------------

def _dev_base() -> Btf:
    return Btf([INT, Fwd("P"), Ptr(2), Fwd("H"), Ptr(4),
                Struct("Dev", 16, [Member("p", 3, 0), Member("h", 5, 64)])])


def _dev_cu(first: int, def_p: bool, def_h: bool) -> list:
    out = [INT]
    for name, defined in (("P", def_p), ("H", def_h)):
        out.append(Struct(name, 4, [Member("x", first, 0)]) if defined else Fwd(name))
        out.append(Ptr(first + len(out) - 1))
    return out + [Struct("Dev", 16, [Member("p", first + 2, 0),
                                     Member("h", first + 4, 64)])]


@pytest.mark.parametrize("halves", [[(True, False), (False, True)],
                                    [(False, True), (True, False)],
                                    [(False, False), (True, True)],
                                    [(True, True)]])
def test_views_through_base_fwd_merge(halves):
    base = _dev_base()
    F = base.type_count                                      # 7
    units = [_dev_cu(F, p, h) for p, h in halves]
    out, maps = _run(base, units)
    structs = [t.name for t in out.types if isinstance(t, Struct)]
    assert sorted(structs) == ["Dev", "H", "P"]              # one Dev, both halves
    dev = [m[F + 5] for m in maps]
    if halves[0] == (False, False):
        # the all-FWD view is the base's Dev; the full one cannot be (it
        # would resolve base FWDs) and stays
        assert dev == [6, 11]
    else:
        assert len(set(dev)) == 1 and dev[0] >= F
    assert len(out.types) == 5
