"""Writing `.BTF` / `.BTF.base` into ELF files in place (encoder/elf/write.py).

The claims, each checked against tools nobody here wrote: after the write,
`readelf -SW` differs from the original only in the BTF sections' lines (and
`.shstrtab`'s offset and size when a name had to be added), `readelf -sW`,
`-rW`, `-gW`, `-lW`, `-dW`, `-nW` not at all, and every other section's
bytes are the same (where readelf says they are); bpftool, objcopy and
libbpf read the `.BTF` (and `.BTF.base`) straight from the file; the layout
is the one `llvm-objcopy --add-section` (what pahole -J runs) makes, but
for alignment; an executable still runs.  `.btf.o` equals what the kernel's
scripts/gen-btf.sh makes with objcopy, but for the alignment, and links.
"""

from __future__ import annotations

import ctypes
import glob
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import corpus
from encoder.btf.reader import read_sections
from encoder.elf.write import BTF_ALIGN, Rewrite, btf_object
from encoder.errors import Dwarf2BtfError, ElfError
from encoder.output import (TMP_SUFFIX, listing_once, write_btf_file, write_btf_object,
                            write_btf_section)

from util import REPO, external

OBJ = REPO / "fixtures" / "obj"
OBJECTS = ["kinds.gcc.dwarf5", "large_struct.clang.dwarf5", "percpu.gcc.dwarf4",
           "btf_tags.clang.dwarf4"]
BTF_NAMES = (".BTF", ".BTF.base")
HELLO = '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n'


def tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        pytest.skip(f"{name} is not installed")
    return exe


def run(*cmd: str | os.PathLike) -> str:
    exe = tool(str(cmd[0]))
    r = subprocess.run([exe, *map(str, cmd[1:])], capture_output=True, text=True)
    assert r.returncode == 0, f"{cmd}: {r.stderr}"
    return r.stdout


# -- what readelf says -------------------------------------------------------

_SECTION_LINE = re.compile(r"^\s*\[\s*(\d+)\] (.*)$")
FIELDS = ("type", "addr", "off", "size", "es", "flg", "lk", "inf", "al")


def sections(path: Path) -> dict[int, tuple[str, dict[str, str]]]:
    """{index: (name, fields)} from `readelf -SW`."""
    out = {}
    for line in run("readelf", "-SW", path).splitlines():
        m = _SECTION_LINE.match(line)
        if not m or int(m.group(1)) == 0:
            continue
        rest = m.group(2)
        name, *tok = ([""] if rest.startswith(" ") else []) + rest.split()    # [n] with no name
        fields = dict(zip(FIELDS[:5], tok[:5]))
        fields.update(flg=" ".join(tok[5:-3]), lk=tok[-3], inf=tok[-2], al=tok[-1])
        out[int(m.group(1))] = (name, fields)
    return out


def shstrndx(path: Path) -> int:
    m = re.search(r"Section header string table index:\s+(\d+)", run("readelf", "-hW", path))
    return int(m.group(1))


def assert_only_btf_changed(orig: Path, new: Path) -> None:
    """The claims of the module docstring that compare `new` with `orig`."""
    a, b = sections(orig), sections(new)
    names = shstrndx(orig)
    assert shstrndx(new) == names
    for i, (name, fields) in a.items():
        if name in BTF_NAMES:
            assert b.get(i, ("", {}))[0] in (name, ""), f"[{i}] {name} became {b.get(i)}"
            continue
        got_name, got = b[i]
        assert got_name == name
        if i == names:
            moved = {"off", "size"}
            assert {k: v for k, v in got.items() if k not in moved} == \
                {k: v for k, v in fields.items() if k not in moved}
            assert int(got["size"], 16) >= int(fields["size"], 16)
        else:
            assert got == fields, f"[{i}] {name}"
    assert {b[i][0] for i in b.keys() - a.keys()} <= set(BTF_NAMES)
    for opt in ("-sW", "-rW", "-gW", "-lW", "-dW", "-nW"):
        assert run("readelf", opt, new) == run("readelf", opt, orig), opt
    ob, nb = orig.read_bytes(), new.read_bytes()
    for i, (name, fields) in a.items():              # the bytes, where readelf says
        if name in BTF_NAMES or fields["type"] == "NOBITS":
            continue
        lo, n = int(fields["off"], 16), int(fields["size"], 16)
        nlo, nn = int(b[i][1]["off"], 16), int(b[i][1]["size"], 16)
        assert nb[nlo:nlo + nn][:n] == ob[lo:lo + n], f"[{i}] {name}"
    # The ELF header: only e_shoff (0x28) and e_shnum (0x3c) may change.
    assert ob[:0x28] == nb[:0x28] and ob[0x30:0x3C] == nb[0x30:0x3C] and ob[0x3E:64] == nb[0x3E:64]


