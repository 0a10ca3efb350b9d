"""The compiled type makers (_cconvert.c) against convert.py's.

On the same units, with and without signatures and under both option sets
that change how types convert, the compiled makers must give exactly the
(label, refs) pairs `compact_unit` makes of convert.py's model types (value
for value and type for type: a bool stays a bool), the same known
references in the same order, and leave the same function and variable
candidates.  Where the C side declines a unit (annotations, a value convert.py
warns or raises about), convert.py does it: the result and any error are
the same either way.
"""

from __future__ import annotations

import glob
import os

import pytest

from dedup.compact import compact_unit
from encoder.dwarf import fast
from encoder.dwarf.reader import Dwarf
from encoder.encode import KNOWN_FIRST, UNIT_FIRST
from encoder.errors import Dwarf2BtfError, DwarfError
from encoder.graph import convert as conv

HERE = os.path.dirname(__file__)
OBJECTS = sorted(glob.glob(os.path.join(HERE, "..", "fixtures", "obj", "*.o")))
OPTIONS = (conv.Options(), conv.Options(float=False, enum64=False, func_facts=True))

needs_compiled = pytest.mark.skipif(
    conv._compiled_types is None, reason="the compiled makers are not built (no C compiler)")


def _typed(labels):
    """Labels with each item's type, so True and 1 differ."""
    return [tuple((type(x), x) for x in lab) for lab in labels]


def _both(path: str, signed: bool, opts: conv.Options) -> tuple[int, int]:
    """Convert every unit both ways; return (units the C makers did, units
    left to convert.py)."""
    done = declined = 0
    with Dwarf.open(path) as dwarf:
        seen = fast.SigSet() if signed else None
        names = fast.names(dwarf) if signed else None
        for unit in dwarf.units():
            dies = fast.walk_unit(dwarf, unit)
            recs = dies.dies
            if not hasattr(recs, "classify"):
                continue
            todo = known = None
            if signed:
                todo, known = recs.classify(seen, 0, names, None), recs.sig
            kw = dict(first_id=UNIT_FIRST if signed else 1, opts=opts, todo=todo, known=known,
                      known_first=KNOWN_FIRST)
            got = want = None
            try:
                got = conv.convert(recs, dies.index(), compact=True, **kw)
            except DwarfError as e:
                got = str(e)
            try:
                want = conv.convert(recs, dies.index(), **kw)
            except DwarfError as e:
                want = str(e)
            if isinstance(want, str) or isinstance(got, str):
                assert got == want, (path, unit.offset)
                declined += 1
                continue
            assert want.labels is None and want.types is not None
            if got.labels is None:
                declined += 1
                continue
            done += 1
            labels, refs = compact_unit(want.types)
            assert got.types is None
            assert _typed(got.labels) == _typed(labels), (path, unit.offset)
            assert got.refs == refs, (path, unit.offset)
            assert (got.known, got.signed, got.funcs, got.vars, got.warnings) == \
                (want.known, want.signed, want.funcs, want.vars, want.warnings)
    return done, declined


@needs_compiled
@pytest.mark.parametrize("signed", (False, True), ids=("all", "signed"))
@pytest.mark.parametrize("opts", OPTIONS, ids=("latest", "old"))
def test_compiled_makers_match_convert_on_fixtures(signed, opts):
    done = declined = 0
    for path in OBJECTS:
        try:
            d, n = _both(path, signed, opts)
        except Dwarf2BtfError:
            continue            # a fixture the reader refuses (split DWARF, ...)
        done += d
        declined += n
    # both sides exercised: most units in C, the annotated ones (clang's
    # btf_type_tag fixtures) and the broken ones in Python
    assert done > 100 and declined > 0


@needs_compiled
def test_annotated_units_are_left_to_convert():
    """A unit with clang's btf_type_tag/btf_decl_tag annotations is left to
    convert.py (the C makers make no TYPE_TAG or DECL_TAG)."""
    tagged = [p for p in OBJECTS if os.path.basename(p).startswith("btf_tags.clang")]
    assert tagged
    for path in tagged:
        assert _both(path, False, OPTIONS[0])[1] > 0


@pytest.mark.corpus
@needs_compiled
def test_compiled_makers_on_real_modules(corpus_dir):
    import corpus
    mods = corpus.dbg_module_paths(corpus_dir)[::60]
    done = 0
    for path in mods:
        for signed in (False, True):
            done += _both(str(path), signed, OPTIONS[0])[0]
    assert done > 100
