"""Read then write gives back the same bytes, on BTF that other tools made."""

from encoder.btf.model import Btf
from encoder.btf.reader import parse
from encoder.btf.writer import default_layout, encode
from encoder.btf.wire import parse_header

from util import external


def test_vmlinux_7_1_with_layout_round_trips():
    raw = external("vmlinux.btf")
    h = parse_header(raw)
    assert (h.hdr_len, h.layout_len) == (32, 80)
    btf = parse(raw)
    assert btf.layout == default_layout()
    assert len(btf.types) > 100_000
    assert encode(btf) == raw


def test_distilled_base_and_split_round_trip():
    base_raw = external("btf_testmod.btf.base")
    split_raw = external("btf_testmod.btf")
    base = parse(base_raw)
    assert encode(base) == base_raw
    split = parse(split_raw, base=base)
    assert split.start_id == len(base.types) + 1
    assert encode(split) == split_raw


def test_layout_can_be_dropped_and_added():
    raw = external("vmlinux.btf")
    btf = parse(raw)
    plain = encode(btf, layout=False, hdr_len=24)
    assert parse_header(plain).hdr_len == 24
    again = parse(plain)
    assert again.types == btf.types
    assert encode(again, layout=True) == raw


def test_new_btf_has_empty_string_first_and_interns():
    from encoder.btf.model import Int, Typedef
    btf = Btf()
    i = btf.add(Int("int", 4, 32))
    btf.add(Typedef("int", i))
    blob = encode(btf)
    h = parse_header(blob)
    assert h.hdr_len == 24
    assert blob[h.hdr_len + h.str_off:] == b"\0int\0"
