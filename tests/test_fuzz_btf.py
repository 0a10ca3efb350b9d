"""Fuzzing the BTF reader and verifier through `dwarf2btf dump` and `verify`.

pahole's BTF of the fixtures, raw and inside an ELF `.BTF` section, is cut
at every 1/200th, has each header field set to each interesting value, and
is mutated by hypothesis (header fields, info words with large vlens and
unknown kinds, type ids, string offsets, bit flips).  Each mutant goes to
both commands in a forked child judged by tests/fuzz/oracle.py: exit 0, or
exit 2 with one line naming the file.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz import elfio, mutate, regress
from fuzz.oracle import budget, explain, meets, try_input

REPO = Path(__file__).resolve().parents[1]
OBJ = REPO / "fixtures" / "obj"
RAW = sorted(OBJ.glob("*.btf"))
TARGET = OBJ / "kinds.gcc.dwarf5.btf"       # every common kind, 1 kB


def _in_elf(raw: bytes) -> bytes:
    """The fixture object with `raw` added as its .BTF section."""
    return elfio.add_section((OBJ / "kinds.gcc.dwarf5.o").read_bytes(), ".BTF", raw)


def _failures(cases, workdir, both: bool = False) -> list[str]:
    """Run (recipe, data) cases, `dump` and `verify` in turn (both read the
    blob from the start; the budget pays for one run per case), or `both`."""
    bad = []
    for k, (recipe, data) in enumerate(cases):
        for command in ("dump", "verify") if both else (("dump", "verify")[k % 2],):
            verdict, run = try_input(command, data, workdir, forked=True)
            if not verdict.ok:
                bad.append(explain(verdict, run, f"{command} {recipe}"))
    return bad


def test_truncated_at_every_200th(tmp_path):
    data = TARGET.read_bytes()
    cases = [mutate.truncate(data, k) for k in range(200)]
    bad = _failures(cases, tmp_path)
    assert not bad, f"{len(bad)} failures:\n" + "\n".join(bad[:5])


def test_truncated_inside_an_elf_section(tmp_path):
    data = TARGET.read_bytes()
    cases = [(f"ELF .BTF {note}", _in_elf(cut))
             for note, cut in (mutate.truncate(data, k) for k in range(0, 200, 4))]
    bad = _failures(cases, tmp_path)
    assert not bad, "\n".join(bad[:5])


HEADER_FIELDS = ("hdr_len", "type_off", "type_len", "str_off", "str_len")


def test_every_header_field_lies(tmp_path):
    data = TARGET.read_bytes()
    cases = []
    for k, field in enumerate(HEADER_FIELDS):
        old = struct.unpack_from("<I", data, 4 + 4 * k)[0]
        for v in sorted({*mutate.INTERESTING, old - 4, old + 4, old - 1} - {old}):
            v &= 0xFFFFFFFF
            cases.append((f"header {field}={v:#x}",
                          data[:4 + 4 * k] + struct.pack("<I", v) + data[8 + 4 * k:]))
    bad = _failures(cases, tmp_path)
    assert not bad, f"{len(bad)} of {len(cases)}:\n" + "\n".join(bad[:5])


@budget(300)
@given(raw=st.sampled_from(RAW), rnd=st.randoms(use_true_random=False),
       n=st.integers(1, 3), elf=st.booleans(), command=st.sampled_from(("dump", "verify")))
def test_btf_mutations(raw, rnd, n, elf, command, tmp_path_factory):
    data = raw.read_bytes()
    if elf:
        data = _in_elf(data)
    note, data = mutate.stack(data, rnd, mutate.btf_mutation, n)
    verdict, run = try_input(command, data, tmp_path_factory.mktemp("btf"), forked=True)
    assert verdict.ok, explain(verdict, run, f"{command} {raw.name}"
                               f"{' in ELF' if elf else ''}: {note}")


def test_the_elf_container_lies(tmp_path):
    """`dump` and `verify` read an ELF file's .BTF: its headers lie too."""
    data = _in_elf(TARGET.read_bytes())
    cases = []
    for name in (".BTF", ".shstrtab", ".symtab", ".strtab"):
        index = elfio.section(data, name).index
        for k, lie in enumerate(mutate.SHDR_LIES):
            cases.append(mutate.shdr(data, random.Random(k), lie, index))
    cases += [mutate.ehdr(data, random.Random(k), lie)
              for lie in mutate.EHDR_LIES for k in range(2)]
    bad = _failures(cases, tmp_path, both=True)
    assert not bad, f"{len(bad)} failures:\n" + "\n".join(bad[:5])


@pytest.mark.parametrize("r", [r for r in regress.REGRESSIONS if r.family == "btf"],
                         ids=lambda r: r.name)
def test_regression(r, tmp_path):
    for command in ("dump", "verify"):
        verdict, run = try_input(command, (regress.DIR / r.name).read_bytes(), tmp_path,
                                 forked=True)
        assert meets(verdict, r.expect), explain(verdict, run, f"{command} {r.name}")


@pytest.mark.parametrize("vlen", [0xFFFF, 0xFFFFFF])
def test_huge_vlen_on_every_kind(vlen, tmp_path):
    """The first record of the fixture claiming `vlen` entries, as each kind."""
    data = TARGET.read_bytes()
    at = 24 + 4                         # info word of type [1]
    cases = [(f"kind {kind} vlen {vlen:#x}",
              data[:at] + struct.pack("<I", (kind << 24) | vlen) + data[at + 4:])
             for kind in range(32)]
    bad = _failures(cases, tmp_path)
    assert not bad, "\n".join(bad[:5])
