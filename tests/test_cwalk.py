"""The compiled walk (_cwalk.c) against the reference walk (walk.py), and
the type signatures that let the encoder skip what earlier units described.

Both walks run on the same inputs and must give the same records, value for
value and type for type; encoding with and without signatures must give the
same bytes.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess

import pytest

from encoder.btf.writer import encode as write
from encoder.dwarf import fast, walk
from encoder.dwarf.constants import Tag
from encoder.dwarf.dies import F_DECLARATION, F_NAME, F_OFFSET, F_PARENT, F_TAG
from encoder.dwarf.reader import Dwarf
from encoder.encode import Request, encode
from encoder.features import Features

HERE = os.path.dirname(__file__)
OBJECTS = sorted(glob.glob(os.path.join(HERE, "..", "fixtures", "obj", "*.o")))
FEATURES = "var,decl_tag,type_tag,enum64,float"

needs_cwalk = pytest.mark.skipif(not fast.available(),
                                 reason="the compiled walk is not built (no C compiler)")


def _same_records(path: str) -> int:
    """Walk every unit both ways; return how many records were compared."""
    n = 0
    with Dwarf.open(path) as d:
        for unit in d.units():
            ref = walk.walk_unit(d, unit)
            got = fast.walk_unit(d, unit)
            assert got.visited == ref.visited
            assert (got.name, got.producer, got.language) == (ref.name, ref.producer,
                                                              ref.language)
            assert len(got.dies) == len(ref.dies)
            kids: dict[int, list[int]] = {}
            for i, want in enumerate(ref.dies):
                have = got.dies[i]
                assert have == want, (path, i)
                assert [type(v) for v in have] == [type(v) for v in want], (path, i)
                if want[F_PARENT] >= 0:
                    kids.setdefault(want[F_PARENT], []).append(i)
                assert got.index().get(want[F_OFFSET]) == i
            if hasattr(got.dies, "children"):
                for i in range(len(ref.dies)):
                    assert got.dies.children(i) == kids.get(i, [])
            n += len(ref.dies)
    return n


@needs_cwalk
@pytest.mark.parametrize("path", OBJECTS, ids=os.path.basename)
def test_compiled_walk_gives_the_reference_records(path):
    _same_records(path)


@needs_cwalk
def test_lookup_misses_and_bounds():
    with Dwarf.open(OBJECTS[0]) as d:
        unit = next(d.units())
        recs = fast.walk_unit(d, unit).dies
        assert recs.get(None) is None
        assert recs.get(-5, "x") == "x"
        assert recs.get(recs[0][F_OFFSET] + 1) is None
        last = recs[len(recs) - 1][F_OFFSET]
        assert recs.get(last) == len(recs) - 1
        # past the last record, within its index slot and beyond
        assert [recs.get(last + k) for k in (1, 15, 16, 17, 1 << 20)] == [None] * 5
        with pytest.raises(IndexError):
            recs[len(recs)]
        assert recs.children(len(recs) + 3) == []


def _encode(path: str, *, signatures: bool, jobs: int = 1) -> bytes:
    req = Request(path, features=Features.parse(FEATURES), signatures=signatures, jobs=jobs)
    return write(encode(req).btf)


@needs_cwalk
@pytest.mark.parametrize("path", OBJECTS, ids=os.path.basename)
def test_signatures_change_nothing_in_the_output(path):
    assert _encode(path, signatures=True) == _encode(path, signatures=False)


@pytest.fixture(scope="module")
def linked(tmp_path_factory) -> str:
    """The gcc DWARF 5 fixture objects linked into one (many units)."""
    if not shutil.which("ld"):
        pytest.skip("no ld to link the fixtures")
    out = tmp_path_factory.mktemp("linked") / "linked.o"
    objs = [p for p in OBJECTS if ".gcc.dwarf5." in p]
    subprocess.run(["ld", "-r", "--allow-multiple-definition", "-o", str(out), *objs],
                   check=True)
    with Dwarf.open(str(out)) as d:
        assert len(list(d.units())) >= len(objs) > 8
    return str(out)


def _entries(dump: bytes) -> dict:
    """Names.dump() as {key: (sig, state, refs)}."""
    words, out, i = memoryview(dump).cast("Q"), {}, 0
    while i < len(words):
        nref = words[i + 4] >> 32
        out[tuple(words[i:i + 2])] = (tuple(words[i + 2:i + 4]), words[i + 4] & 0xFF,
                                      tuple(words[i + 5:i + 5 + 2 * nref]))
        i += 5 + 2 * nref
    return out


@needs_cwalk
def test_names_merged_from_shares_are_one_pass(linked, monkeypatch):
    with Dwarf.open(linked) as d:
        whole = fast.names(d)
        want = _entries(whole.dump())
        assert {state for _, state, _ in want.values()} >= {1, 2}
        for jobs in (2, 3, 5):
            got = fast.names(d, jobs=jobs)
            assert _entries(got.dump()) == want, jobs
            assert len(got) == len(whole)


@needs_cwalk
def test_pass_1_signs_what_definitions_reach_and_gets_the_whole_table(linked):
    """Pass 1 signs only what its named definitions reach through uncut
    references; signing every type node gives the same table, with or
    without a base's names excluded."""
    with Dwarf.open(linked) as d:
        units = [fast.walk_unit(d, u).dies for u in d.units()]
    skipped = 0
    for exclude in ((), ["list_head", "kinds_s", "mixed"]):
        lazy, every = fast._cwalk.Names(), fast._cwalk.Names()
        for table in (lazy, every):
            table.exclude(fast.name_keys(exclude))
        for recs in units:
            every.add(recs, True)
            whole = [recs.sig(i) for i in range(len(recs))]
            lazy.add(recs)
            part = [recs.sig(i) for i in range(len(recs))]
            assert all(p in (None, w) for p, w in zip(part, whole))
            skipped += sum(p is None and w is not None for p, w in zip(part, whole))
        assert _entries(lazy.dump()) == _entries(every.dump()), exclude
        assert lazy.finish() == every.finish()
    assert skipped


