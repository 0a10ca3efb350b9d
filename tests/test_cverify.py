"""The compiled passes of module and vmlinux BTF (_cverify.c) against
verifier.py's.

_cverify only accepts; on anything else verifier.py's own passes run and
give the message.  So the property is one-sided and strict: whatever
verifier.py refuses, _cverify must not accept.  The blobs are every crafted
bad blob (one kernel rule each), the good ones, split BTF over a base, and
thousands of random word pokes into their type sections, under every
profile; the verdicts with and without the compiled passes must be the same
message for message, and the compiled passes must accept the good blobs
(else they would only cost time).
"""

from __future__ import annotations

import random
import struct

import pytest

from encoder import api
from encoder.btf import verifier
from encoder.btf.model import Const, TypeTag
from encoder.btf.verifier import PROFILES, verify_bytes
from encoder.btf.wire import parse_header
from encoder.btf.writer import encode as write
from encoder.errors import BtfInvalid

import badblobs
from util import REPO

compiled = verifier._cverify
needs_compiled = pytest.mark.skipif(compiled is None, reason="_cverify.c was not built")


def _verdict(data: bytes, profile: str, base=None):
    try:
        return verify_bytes(data, base=base, profile=PROFILES[profile], resolve=False)
    except BtfInvalid as e:
        return f"{e} @ {e.offset}"


class _Recorder:
    """_cverify.accept, recording what it answered."""

    def __init__(self):
        self.answers: list[int] = []

    def accept(self, *args):
        n = compiled.accept(*args)
        self.answers.append(n)
        return n


def _both(monkeypatch, data: bytes, profile: str, base=None) -> tuple[object, list[int]]:
    """The verdict with the compiled passes (and what they answered), after
    checking it is the verdict without them."""
    rec = _Recorder()
    monkeypatch.setattr(verifier, "_cverify", rec)
    got = _verdict(data, profile, base)
    monkeypatch.setattr(verifier, "_cverify", None)
    want = _verdict(data, profile, base)
    monkeypatch.setattr(verifier, "_cverify", compiled)
    assert got == want, (profile, got, want)
    if isinstance(want, str):
        assert all(n < 0 for n in rec.answers), (profile, want)   # refused: never accepted
    return want, rec.answers


@needs_compiled
def test_good_blobs_are_accepted_by_the_compiled_passes(monkeypatch):
    for name, (data, profile) in badblobs.good_blobs().items():
        want, answers = _both(monkeypatch, data, profile)
        assert not isinstance(want, str), name
        assert answers == [want.types], name


@needs_compiled
@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_no_bad_blob_is_accepted(monkeypatch, profile):
    refused = 0
    for bad in badblobs.bad_blobs():
        want, _ = _both(monkeypatch, bad.blob, profile)
        refused += isinstance(want, str)
    assert refused > 20


def _poked(data: bytes, rng: random.Random) -> bytes:
    """`data` with one to three words of its type section replaced by an
    interesting value or a random one."""
    h = parse_header(data)
    start, end = h.hdr_len + h.type_off, h.hdr_len + h.type_off + h.type_len
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        at = start + 4 * rng.randrange(max(1, (end - start) // 4))
        old = struct.unpack_from("<I", out, at)[0]
        value = rng.choice([0, 1, 2, 3, 4, 7, 8, 16, 0xFF, 0xFFFF, 0xFFFFFF, 0x1000000,
                            0x80000000, 0xFFFFFFFF, old ^ (1 << rng.randrange(32)),
                            old + 1, old - 1, rng.getrandbits(32)])
        struct.pack_into("<I", out, at, value & 0xFFFFFFFF)
    return bytes(out)


@needs_compiled
def test_poked_blobs_agree(monkeypatch):
    rng = random.Random(7)
    accepted = refused = 0
    goods = list(badblobs.good_blobs().values())
    for _ in range(3000):
        data, _ = rng.choice(goods)
        profile = rng.choice(sorted(PROFILES))
        want, answers = _both(monkeypatch, _poked(data, rng), profile)
        accepted += any(n >= 0 for n in answers)
        refused += isinstance(want, str)
    assert accepted > 100 and refused > 1000


@needs_compiled
def test_split_btf_agrees(monkeypatch):
    """Module BTF over a base (names in the base's strings, references into
    its types, modifier chains ending there), good and poked."""
    base_path = REPO / "fixtures" / "obj" / "kinds.gcc.dwarf5.btf"
    base = api.load(base_path)
    rng = random.Random(11)
    checked = 0
    for path in sorted((REPO / "fixtures" / "obj").glob("*.gcc.dwarf5.o"))[:12]:
        data = write(api.encode(path, base, features="default"))
        want, answers = _both(monkeypatch, data, "latest", base)
        assert not isinstance(want, str) and answers == [want.types], path
        for _ in range(60):
            _both(monkeypatch, _poked(data, rng), rng.choice(sorted(PROFILES)), base)
        checked += 1
    assert checked == 12



@needs_compiled
@pytest.mark.parametrize("second, accepted", [(Const(1), True),
                                              (TypeTag("t", 1), False)])
def test_the_base_kinds_may_be_an_array(second, accepted):
    """A base from the base cache keeps its columns as arrays, one read in
    full as lists: the same answer, here where a modifier chain of split
    BTF reads a base kind (a type tag after VOLATILE is refused)."""
    import array
    _, strings, columns = verifier._base_columns(badblobs.blob([badblobs.INT, second]))
    kinds = columns[0]
    own = array.array("I", [0, 9 << 24, 2])             # VOLATILE -> base type 2
    p = PROFILES["latest"]
    profile = (p.max_kind, p.max_vlen, p.tag_kflag, p.ksym_name_len, p.wide_info,
               p.dotted_names, p.printable_sections, p.func_global)
    for seq in (list(kinds), array.array("B", kinds), array.array("I", kinds)):
        assert compiled.accept(own, strings, len(kinds), seq, 12, profile) == \
            (1 if accepted else -1)
