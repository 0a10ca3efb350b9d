"""encoder/frozen.py: a dict packed into bytes answers as the dict does.

The base cache keeps dedup's tables and the base's string index this way;
a wrong answer would silently change what a module dedups against, so every
entry of real tables is asked, and keys that are not there, and the dict
operations the passes use on an `Overlay`.
"""

import marshal
import pickle

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from dedup.compact import compact_unit
from dedup.engine import BaseIndex
from encoder.btf.reader import load
from encoder import frozen as frozen_mod
from encoder.frozen import FrozenTable, Overlay, OverlayPy, frozen, key_hash_py, layered

from util import REPO

BASE = REPO / "fixtures" / "obj" / "kinds.gcc.dwarf5.btf"

scalars = st.one_of(st.integers(-2**70, 2**70), st.text(max_size=8), st.booleans(),
                    st.none())
keys = st.recursive(scalars, lambda inner: st.tuples(inner, inner) | st.tuples(inner),
                    max_leaves=6)


def typed(key):
    """`key` with its bools told from ints, as the table's hash tells them."""
    if isinstance(key, tuple):
        return tuple(typed(x) for x in key)
    return ("bool", key) if isinstance(key, bool) else key


def defined(table: dict, key) -> bool:
    """Whether a frozen table of `table` owes an answer for `key`: one built
    as the table's key was, or one equal to none of them.  False and 0 are
    one key to a dict and two to the table's hash; callers build each key
    one way (frozen.py), and Hypothesis found (0 packed, False asked)."""
    return key not in table or typed(key) in {typed(k) for k in table}


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(keys, st.integers() | st.lists(st.integers(), max_size=3)),
       st.lists(keys, max_size=20))
def test_every_entry_and_no_other(table, others):
    got = FrozenTable(FrozenTable.pack(table))
    assert len(got) == len(table)
    assert list(got.items()) == list(table.items())
    for k, v in table.items():
        assert got.get(k) == v and k in got
    for k in others:
        if defined(table, k):
            assert got.get(k, "absent") == table.get(k, "absent")


needs_c = pytest.mark.skipif(frozen_mod._cfrozen is None, reason="_cfrozen is not built")


@needs_c
@settings(max_examples=300, deadline=None)
@given(st.lists(keys | st.text(st.characters(), max_size=40), max_size=20))
def test_the_compiled_hash_is_the_reference(some):
    for k in some:
        assert frozen_mod._cfrozen.key_hash(k) == key_hash_py(k), k


@needs_c
@settings(max_examples=100, deadline=None)
@given(st.dictionaries(keys, st.integers()), st.lists(keys, max_size=20))
@example({0: 0}, [False, (0,)])
def test_the_compiled_probe_answers_as_the_reference(table, others):
    got = FrozenTable(FrozenTable.pack(table))
    for k in [*table, *others]:
        assert got._probe(k) == got._probe_py(k)
        if defined(table, k):
            assert (got._probe(k) is frozen_mod._MISSING) == (k not in table)


def test_a_key_of_no_known_kind_is_refused():
    for hash_ in (key_hash_py, frozen_mod.key_hash):
        with pytest.raises(TypeError):
            hash_((1, [2]))


@needs_c
def test_a_slot_past_the_entries_is_refused_not_read():
    blob = bytearray(FrozenTable.pack({("a", 1): 1}))
    table = FrozenTable(bytes(blob))
    slot = 12 + 4 * (frozen_mod.key_hash(("a", 1)) & table._mask)
    blob[slot:slot + 4] = (7).to_bytes(4, "little")
    with pytest.raises(ValueError):
        frozen_mod._cfrozen.probe(bytes(blob), ("a", 1), None)


def test_the_tables_of_a_real_base():
    """Dedup's index of a fixture BTF: its big tables frozen and probed with
    every key, and with keys one field off (through the Overlays the thawed
    index asks them through)."""
    index = BaseIndex(*compact_unit(load(BASE).types))
    state = index.state()
    thawed = BaseIndex.from_state(marshal.loads(marshal.dumps(state)))
    for mine, theirs in ((index.ref_table, thawed.ref_table),
                         (index._candidates, thawed._candidates),
                         (index.partition().keys, thawed.partition().keys),
                         (index.class_first, thawed.class_first)):
        assert len(theirs.frozen) == len(mine) > 0 and not theirs.own
        for k, v in mine.items():
            assert theirs.get(k) == v
            if isinstance(k, tuple):
                assert theirs.get((*k, 0)) is None
    assert thawed.state() == state


