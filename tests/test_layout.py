"""The layout section: `--btf_features=layout` writes it, `strip-layout` removes it.

The running kernel is the judge: a kernel before the layout series (the
6.18 one here) refuses the 32-byte header ("Unsupported btf_header") and
must take the stripped form; the tests skip cleanly when BPF_BTF_LOAD is
refused.  Without a kernel, the stripped bytes are checked against what the
writer makes without a layout.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import kernel
from encoder.btf.kinds import HEADER_LEN
from encoder.btf.layout import has_layout, strip_layout
from encoder.btf.reader import parse
from encoder.btf.wire import parse_header
from encoder.btf.writer import default_layout, encode
from encoder.errors import BtfError
from util import REPO, external

OBJ = REPO / "fixtures" / "obj" / "kinds.gcc.dwarf5.o"


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "encoder", *args], cwd=REPO,
                          capture_output=True, text=True)


def _kernel_says(data: bytes) -> tuple[bool, str]:
    why = kernel.available()
    if why:
        pytest.skip(why)
    ok, _, log = kernel.load_btf(data)
    return ok, kernel.last_line(log)


@pytest.fixture(scope="module")
def encoded(tmp_path_factory):
    """kinds.o encoded with and without the layout feature."""
    d = tmp_path_factory.mktemp("layout")
    for name, feats in (("with", "default,layout"), ("without", "default")):
        r = _cli("encode", str(OBJ), f"--btf_features={feats}",
                 f"--btf_encode_detached={d / name}.btf")
        assert r.returncode == 0, r.stderr
    return d


def test_layout_feature_writes_the_section(encoded):
    data = (encoded / "with.btf").read_bytes()
    h = parse_header(data)
    assert (h.hdr_len, h.layout_len) == (32, 80)
    assert parse(data).layout == default_layout()
    assert not has_layout((encoded / "without.btf").read_bytes())


def test_strip_layout_gives_the_bytes_written_without_it(encoded, tmp_path):
    out = tmp_path / "stripped.btf"
    r = _cli("strip-layout", str(encoded / "with.btf"), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == (encoded / "without.btf").read_bytes()
    assert parse_header(out.read_bytes()).hdr_len == HEADER_LEN


def test_strip_layout_in_place(encoded, tmp_path):
    path = tmp_path / "x.btf"
    path.write_bytes((encoded / "with.btf").read_bytes())
    assert _cli("strip-layout", str(path)).returncode == 0
    assert path.read_bytes() == (encoded / "without.btf").read_bytes()


@pytest.mark.kernel
def test_kernel_refuses_the_layout_form_and_takes_the_stripped_one(encoded):
    ok, verdict = _kernel_says((encoded / "with.btf").read_bytes())
    if ok:
        pytest.skip("this kernel knows the layout section (7.1 or later)")
    assert verdict == "Unsupported btf_header"
    ok, verdict = _kernel_says(strip_layout((encoded / "with.btf").read_bytes()))
    assert ok, verdict


@pytest.mark.kernel
def test_linux_7_1_vmlinux_loads_once_stripped():
    raw = external("vmlinux.btf")
    ok, verdict = _kernel_says(raw)
    if ok:
        pytest.skip("this kernel knows the layout section (7.1 or later)")
    assert verdict == "Unsupported btf_header"
    stripped = strip_layout(raw)
    assert len(stripped) == len(raw) - 8 - 80
    assert stripped == encode(parse(raw), hdr_len=HEADER_LEN, layout=False)
    ok, verdict = _kernel_says(stripped)
    assert ok, verdict


def test_a_kind_only_the_layout_describes_cannot_be_stripped():
    data = encode(_one_unknown())
    assert parse(data).types[0].kind == 20
    with pytest.raises(BtfError, match="only described by the layout"):
        strip_layout(data)


def _one_unknown():
    """A base BTF whose one type is of kind 20, which its layout section sizes."""
    from encoder.btf.model import Btf, Unknown
    layout = default_layout() + [(4, 0, 0)]
    return Btf([Unknown(20, "x", 0, False, 0, b"\0\0\0\0")], layout=layout)
