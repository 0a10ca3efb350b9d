"""pahole's BTF of the committed C fixtures: we read, write and dump it exactly."""

from pathlib import Path

import pytest

from encoder.btf.dump import dump_text
from encoder.btf.reader import parse
from encoder.btf.writer import encode

from util import REPO, bpftool

PAHOLE_BTF = sorted((REPO / "fixtures" / "obj").glob("*.btf"))


@pytest.mark.parametrize("path", PAHOLE_BTF, ids=lambda p: p.name)
def test_pahole_output_round_trips(path: Path):
    raw = path.read_bytes()
    assert encode(parse(raw)) == raw


@pytest.mark.parametrize("path", PAHOLE_BTF, ids=lambda p: p.name)
def test_dump_equals_bpftool(path: Path):
    assert "".join(dump_text(parse(path.read_bytes()))).encode() == \
        bpftool("btf", "dump", "file", str(path))


def test_fixtures_are_built():
    assert PAHOLE_BTF, "run `make fixtures`"