def assert_btf_reads_back(path: Path, data: bytes, base: bytes | None, tmp: Path) -> None:
    """Our reader, objcopy and bpftool all find exactly `data` (and `base`)."""
    assert read_sections(path)[:2] == (data, base)
    dumped = tmp / "dumped.btf"
    run("objcopy", "--dump-section", f".BTF={dumped}", path, tmp / "discard")
    assert dumped.read_bytes() == data
    raw = tmp / "raw.btf"
    raw.write_bytes(data)
    extra = []
    if base is not None:
        run("objcopy", "--dump-section", f".BTF.base={dumped}", path, tmp / "discard")
        assert dumped.read_bytes() == base
        extra = ["-B", str(dumped)]
    assert run("bpftool", *extra, "btf", "dump", "file", path) == \
        run("bpftool", *extra, "btf", "dump", "file", raw)


def temps(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(TMP_SUFFIX))


def written(tmp: Path, src: Path, data: bytes, base: bytes | None = None,
            name: str | None = None) -> Path:
    out = tmp / (name or f"written-{src.name}")
    shutil.copy(src, out)
    write_btf_section(out, data, base)
    return out


@pytest.fixture(scope="module")
def programs(tmp_path_factory) -> dict[str, Path]:
    """A small ET_EXEC and ET_DYN, built now with gcc."""
    tool("gcc")
    d = tmp_path_factory.mktemp("programs")
    (d / "hello.c").write_text(HELLO)
    out = {}
    for kind, flags in (("exec", ["-no-pie"]), ("dyn", ["-pie", "-fPIE"])):
        out[kind] = d / f"hello.{kind}"
        run("gcc", "-g", *flags, "-o", out[kind], d / "hello.c")
    return out


# -- adding and replacing ----------------------------------------------------

@pytest.mark.parametrize("name", OBJECTS)
def test_object_gets_btf_and_nothing_else_changes(name, tmp_path):
    src, data = OBJ / f"{name}.o", (OBJ / f"{name}.btf").read_bytes()
    out = written(tmp_path, src, data)
    assert_only_btf_changed(src, out)
    assert_btf_reads_back(out, data, None, tmp_path)
    first = out.read_bytes()
    write_btf_section(out, data)
    assert out.read_bytes() == first, "writing the same BTF again changed the file"
    assert written(tmp_path, src, data, name="again.o").read_bytes() == first
    assert temps(tmp_path) == []


@pytest.mark.parametrize("name", OBJECTS[:2])
def test_layout_is_llvm_objcopys_but_for_alignment(name, tmp_path):
    """pahole -J adds `.BTF` with `llvm-objcopy --add-section`: same section
    numbering, same symbols and relocations; our `.BTF` is 4-aligned."""
    tool("llvm-objcopy")
    src, btf = OBJ / f"{name}.o", OBJ / f"{name}.btf"
    plain = tmp_path / "plain.o"           # the fixture without any .BTF of its own
    run("objcopy", "--remove-section", ".BTF", src, plain)
    theirs = tmp_path / "llvm.o"
    run("llvm-objcopy", "--add-section", f".BTF={btf}", plain, theirs)
    ours = written(tmp_path, plain, btf.read_bytes(), name="ours.o")
    a, b = sections(theirs), sections(ours)
    assert a.keys() == b.keys()
    for i in a:
        if a[i][0] == ".BTF":
            assert b[i][0] == ".BTF" and b[i][1]["al"] == str(BTF_ALIGN)
            assert int(b[i][1]["off"], 16) % BTF_ALIGN == 0
            del a[i][1]["off"], a[i][1]["al"], b[i][1]["off"], b[i][1]["al"]
        elif a[i][0] == ".shstrtab":     # llvm-objcopy rebuilds the table
            del a[i][1]["off"], a[i][1]["size"], b[i][1]["off"], b[i][1]["size"]
        assert a[i] == b[i]
    for opt in ("-sW", "-rW", "-gW"):
        assert run("readelf", opt, ours) == run("readelf", opt, theirs), opt