def _converted(dies, todo) -> tuple:
    from encoder.encode import KNOWN_FIRST, UNIT_FIRST
    from encoder.graph.convert import Options, convert
    ut = convert(dies.dies, dies.index(), first_id=UNIT_FIRST, opts=Options(), todo=todo,
                 known=dies.dies.sig, known_first=KNOWN_FIRST, compact=True)
    return ut.labels, ut.refs, ut.types, ut.known, ut.signed, ut.funcs, ut.vars


def _pass1_signing_agrees(path: str, passes: int) -> int:
    """classify with pass 1's signatures for the known definitions of the
    names it cuts at (quick) against hashing every node: unit after unit,
    `passes` times over, the same todo, the same signatures, the same
    conversion.  Returns how many definitions took pass 1's signature."""
    taken = 0
    with Dwarf.open(path) as d:
        names = fast.names(d)
        quick, full = fast.SigSet(), fast.SigSet()
        for _ in range(passes):
            for unit in d.units():
                a, b = fast.walk_unit(d, unit), fast.walk_unit(d, unit)
                if not hasattr(a.dies, "classify"):
                    continue
                todo = a.dies.classify(quick, 0, names, None, True)
                assert todo == b.dies.classify(full, 0, names, None, False), unit.offset
                assert b.dies.pass1_signed == 0
                taken += a.dies.pass1_signed
                assert [a.dies.sig(i) for i in range(len(a.dies))] == \
                    [b.dies.sig(i) for i in range(len(b.dies))], unit.offset
                assert _converted(a, todo) == _converted(b, todo), unit.offset
        assert len(quick) == len(full)
    return taken


@needs_cwalk
def test_known_definitions_take_pass_1s_signature(linked):
    assert _pass1_signing_agrees(linked, passes=2) > 0


@needs_cwalk
def test_workers_sign_on_their_own(linked, monkeypatch):
    """With -j, each worker skips what it converted itself; what two workers
    both converted dedup merges: the same bytes as one process."""
    import encoder.encode
    monkeypatch.setattr(encoder.encode, "PARALLEL_MIN_BYTES", 0)
    want = _encode(linked, signatures=False)
    for jobs in (1, 2, 3):
        assert _encode(linked, signatures=True, jobs=jobs) == want, jobs


def test_candidates_cross_processes_whole():
    """Workers hand candidates back pickled through their own __reduce__:
    every field, nested prototypes and parameters included, arrives."""
    import pickle

    from encoder.btf.model import FuncProto, Param
    from encoder.graph.convert import FuncCandidate, VarCandidate
    from encoder.record import fields

    def made(cls, k):
        """An instance whose every field differs from its default."""
        args = {}
        for i, name in enumerate(fields(cls)):
            hint = cls.__annotations__[name]
            if name in ("proto", "own_proto"):
                args[name] = made(FuncProto, k + i)
            elif name == "params":
                args[name] = [made(Param, k + i), Param("", 0)]
            elif name == "tags":
                args[name] = [(f"tag{k}", i - 1)]
            elif hint == "bool":
                args[name] = (k + i) % 2 == 0
            elif "str" in hint:
                args[name] = f"{name}{k}"
            else:
                args[name] = 1000 * k + i + 1
        return cls(**args)

    for cls in (Param, FuncProto, FuncCandidate, VarCandidate):
        for k in (1, 2):
            x = made(cls, k)
            assert pickle.loads(pickle.dumps(x, pickle.HIGHEST_PROTOCOL)) == x, cls


