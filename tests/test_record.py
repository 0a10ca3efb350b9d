"""encoder.record: the records behave as the dataclasses they replaced, and
an encode in a fresh process imports neither `dataclasses` nor the other
heavy modules the small-module start-up must not pay for."""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest

from encoder.record import FrozenRecordError, asdict, factory, fields, record, replace

REPO = Path(__file__).resolve().parent.parent
OBJ = REPO / "fixtures" / "obj"


class Shape:
    kind: ClassVar[int] = 7
    name: str
    size: int
    members: list = dataclasses.field(default_factory=list)
    flag: bool = False


def twins():
    """The same class made by `dataclass(slots=True)` and by `record`."""
    ns = {k: v for k, v in vars(Shape).items() if k not in ("__dict__", "__weakref__")}
    dc = dataclasses.dataclass(slots=True)(type("Shape", (), dict(ns)))
    ns["members"] = factory(list)
    rc = record(type("Shape", (), ns))
    return dc, rc


@pytest.mark.parametrize("args, kw", [(("a", 4), {}), (("a",), {"size": 4, "flag": True}),
                                      ((), {"name": "b", "size": 1, "members": [1, 2]})])
def test_record_is_built_and_shown_as_the_dataclass_was(args, kw):
    dc, rc = twins()
    d, r = dc(*args, **kw), rc(*args, **kw)
    assert fields(rc) == tuple(f.name for f in dataclasses.fields(dc))
    assert repr(r) == repr(d)
    assert r == rc(*args, **kw) and r != replace(r, size=99)
    assert asdict(r) == dataclasses.asdict(d)
    assert rc.kind == 7 and "kind" not in fields(rc)


def test_defaults_factories_slots_and_missing_arguments():
    _, rc = twins()
    a, b = rc("a", 1), rc("b", 2)
    a.members.append(1)
    assert b.members == [] and a.flag is False
    assert not hasattr(a, "__dict__")
    with pytest.raises(AttributeError):
        a.colour = "red"
    with pytest.raises(TypeError):
        rc("a")
    with pytest.raises(TypeError):
        hash(a)
    with pytest.raises(TypeError, match="no field 'colour'"):
        replace(a, colour=1)


def test_records_of_other_classes_differ():
    @record
    class A:
        x: int

    @record
    class B:
        x: int

    assert A(1) != B(1) and A(1) == A(1)


def test_frozen_refuses_assignment_and_hashes():
    @record(frozen=True)
    class Point:
        x: int
        y: int = 0

    p = Point(1)
    with pytest.raises(FrozenRecordError):
        p.x = 2
    with pytest.raises(AttributeError):
        del p.y
    assert len({Point(1), Point(1, 0), Point(2)}) == 2
    assert replace(p, y=5) == Point(1, 5) and p.y == 0


@pytest.mark.parametrize("frozen", [False, True])
def test_pickled_as_a_call(frozen):
    """A record pickles as a call with its fields, frozen or not, nested
    records and fresh defaults included."""
    @record(frozen=frozen)
    class Inner:
        v: int

    globals()["Inner"] = Inner          # pickle finds classes by module and name
    Inner.__qualname__ = "Inner"
    x = Inner(5)
    assert Inner.__reduce__(x) == (Inner, (5,))
    assert pickle.loads(pickle.dumps([x, x], pickle.HIGHEST_PROTOCOL)) == [x, x]


def test_field_without_default_after_one_with_is_refused():
    with pytest.raises(TypeError, match="'b' without a default follows 'a'"):
        @record
        class Bad:
            a: int = 0
            b: int


def test_fresh_encode_imports_no_heavy_module():
    """A whole encode in a fresh process loads no `dataclasses`, `inspect`
    or networkx: each costs milliseconds of every small module's start-up."""
    obj = OBJ / "kinds.gcc.dwarf5.o"
    code = ("import sys; before = set(sys.modules)\n"
            "from encoder import cli\n"
            f"rc = cli.main(['encode', '--btf_encode_detached=/dev/null', {str(obj)!r}])\n"
            "print(rc, sorted(set(sys.modules) - before))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True).stdout
    rc, loaded = out.split(" ", 1)
    assert rc == "0" and "encoder.encode" in loaded
    for heavy in ("'dataclasses'", "'inspect'", "'networkx'"):
        assert heavy not in loaded