@pytest.mark.parametrize("kind", ["exec", "dyn"])
def test_program_gets_btf_and_still_runs(kind, programs, tmp_path):
    src = programs[kind]
    data = (OBJ / "kinds.gcc.dwarf5.btf").read_bytes()
    out = written(tmp_path, src, data)
    assert_only_btf_changed(src, out)
    assert_btf_reads_back(out, data, None, tmp_path)
    btf = sections(out)[max(sections(out))]
    assert btf[0] == ".BTF" and "A" not in btf[1]["flg"]
    assert stat.S_IMODE(out.stat().st_mode) == stat.S_IMODE(src.stat().st_mode)
    assert subprocess.run([out], capture_output=True, text=True).stdout == "hello\n"
    if shutil.which("llvm-objcopy"):
        theirs = tmp_path / "llvm"
        run("llvm-objcopy", "--add-section", f".BTF={OBJ / 'kinds.gcc.dwarf5.btf'}", src, theirs)
        for opt in ("-sW", "-rW", "-lW", "-dW"):
            assert run("readelf", opt, out) == run("readelf", opt, theirs), opt
        assert sections(theirs).keys() == sections(out).keys()


def test_replacing_a_btf_in_the_middle_keeps_its_index(tmp_path):
    """Debian's modules carry `.BTF` before `.symtab` (objcopy put it there):
    it is replaced at its index, its old bytes zeroed, the new ones appended."""
    src = tmp_path / "objcopied.o"
    old = (OBJ / "large_struct.clang.dwarf5.btf").read_bytes()
    run("objcopy", "--remove-section", ".BTF", OBJ / "kinds.gcc.dwarf5.o", tmp_path / "plain.o")
    run("objcopy", "--add-section", f".BTF={OBJ / 'large_struct.clang.dwarf5.btf'}",
        tmp_path / "plain.o", src)
    before = sections(src)
    index = next(i for i, (n, _) in before.items() if n == ".BTF")
    assert index < max(before), "objcopy should have put .BTF before the symbol table"
    data = (OBJ / "kinds.gcc.dwarf5.btf").read_bytes()
    out = written(tmp_path, src, data)
    assert_only_btf_changed(src, out)
    after = sections(out)
    assert after.keys() == before.keys() and after[index][0] == ".BTF"
    old_off = int(before[index][1]["off"], 16)
    assert out.read_bytes()[old_off:old_off + len(old)] == bytes(len(old))
    assert_btf_reads_back(out, data, None, tmp_path)
    first = out.read_bytes()
    write_btf_section(out, data)
    assert out.read_bytes() == first


def _libbpf16():
    """libbpf 1.6 (bundled in the pylibbpf wheel), which reads `.BTF.base`."""
    try:
        import pylibbpf
    except ImportError:
        pytest.skip("pylibbpf (libbpf 1.6) is not installed")
    found = glob.glob(os.path.join(os.path.dirname(pylibbpf.__file__), "pylibbpf*.so"))
    lib = ctypes.CDLL(found[0])
    vp = ctypes.c_void_p
    lib.btf__parse_elf.restype = vp
    lib.btf__parse_elf.argtypes = [ctypes.c_char_p, vp]
    lib.btf__base_btf.restype = vp
    lib.btf__base_btf.argtypes = [vp]
    lib.btf__raw_data.restype = vp
    lib.btf__raw_data.argtypes = [vp, ctypes.POINTER(ctypes.c_uint32)]
    lib.btf__free.argtypes = [vp]
    return lib


def _raw(lib, btf) -> bytes:
    n = ctypes.c_uint32()
    return ctypes.string_at(lib.btf__raw_data(btf, ctypes.byref(n)), n.value)


