"""Bad BTF input: one line on stderr naming file, section and offset; exit 2."""

import struct
import subprocess
import sys

import pytest

from encoder.btf.kinds import Kind, info_word
from encoder.btf.writer import encode

from badblobs import good_btf as every_kind

GOOD = encode(every_kind())


def _patched(offset: int, value: bytes) -> bytes:
    return GOOD[:offset] + value + GOOD[offset + len(value):]


def _with_header(**fields) -> bytes:
    names = ("type_off", "type_len", "str_off", "str_len")
    vals = dict(zip(names, struct.unpack_from("<IIII", GOOD, 8)))
    vals.update(fields)
    return GOOD[:8] + struct.pack("<IIII", *(vals[n] for n in names)) + GOOD[24:]


def _first_type_info(info: int) -> bytes:
    return _patched(24 + 4, struct.pack("<I", info))


CASES = {
    "empty": (b"", "too short for a BTF header", "header"),
    "truncated header": (GOOD[:20], "too short for a BTF header", "header"),
    "wrong magic": (b"\x7f\x45" + GOOD[2:], "bad magic", "header"),
    "bad version": (GOOD[:2] + b"\x02" + GOOD[3:], "unsupported BTF version 2", "header"),
    "header length past end": (GOOD[:4] + struct.pack("<I", 1 << 20) + GOOD[8:],
                               "header length", "header"),
    "truncated types": (GOOD[:len(GOOD) // 2], "runs past the end", "header"),
    "type section past end": (_with_header(type_len=len(GOOD)), "runs past the end", "header"),
    "string section past end": (_with_header(str_len=len(GOOD)), "runs past the end", "header"),
    "unaligned types": (_with_header(type_off=2), "not aligned", "header"),
    "odd type length": (_with_header(type_len=struct.unpack_from("<I", GOOD, 12)[0] - 2),
                        "not a multiple of 4", "header"),
    "string offset past strings": (_patched(24, struct.pack("<I", 1 << 22)),
                                   "past the string section", "type section"),
    "strings not NUL-terminated": (GOOD[:-1] + b"x", "not NUL-terminated", "string section"),
    "unknown kind without layout": (_first_type_info(info_word(25, 0, False)),
                                    "unknown kind 25", "type section"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_blob_gives_one_line_and_exit_2(tmp_path, name):
    blob, reason, section = CASES[name]
    path = tmp_path / "bad.btf"
    path.write_bytes(blob)
    r = subprocess.run([sys.executable, "-m", "encoder", "dump", str(path)],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert str(path) in lines[0] and reason in lines[0] and section in lines[0]
    assert "offset 0x" in lines[0]
    assert "Traceback" not in r.stderr


def test_missing_file_is_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "encoder", "dump", str(tmp_path / "nope")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1
    assert "nope" in r.stderr


def test_elf_without_btf_is_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "encoder", "dump", sys.executable],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "no .BTF section" in r.stderr
    assert len(r.stderr.splitlines()) == 1


def test_first_type_kind_is_what_we_patch():
    assert (struct.unpack_from("<I", GOOD, 28)[0] >> 24) == Kind.INT
