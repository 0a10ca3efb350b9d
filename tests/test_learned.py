"""encoder/learned.py's loops over signatures: compiled (_clearned.c) and
reference give the same answers and leave the same tables.

What a batch learns decides what later modules skip; a wrong verdict would
let a module refer to a base type its own DWARF does not prove, so both
implementations are held to the same tables on random units and on real
modules one after another.
"""

from __future__ import annotations

import array
import random

import pytest

from encoder import api, learned
from encoder.btf.reader import load
from util import REPO

OBJ = REPO / "fixtures" / "obj"
compiled = learned._clearned
needs_compiled = pytest.mark.skipif(compiled is None, reason="encoder/_clearned.c was not built")


def _sig(rnd: random.Random) -> bytes:
    return bytes([rnd.randrange(6)]) * 16      # few distinct: repeats and collisions


@needs_compiled
def test_the_loops_match_the_reference_on_random_units():
    rnd = random.Random(3)
    for _ in range(400):
        first, n = 100, rnd.randrange(0, 12)
        dirty = bytearray(rnd.randrange(2) for _ in range(n))
        signed = [(_sig(rnd), rnd.choice([0, 7, *range(first, first + n + 2)]))
                  for _ in range(rnd.randrange(0, 10))]
        clean = {_sig(rnd): rnd.random() < 0.5 for _ in range(rnd.randrange(0, 3))}
        table = {_sig(rnd): rnd.randrange(50) for _ in range(rnd.randrange(0, 3))}
        known = [_sig(rnd) for _ in range(rnd.randrange(0, 6))]

        assert compiled.known_verdicts(known, clean, table) == \
            learned.known_verdicts_py(known, clean, table)
        clean_c, clean_py = dict(clean), dict(clean)
        mine_c = compiled.note_signed(signed, first, n, dirty, clean_c)
        mine_py = learned.note_signed_py(signed, first, n, dirty, clean_py)
        assert mine_c == mine_py and list(clean_c.items()) == list(clean_py.items())

        own = array.array("I", [rnd.randrange(60) for _ in range(n)])
        base = bytes(rnd.random() < 0.2 for _ in range(50))
        t_c, t_py = dict(table), dict(table)
        assert compiled.learn_signed(mine_c, dirty, first, own, first, 50, base, t_c) == \
            learned.learn_signed_py(mine_py, dirty, first, own, first, 50, base, t_py)
        assert list(t_c.items()) == list(t_py.items())


@needs_compiled
def test_store_ids_match_the_reference_on_random_units():
    rnd = random.Random(4)
    for _ in range(400):
        first, known_first = 100, 50
        own = array.array("I", [rnd.randrange(1000) for _ in range(rnd.randrange(0, 8))])
        known = array.array("I", [rnd.randrange(1000) for _ in range(rnd.randrange(0, 5))])
        ids = [0, 3, *range(known_first, known_first + len(known)),
               *range(first, first + len(own))]
        if not known:
            ids.append(known_first + 1)     # no known types: an id as it is
        signed = [(_sig(rnd), rnd.choice(ids)) for _ in range(rnd.randrange(0, 10))]
        into = {_sig(rnd): rnd.randrange(9) for _ in range(rnd.randrange(0, 3))}
        into_c, into_py = dict(into), dict(into)
        compiled.first_ids(signed, into_c, first, own, known_first, known)
        learned.first_ids_py(signed, into_py, first, own, known_first, known)
        assert list(into_c.items()) == list(into_py.items())

        sigs = [_sig(rnd) for _ in range(rnd.randrange(0, 6))]
        other = {_sig(rnd): rnd.randrange(9) for _ in range(4)}
        try:
            want = learned.known_ids_py(sigs, into_py, other)
        except KeyError as e:
            with pytest.raises(KeyError) as got:
                compiled.known_ids(sigs, into_c, other)
            assert got.value.args == e.args
        else:
            assert compiled.known_ids(sigs, into_c, other) == want


@needs_compiled
def test_the_loops_refuse_what_they_cannot_read():
    with pytest.raises(ValueError):
        compiled.note_signed([], 1, 3, b"\0", {})
    with pytest.raises(TypeError):
        compiled.note_signed([(b"x",)], 1, 1, b"\0", {})
    with pytest.raises(IndexError):
        compiled.learn_signed([(b"x", 9)], b"\0", 1, array.array("I", [0]), 1, 5,
                              bytes(5), {})
    with pytest.raises(IndexError):     # a base id past dirty_base
        compiled.learn_signed([(b"x", 1)], b"\0", 1, array.array("I", [3]), 1, 5,
                              bytes(2), {})
    with pytest.raises(TypeError):
        compiled.learn_signed([], b"", 1, array.array("H"), 1, 5, bytes(5), {})
    with pytest.raises(IndexError):
        compiled.first_ids([(b"x", 9)], {}, 5, array.array("I", [1]), 2, array.array("I"))


def _learned_tables(monkeypatch, use_c: bool) -> list:
    from encoder import encode
    for name in ("first_ids", "known_ids"):
        monkeypatch.setattr(encode, name, getattr(compiled if use_c else learned,
                                                  name if use_c else name + "_py"))
    monkeypatch.setattr(learned, "note_signed",
                        compiled.note_signed if use_c else learned.note_signed_py)
    monkeypatch.setattr(learned, "known_verdicts",
                        compiled.known_verdicts if use_c else learned.known_verdicts_py)
    monkeypatch.setattr(learned, "learn_signed",
                        compiled.learn_signed if use_c else learned.learn_signed_py)
    learned._LEARNED.clear()
    base = load(OBJ / "kinds.gcc.dwarf5.btf")
    for m in sorted(OBJ.glob("*.gcc.dwarf4.o")) + sorted(OBJ.glob("*.clang.dwarf5.o")):
        api.encode(m, base, features="default")
    tables = [list(t.items()) for by in learned._LEARNED.values() for t, _ in by.values()]
    monkeypatch.undo()
    learned._LEARNED.clear()
    return tables


@needs_compiled
def test_real_modules_learn_the_same_either_way(monkeypatch):
    want = _learned_tables(monkeypatch, False)
    assert sum(len(t) for t in want) > 10, "nothing was learned: the test proves nothing"
    assert _learned_tables(monkeypatch, True) == want