def test_distilled_base_is_written_and_dropped(tmp_path):
    """`.BTF` + `.BTF.base` (Linux 7.1's btf_testmod): libbpf 1.6 parses the
    pair from the ELF file; a later write without a base drops `.BTF.base`."""
    split, base = external("btf_testmod.btf"), external("btf_testmod.btf.base")
    src = OBJ / "kinds.gcc.dwarf5.o"
    out = written(tmp_path, src, split, base)
    assert_only_btf_changed(src, out)
    assert_btf_reads_back(out, split, base, tmp_path)
    lib = _libbpf16()
    btf = lib.btf__parse_elf(str(out).encode(), None)
    assert btf, "libbpf could not parse the file"
    try:
        assert _raw(lib, btf) == split and _raw(lib, lib.btf__base_btf(btf)) == base
    finally:
        lib.btf__free(btf)
    count = len(sections(out))
    write_btf_section(out, split)
    assert [n for n, _ in sections(out).values()].count(".BTF.base") == 0
    assert len(sections(out)) == count - 1, ".BTF.base was last: its header goes"
    assert read_sections(out)[:2] == (split, None)
    assert_only_btf_changed(src, out)


def test_dropping_a_base_in_the_middle_leaves_an_empty_header(tmp_path):
    split, base = external("btf_testmod.btf"), external("btf_testmod.btf.base")
    (tmp_path / "base").write_bytes(base)
    src = tmp_path / "objcopied.o"
    run("objcopy", "--add-section", f".BTF.base={tmp_path / 'base'}", OBJ / "percpu.gcc.dwarf4.o",
        src)
    index = next(i for i, (n, _) in sections(src).items() if n == ".BTF.base")
    assert index < max(sections(src))
    out = written(tmp_path, src, split)
    assert_only_btf_changed(src, out)
    got = sections(out)
    assert got[index] == ("", dict(zip(FIELDS, ["NULL", "0" * 16, "000000", "000000", "00", "",
                                                  "0", "0", "0"])))
    assert read_sections(out)[:2] == (split, None)


def test_crossing_into_extended_section_numbering(tmp_path):
    """65279 sections plus two: e_shnum becomes 0 and the count moves to
    section 0's sh_size (SHN_LORESERVE is 0xff00), as readelf reads it."""
    tool("as")
    (tmp_path / "many.s").write_text("".join(f'.section .s{i},"a"\n.byte 1\n'
                                             for i in range(65274)))
    src = tmp_path / "many.o"
    run("as", "-o", src, tmp_path / "many.s")
    assert re.search(r"Number of section headers:\s+65279\n", run("readelf", "-hW", src))
    split, base = (OBJ / "kinds.gcc.dwarf5.btf").read_bytes(), (OBJ / "enums.gcc.dwarf5.btf")
    out = written(tmp_path, src, split, base.read_bytes())
    assert re.search(r"Number of section headers:\s+0 \(65281\)", run("readelf", "-hW", out))
    assert_only_btf_changed(src, out)
    assert read_sections(out)[:2] == (split, base.read_bytes())


@pytest.mark.parametrize("source, refusal", [
    (".section .BTF.base\nbase_sym: .byte 0\n.globl base_sym\n", "symbol 1 of .symtab"),
    (".section .BTF\n.quad ext\n", ".rela.BTF relocates this section"),
])
def test_sections_others_depend_on_are_not_touched(source, refusal, tmp_path):
    """Dropping a section a symbol lives in, or rewriting one a relocation
    section patches, would break them: refused, file untouched."""
    tool("as")
    (tmp_path / "x.s").write_text(source)
    obj = tmp_path / "x.o"
    run("as", "-o", obj, tmp_path / "x.s")
    before = obj.read_bytes()
    with pytest.raises(ElfError, match=re.escape(refusal)) as e:
        write_btf_section(obj, b"\x9f\xeb\x01\x00")
    assert "offset" in str(e.value) and obj.read_bytes() == before


# -- the .btf.o of the kernel build ------------------------------------------

