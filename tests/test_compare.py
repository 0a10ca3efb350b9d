"""encoder.btf.compare: what counts as the same, including through a base."""

from encoder.btf.compare import compare
from encoder.btf.kinds import IntEncoding
from encoder.btf.model import Btf, Int, Member, Ptr, Struct


def _base(size: int) -> Btf:
    return Btf([Int("int", 4, 32, IntEncoding.SIGNED), Struct("S", size, [Member("x", 1, 0)])])


def _split_with_s(base: Btf) -> Btf:
    f = base.type_count
    return Btf([Struct("S", 4, [Member("x", 1, 0)]), Ptr(f)], base=base)


def _split_without_s(base: Btf) -> Btf:
    return Btf([Ptr(2)], base=base)


def test_identical_entries_and_renumbering():
    a = Btf([Int("int", 4, 32, IntEncoding.SIGNED), Struct("S", 4, [Member("x", 1, 0)])])
    b = Btf([Ptr(3), Int("int", 4, 32, IntEncoding.SIGNED), Struct("S", 4, [Member("x", 2, 0)])])
    rep = compare(a, b)
    assert rep.share_identical() == 1.0 and rep.in_base == 0


def test_member_offset_change_is_a_difference():
    a = Btf([Int("int", 4, 32), Struct("S", 8, [Member("x", 1, 0)])])
    b = Btf([Int("int", 4, 32), Struct("S", 8, [Member("x", 1, 32)])])
    rep = compare(a, b)
    assert rep.kinds["STRUCT"].differ == 1 and rep.share_identical() < 1.0


def test_split_entry_found_identical_in_the_candidates_base():
    ref = _split_with_s(_base(4))
    rep = compare(ref, _split_without_s(_base(4)))
    assert rep.share_identical() == 1.0 and rep.in_base == 1 and not rep.missing


def test_split_entry_whose_base_copy_differs_is_missing():
    ref = _split_with_s(_base(4))
    rep = compare(ref, _split_without_s(_base(8)))
    assert rep.missing == [("STRUCT", "S")] and rep.in_base == 0