OVERLAYS = [pytest.param(OverlayPy, id="python"),
            pytest.param(getattr(frozen_mod._cfrozen, "Overlay", None), id="compiled",
                         marks=needs_c)]


@pytest.mark.parametrize("cls", OVERLAYS)
def test_overlay_writes_stay_in_the_overlay(cls):
    base = FrozenTable(FrozenTable.pack({("a", 1): 1, ("b", 2): 2}))
    one = cls(base)
    assert isinstance(base.copy(), Overlay)
    one[("c", 3)] = 3
    assert one.setdefault(("a", 1), 9) == 1 and one.setdefault(("d", 4), 4) == 4
    two = one.copy()
    two[("e", 5)] = 5
    assert ("e", 5) in two and ("e", 5) not in one and ("c", 3) not in base
    assert one.pop(("c", 3)) == 3 and one.get(("c", 3)) is None
    with pytest.raises(KeyError):
        one[("z",)]
    assert frozen(base) == base.blob and frozen(base.copy()) == base.blob
    assert dict(FrozenTable(frozen(two)).items()) == {("a", 1): 1, ("b", 2): 2, ("c", 3): 3,
                                                       ("d", 4): 4, ("e", 5): 5}


ops = st.lists(st.tuples(st.sampled_from(["get", "[]", "in", "set", "setdefault", "pop",
                                           "copy"]), keys, st.integers()), max_size=40)


@needs_c
@settings(max_examples=150, deadline=None)
@given(st.dictionaries(keys, st.integers()), ops, st.booleans())
def test_the_compiled_overlay_answers_as_the_reference(table, script, packed):
    """The same operations on both, over the same kind of table: the same
    answers, the same errors, and the same answers cached by the table."""
    def under():
        return FrozenTable(FrozenTable.pack(table)) if packed else dict(table)

    def run(cls, base):
        top, said = cls(base), []
        for op, key, value in script:
            try:
                if op == "get":
                    said.append(top.get(key, "absent"))
                elif op == "[]":
                    said.append(top[key])
                elif op == "in":
                    said.append(key in top)
                elif op == "set":
                    top[key] = value
                elif op == "setdefault":
                    said.append(top.setdefault(key, value))
                elif op == "pop":
                    said.append(top.pop(key))
                else:
                    top = top.copy()
            except KeyError as e:
                said.append(("KeyError", e.args))
        return said, dict(top.own)

    mine, theirs = under(), under()
    said_c, own_c = run(frozen_mod._cfrozen.Overlay, mine)
    said_py, own_py = run(OverlayPy, theirs)
    assert said_c == said_py
    assert own_c == own_py
    if packed:
        assert mine._seen == theirs._seen


@needs_c
def test_the_compiled_overlay_keeps_to_what_it_can_read():
    cls = frozen_mod._cfrozen.Overlay
    table = FrozenTable(FrozenTable.pack({("a", 1): 1}))
    for bad in ((object(),), (table, [("b", 2)]), ()):
        with pytest.raises(TypeError):
            cls(*bad)
    top = cls(table, {("b", 2): 2})
    with pytest.raises(TypeError):
        del top[("b", 2)]
    assert top.frozen is table and top[("a", 1)] == 1
    again = pickle.loads(pickle.dumps(cls({("a", 1): 1}, {("b", 2): 2})))
    assert again.own == {("b", 2): 2} and again[("a", 1)] == 1


@pytest.mark.parametrize("under", ["dict", "frozen"])
def test_a_layer_leaves_the_table_under_it_alone(under):
    table = {("a", 1): 1, ("b", 2): 2}
    if under == "frozen":
        table = FrozenTable(FrozenTable.pack(table))
    top = layered(table)
    top[("c", 3)] = 3
    assert top.setdefault(("a", 1), 9) == 1 and top[("b", 2)] == 2
    again = layered(top)
    again[("d", 4)] = 4
    assert ("d", 4) not in top and ("c", 3) in again
    assert dict(table.items()) == {("a", 1): 1, ("b", 2): 2}
    assert dict(FrozenTable(frozen(again)).items()) == {("a", 1): 1, ("b", 2): 2,
                                                         ("c", 3): 3, ("d", 4): 4}
    assert dict(FrozenTable(frozen(layered(table))).items()) == dict(table.items())


def test_not_a_table():
    for junk in (b"", b"FRZ1", b"XXXX" + bytes(8), FrozenTable.pack({1: 2})[:-1]):
        with pytest.raises(ValueError):
            FrozenTable(junk)