def test_btf_object_is_the_kernel_recipe_but_for_alignment(programs, tmp_path):
    """scripts/gen-btf.sh: an empty object, objcopy --add-section .BTF
    --set-section-flags .BTF=alloc,readonly, then --only-section=.BTF
    --strip-all.  Same bytes as ours, but for sh_addralign (1 there, 4 here)."""
    btf = OBJ / "kinds.gcc.dwarf5.btf"
    theirs = tmp_path / "theirs.btf.o"
    (tmp_path / "empty.c").write_text("")
    run("gcc", "-c", "-o", theirs, tmp_path / "empty.c")
    run("objcopy", "--add-section", f".BTF={btf}", "--set-section-flags", ".BTF=alloc,readonly",
        theirs)
    run("objcopy", "--only-section=.BTF", "--strip-all", theirs)
    ours = bytearray(btf_object(programs["exec"], btf.read_bytes()))
    shoff = int.from_bytes(ours[0x28:0x30], "little")
    align_at = shoff + 64 + 48                    # section 1's sh_addralign
    assert int.from_bytes(ours[align_at:align_at + 8], "little") == BTF_ALIGN
    ours[align_at:align_at + 8] = (1).to_bytes(8, "little")
    assert bytes(ours) == theirs.read_bytes()


def test_btf_object_links_into_a_program(programs, tmp_path):
    data = (OBJ / "kinds.gcc.dwarf5.btf").read_bytes()
    obj = tmp_path / "vmlinux.btf.o"
    write_btf_object(obj, programs["exec"], data)
    (tmp_path / "hello.c").write_text(HELLO)
    prog = tmp_path / "linked"
    run("gcc", "-no-pie", "-o", prog, tmp_path / "hello.c", obj)
    btf = next(f for n, f in sections(prog).values() if n == ".BTF")
    assert "A" in btf["flg"] and int(btf["addr"], 16) % BTF_ALIGN == 0
    run("objcopy", "--dump-section", f".BTF={tmp_path / 'out'}", prog, tmp_path / "discard")
    assert (tmp_path / "out").read_bytes() == data
    assert subprocess.run([prog], capture_output=True, text=True).stdout == "hello\n"
    # The object itself takes a new .BTF like any other (ET_REL: no image).
    other = (OBJ / "enums.gcc.dwarf5.btf").read_bytes()
    write_btf_section(obj, other)
    assert read_sections(obj)[0] == other and sections(obj)[1][1]["flg"] == "A"
    # An allocated .BTF is part of the image: it cannot be moved to the end.
    before = prog.read_bytes()
    with pytest.raises(ElfError, match="loaded image"):
        write_btf_section(prog, data)
    assert prog.read_bytes() == before


# -- the command line ----------------------------------------------------------

def encode(*args: str | os.PathLike, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "encoder", "encode", *map(str, args),
                           "--btf_features=default"], capture_output=True, text=True,
                          env=env, cwd=REPO)


def test_encode_minus_J_needs_no_objcopy(tmp_path):
    plain = tmp_path / "plain.o"
    run("objcopy", "--remove-section", ".BTF", OBJ / "kinds.gcc.dwarf5.o", plain)
    target = tmp_path / "kinds.o"
    shutil.copyfile(plain, target)
    env = dict(os.environ, PATH=str(tmp_path / "nothing-here"), PYTHONPATH=str(REPO))
    for args in (["-J", target], [plain, f"--btf_encode_detached={tmp_path / 'd'}"]):
        r = encode(*args, env=env)
        assert r.returncode == 0, r.stderr
    assert read_sections(target)[0] == (tmp_path / "d").read_bytes()
    assert_only_btf_changed(plain, target)


def test_encode_minus_J_on_a_signed_module(tmp_path):
    target = tmp_path / "signed.ko"
    target.write_bytes(_signed((OBJ / "kinds.gcc.dwarf5.o").read_bytes()))
    before = target.read_bytes()
    r = encode("-J", target)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "signed" in r.stderr, r.stderr
    assert target.read_bytes() == before
    r = encode("-J", "--drop_signature", target)
    assert r.returncode == 0, r.stderr
    assert not target.read_bytes().endswith(b"~Module signature appended~\n")
    assert read_sections(target)[0]


# -- refusing bad input, keeping the file --------------------------------------

def _signed(b: bytes) -> bytes:
    """What scripts/sign-file appends: the PKCS#7 blob, struct
    module_signature (id_type 2 = PKCS#7, the blob's length big-endian), magic."""
    blob = b"\x30\x82" + bytes(range(60))
    info = bytes([0, 0, 2, 0, 0, 0, 0, 0]) + len(blob).to_bytes(4, "big")
    return b + blob + info + b"~Module signature appended~\n"


