"""Fuzzing the ELF layer through `dwarf2btf encode`, with a bounded budget.

Real fixture objects, cut at every 1/200th of their length, and with their
section headers and ELF header lying in every way tests/fuzz/mutate.py
knows (offsets and sizes past the end, overlapping sections, links and
infos out of range, other types and flags, bad entry sizes, names and
alignments), then a hypothesis-driven mix.  Each run is a forked child
judged by tests/fuzz/oracle.py: exit 0 with a BTF our verifier and libbpf
accept, or exit 2 with one line naming the file; nothing else.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz import elfio, mutate, regress
from fuzz.oracle import budget, explain, meets, try_input

REPO = Path(__file__).resolve().parents[1]
OBJ = REPO / "fixtures" / "obj"
# Two producers, two DWARF versions: relocations, both string forms.
TARGETS = ("kinds.gcc.dwarf5.o", "bitfields.clang.dwarf4.o")
ALL_OBJECTS = sorted(OBJ.glob("*.o"))


def _failures(cases, workdir) -> list[str]:
    """Run (recipe, data) cases through `encode`; the ones that broke a rule."""
    bad = []
    for recipe, data in cases:
        verdict, run = try_input("encode", data, workdir, forked=True)
        if not verdict.ok:
            bad.append(explain(verdict, run, recipe))
    return bad


def test_truncated_at_every_200th(tmp_path):
    data = (OBJ / TARGETS[0]).read_bytes()
    bad = _failures([mutate.truncate(data, k) for k in range(200)], tmp_path)
    assert not bad, f"{len(bad)} of 200:\n" + "\n".join(bad[:5])


def test_every_section_header_lie(tmp_path):
    """Each lie of mutate.SHDR_LIES told by each section header in turn."""
    data = (OBJ / TARGETS[0]).read_bytes()
    n = elfio.layout(data).shnum
    cases = []
    for index in range(1, n):
        for lie in mutate.SHDR_LIES:
            rng = random.Random(index * 100 + mutate.SHDR_LIES.index(lie))
            cases.append(mutate.shdr(data, rng, lie, index))
    bad = _failures(cases, tmp_path)
    assert not bad, f"{len(bad)} of {len(cases)}:\n" + "\n".join(bad[:5])


def test_every_elf_header_lie(tmp_path):
    data = (OBJ / TARGETS[1]).read_bytes()
    cases = [mutate.ehdr(data, random.Random(k), lie)
             for lie in mutate.EHDR_LIES for k in range(4)]
    bad = _failures(cases, tmp_path)
    assert not bad, "\n".join(bad[:5])


@budget(150)
@given(obj=st.sampled_from(ALL_OBJECTS), rnd=st.randoms(use_true_random=False),
       n=st.integers(1, 3))
def test_elf_mutations(obj, rnd, n, tmp_path_factory):
    note, data = mutate.stack(obj.read_bytes(), rnd, mutate.elf_mutation, n)
    verdict, run = try_input("encode", data, tmp_path_factory.mktemp("elf"), forked=True)
    assert verdict.ok, explain(verdict, run, f"{obj.name}: {note}")


@pytest.mark.parametrize("r", [r for r in regress.REGRESSIONS if r.family == "elf"],
                         ids=lambda r: r.name)
def test_regression(r, tmp_path):
    data = (regress.DIR / r.name).read_bytes()
    verdict, run = try_input(r.command, data, tmp_path, forked=True)
    assert meets(verdict, r.expect), explain(verdict, run, f"{r.name} (was: {r.before})")


def test_32_bit_elf_is_supported_and_encodes_as_pahole_does(tmp_path):
    data = (regress.DIR / "supported.gcc.m32.o").read_bytes()
    assert data[4] == 1                                     # ELFCLASS32
    verdict, run = try_input("encode", data, tmp_path, forked=True)
    assert verdict.kind == "written", explain(verdict, run)
    assert run.output == (regress.DIR / "supported.gcc.m32.btf").read_bytes()