@needs_cwalk
def test_units_pass_1_keeps_give_the_bytes_of_walking_again(linked, monkeypatch):
    """Below KEEP_MAX_BYTES pass 2 takes the units pass 1 walked (each once:
    none is left over) instead of walking them again: the same bytes."""
    kept = []
    walk_unit = fast.walk_unit

    def counting(dwarf, unit):
        kept.append(unit.offset in dwarf.walked)
        return walk_unit(dwarf, unit)

    monkeypatch.setattr(fast, "walk_unit", counting)
    monkeypatch.setattr(fast, "KEEP_MAX_BYTES", 0)
    again = _encode(linked, signatures=True)
    assert kept and not any(kept)
    kept.clear()
    monkeypatch.setattr(fast, "KEEP_MAX_BYTES", 1 << 40)
    assert _encode(linked, signatures=True) == again
    n = len(kept) // 2
    assert not any(kept[:n]) and all(kept[n:]), "pass 2 walked again"
    with Dwarf.open(linked) as d:
        fast.names(d)
        assert len(d.walked) == len(list(d.units()))
        for unit in d.units():
            fast.walk_unit(d, unit)
        assert not d.walked


def test_merge_refuses_what_no_dump_gives():
    if not fast.available():
        pytest.skip("the compiled walk is not built")
    table = fast._cwalk.Names()
    word = (1).to_bytes(8, "little")
    # not whole words; state 0; a name said to refer to 9 names, none given
    for junk in (b"\x01", bytes(8 * 5), word * 4 + (1 | 9 << 32).to_bytes(8, "little")):
        with pytest.raises(ValueError):
            table.merge(junk)


def test_without_the_extension_the_reference_walk_encodes(monkeypatch):
    """What a machine without a C compiler runs: walk.py for everything."""
    path = next(p for p in OBJECTS if "multi" in p or "kinds" in p)
    want = _encode(path, signatures=False)
    monkeypatch.setattr(fast, "_cwalk", None)
    assert not fast.available()
    assert _encode(path, signatures=True) == want


@needs_cwalk
def test_a_unit_seen_twice_has_no_new_types_the_second_time():
    path = next(p for p in OBJECTS if "kinds.gcc" in p)
    with Dwarf.open(path) as d:
        unit = next(d.units())
        seen = fast.SigSet()
        recs = fast.walk_unit(d, unit).dies
        first = recs.classify(seen, 0)
        signed = [i for i in first if recs.sig(i) is not None]
        assert signed and len(seen) == len({recs.sig(i) for i in signed})
        again = fast.walk_unit(d, unit).dies.classify(seen, 0)
        assert not [i for i in again if recs.sig(i) is not None]
        # what stays to convert: functions, variables and what hangs under them
        assert all(recs[i][F_TAG] not in (Tag.structure_type, Tag.union_type,
                                          Tag.typedef, Tag.enumeration_type)
                   for i in again)


@needs_cwalk
def test_names_defined_one_way_are_cut():
    path = next(p for p in OBJECTS if "kinds.gcc" in p)
    with Dwarf.open(path) as d:
        table = fast.names(d)
        recs = fast.walk_unit(d, next(d.units())).dies
        structs = [recs[i][F_NAME] for i in range(len(recs))
                   if recs[i][F_TAG] == Tag.structure_type and recs[i][F_NAME]
                   and not recs[i][F_DECLARATION]]
    assert structs
    assert table.finish() >= 1
    for name in structs:
        state, cut, _ = table.info(int(Tag.structure_type), name)
        assert state == 1 and cut == 1
    # declared, never defined: not in the table, and so cut (every unit
    # sees the same declaration)
    assert table.info(int(Tag.structure_type), "node") is None
    # a base's names are never cut at, given as names or as their keys
    with Dwarf.open(path) as d:
        for exclude in (structs[:1], fast.name_keys(structs[:1])):
            table = fast.names(d, exclude=exclude)
            assert table.info(int(Tag.structure_type), structs[0]) == (4, 0, 0)
            assert all(table.info(int(Tag.structure_type), name)[1] for name in structs[1:])


@pytest.mark.corpus
@needs_cwalk
def test_pass_1s_signatures_on_real_modules(corpus_dir):
    import corpus
    mods = corpus.dbg_module_paths(corpus_dir)[::150]
    assert sum(_pass1_signing_agrees(str(p), passes=1) for p in mods) > 0


@pytest.mark.corpus
@needs_cwalk
def test_compiled_walk_on_a_real_module(corpus_dir):
    import corpus
    xfs = next(p for p in corpus.dbg_module_paths(corpus_dir) if p.name == "xfs.ko")
    assert _same_records(str(xfs)) > 500_000