def _set(at: int, value: bytes):
    return lambda b: b[:at] + value + b[at + len(value):]


BAD = {
    "not ELF": lambda b: b"just some text\n" * 10,
    "empty": lambda b: b"",
    "truncated header": lambda b: b[:40],
    "truncated table": lambda b: b[:-10],
    "32-bit": _set(4, b"\x01"),
    "big-endian": _set(5, b"\x02"),
    "core file": _set(16, b"\x04\x00"),
    "signed module": _signed,
    "stray tail": lambda b: b + b"trailing data",
}


@pytest.mark.parametrize("case", BAD)
def test_bad_target_is_refused_in_one_line_and_untouched(case, tmp_path):
    target = tmp_path / "target.o"
    target.write_bytes(BAD[case]((OBJ / "kinds.gcc.dwarf5.o").read_bytes()))
    before = target.read_bytes()
    with pytest.raises(ElfError) as e:
        write_btf_section(target, b"\x9f\xeb\x01\x00")
    line = str(e.value)
    assert "\n" not in line and str(target) in line and "offset" in line, line
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["target.o"]


_FUZZ_SRC = (OBJ / "percpu.gcc.dwarf4.o").read_bytes()
_SHOFF = int.from_bytes(_FUZZ_SRC[0x28:0x30], "little")


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, len(_FUZZ_SRC) - 1), st.just(b"")),
    st.tuples(st.just("flip"), st.integers(0, len(_FUZZ_SRC) - 1), st.integers(0, 7)),
    st.tuples(st.just("header"), st.integers(0, 63), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("table"), st.integers(_SHOFF, len(_FUZZ_SRC) - 1),
              st.binary(min_size=1, max_size=8))))
def test_mangled_targets_end_in_one_line_or_a_file(tmp_path, change):
    """Mangled objects: either written, or refused with a Dwarf2BtfError and
    left as they were, never a traceback."""
    how, at, what = change
    b = bytearray(_FUZZ_SRC)
    if how == "truncate":
        del b[at:]
    elif how == "flip":
        b[at] ^= 1 << what
    else:
        b[at:at + len(what)] = what
    target = tmp_path / "mangled.o"
    target.write_bytes(b)
    try:
        write_btf_section(target, b"\x9f\xeb\x01\x00" + bytes(20))
    except Dwarf2BtfError as e:
        assert "\n" not in str(e) and target.read_bytes() == bytes(b)
    assert temps(tmp_path) == []


def test_failure_while_writing_leaves_the_original(tmp_path, monkeypatch):
    target = tmp_path / "kinds.o"
    shutil.copyfile(OBJ / "kinds.gcc.dwarf5.o", target)
    before = target.read_bytes()

    def broken(self, fd):
        os.write(fd, b"half a file")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(Rewrite, "write_to", broken)
    with pytest.raises(Dwarf2BtfError, match="No space left"):
        write_btf_section(target, b"\x9f\xeb\x01\x00")
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kinds.o"]


def test_signature_dropped_only_when_asked(tmp_path):
    src = OBJ / "kinds.gcc.dwarf5.o"
    data = (OBJ / "kinds.gcc.dwarf5.btf").read_bytes()
    signed = tmp_path / "signed.ko"
    signed.write_bytes(_signed(src.read_bytes()))
    with pytest.raises(ElfError, match="signed"):
        write_btf_section(signed, data)
    write_btf_section(signed, data, drop_signature=True)
    assert signed.read_bytes() == written(tmp_path, src, data).read_bytes()


# -- temporary files, modes, links ----------------------------------------------

def test_stale_temps_are_cleaned_and_live_ones_kept(tmp_path):
    import fcntl
    target = tmp_path / "kinds.o"
    shutil.copyfile(OBJ / "kinds.gcc.dwarf5.o", target)
    stale = tmp_path / f".kinds.o.abc123de{TMP_SUFFIX}"
    live = tmp_path / f".kinds.o.xyz789qq{TMP_SUFFIX}"
    other = tmp_path / f".other.o.abc123de{TMP_SUFFIX}"
    for p in (stale, live, other):
        p.write_bytes(b"partial")
    with open(live, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)      # a writer still at work
        write_btf_section(target, (OBJ / "kinds.gcc.dwarf5.btf").read_bytes())
        assert temps(tmp_path) == sorted([live.name, other.name])
    write_btf_section(target, (OBJ / "kinds.gcc.dwarf5.btf").read_bytes())
    assert temps(tmp_path) == [other.name]


def test_a_batch_lists_a_directory_for_stale_temps_once(tmp_path):
    """Inside `listing_once` the temporaries of dead runs found at the first
    write are cleaned as they are reached; one that appears later waits for
    a write outside it."""
    early = tmp_path / f".b.btf.abc123de{TMP_SUFFIX}"
    early.write_bytes(b"partial")
    with listing_once():
        write_btf_file(tmp_path / "a.btf", b"a")
        late = tmp_path / f".a.btf.xyz789qq{TMP_SUFFIX}"
        late.write_bytes(b"partial")
        write_btf_file(tmp_path / "b.btf", b"b")
        write_btf_file(tmp_path / "a.btf", b"a")
        assert temps(tmp_path) == [late.name]
    write_btf_file(tmp_path / "a.btf", b"a")
    assert temps(tmp_path) == []


def test_mode_is_kept_and_symlinks_followed(tmp_path):
    real = tmp_path / "real.o"
    shutil.copyfile(OBJ / "kinds.gcc.dwarf5.o", real)
    real.chmod(0o640)
    link = tmp_path / "link.o"
    link.symlink_to(real.name)
    data = (OBJ / "kinds.gcc.dwarf5.btf").read_bytes()
    write_btf_section(link, data)
    assert link.is_symlink() and read_sections(real)[0] == data
    assert stat.S_IMODE(real.stat().st_mode) == 0o640


# -- the Debian kernel (pytest -m corpus) ----------------------------------------

CORPUS_MODULES = 6


@pytest.mark.corpus
def test_debian_modules_rewritten_in_place(corpus_dir, vmlinux_btf_file, tmp_path):
    """A spread of real modules: `.BTF` written back in place (the module's
    own bytes, moved to the end, the signature dropped); bpftool -B vmlinux
    reads it from the file."""
    paths = corpus.module_paths(root=corpus_dir)
    step = max(1, len(paths) // CORPUS_MODULES)
    for src in paths[::step][:CORPUS_MODULES]:
        data = corpus.section_data(src, ".BTF")
        out = tmp_path / src.name
        shutil.copyfile(src, out)
        with pytest.raises(ElfError, match="signed"):     # Debian signs every module
            write_btf_section(out, data)
        write_btf_section(out, data, drop_signature=True)
        assert_only_btf_changed(src, out)
        assert read_sections(out)[0] == data
        assert run("bpftool", "-B", vmlinux_btf_file, "btf", "dump", "file", out) == \
            run("bpftool", "-B", vmlinux_btf_file, "btf", "dump", "file", src), src
        first = out.read_bytes()
        write_btf_section(out, data)          # no signature any more
        assert out.read_bytes() == first
        out.unlink()


@pytest.mark.corpus
def test_debian_vmlinux_btf_object(corpus_dir, vmlinux_btf_file, tmp_path):
    vmlinux = corpus.vmlinux_path(corpus_dir)
    data = vmlinux_btf_file.read_bytes()
    obj = tmp_path / ".btf.vmlinux.bin.o"
    write_btf_object(obj, vmlinux, data)
    header = run("readelf", "-hW", obj)
    assert re.search(r"Type:\s+REL ", header) and "X86-64" in header
    btf = [f for n, f in sections(obj).values() if n == ".BTF"]
    assert len(btf) == 1 and btf[0]["flg"] == "A" and int(btf[0]["size"], 16) == len(data)
    assert re.search(r"\.BTF\s+[0-9a-f]+\s+0+\s+0+\s+0+40\s+2\*\*2\s+CONTENTS, ALLOC, LOAD, "
                     r"READONLY, DATA", run("objdump", "-h", obj))
    assert run("bpftool", "btf", "dump", "file", obj) == \
        run("bpftool", "btf", "dump", "file", vmlinux_btf_file)
