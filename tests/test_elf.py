"""The ELF container: header, sections, symbols, relocations, compression.

pyelftools is the oracle for section contents (relocated the way it does
it for ET_REL) and for symbols; objcopy and gcc make the variants
(32-bit, compressed) on the spot when they are installed.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from encoder.elf import EM, ET, ElfFile
from encoder.elf.relocs import relocation_sections
from encoder.errors import ElfError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "obj"
OBJECTS = sorted(FIXTURES.glob("*.o"))
GCC = shutil.which("gcc")
OBJCOPY = shutil.which("objcopy")

DEBUG_ATTRS = {
    ".debug_info": "debug_info_sec", ".debug_abbrev": "debug_abbrev_sec",
    ".debug_str": "debug_str_sec", ".debug_line": "debug_line_sec",
    ".debug_line_str": "debug_line_str_sec", ".debug_loclists": "debug_loclists_sec",
    ".debug_rnglists": "debug_rnglists_sec", ".debug_loc": "debug_loc_sec",
    ".debug_ranges": "debug_ranges_sec", ".debug_addr": "debug_addr_sec",
    ".debug_str_offsets": "debug_str_offsets_sec", ".debug_aranges": "debug_aranges_sec",
}


def pyelftools_debug_sections(path) -> dict[str, bytes] | None:
    """pyelftools' relocated debug sections, or None where it cannot relocate."""
    from elftools.common.exceptions import ELFRelocationError
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as f:
        try:
            di = ELFFile(f).get_dwarf_info(relocate_dwarf_sections=True)
        except ELFRelocationError:
            return None
        out = {}
        for name, attr in DEBUG_ATTRS.items():
            sec = getattr(di, attr, None)
            if sec is not None:
                out[name] = sec.stream.getvalue()
        return out


def check_debug_sections(path) -> int:
    """Our decompressed and relocated debug sections equal pyelftools'."""
    want = pyelftools_debug_sections(path)
    if want is None:
        return 0
    with ElfFile(path, place_sections=False) as e:
        for name, data in want.items():
            got = e.section(name)
            if got is None and name.startswith(".debug_"):
                got = e.section(".z" + name[1:])
            assert got is not None, f"{path}: {name} missing"
            assert bytes(got) == data, f"{path}: {name} differs from pyelftools'"
    return len(want)


def check_symbols(path, limit: int | None = None) -> int:
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as f, ElfFile(path) as e:
        pe = ELFFile(f).get_section_by_name(".symtab")
        syms = e.symbols()
        assert len(syms) == pe.num_symbols()
        n = len(syms) if limit is None else min(limit, len(syms))
        types = {"STT_NOTYPE": 0, "STT_OBJECT": 1, "STT_FUNC": 2, "STT_SECTION": 3,
                 "STT_FILE": 4, "STT_COMMON": 5, "STT_TLS": 6, "STT_GNU_IFUNC": 10}
        binds = {"STB_LOCAL": 0, "STB_GLOBAL": 1, "STB_WEAK": 2, "STB_GNU_UNIQUE": 10}
        shn = {"SHN_UNDEF": 0, "SHN_ABS": 0xFFF1, "SHN_COMMON": 0xFFF2}
        for i in range(n):
            s = pe.get_symbol(i)
            assert syms.name(i) == s.name
            assert syms.values[i] == s["st_value"]
            assert syms.sizes[i] == s["st_size"]
            assert syms.types[i] == types.get(s["st_info"]["type"], s["st_info"]["type"])
            assert syms.binds[i] == binds.get(s["st_info"]["bind"], s["st_info"]["bind"])
            ndx = s["st_shndx"]
            assert syms.shndx[i] == shn.get(ndx, ndx)
        if limit is None:
            assert syms.names() == [pe.get_symbol(i).name for i in range(n)]
        return n


@pytest.mark.parametrize("path", OBJECTS, ids=lambda p: p.name)
def test_fixture_matches_pyelftools(path):
    with ElfFile(path) as e:
        assert e.e_type == ET.REL and e.machine == EM.X86_64 and e.elfclass == 64
    check_debug_sections(path)
    assert check_symbols(path) > 0


def test_section_table_matches_pyelftools():
    from elftools.elf.elffile import ELFFile

    path = OBJECTS[0]
    with open(path, "rb") as f, ElfFile(path) as e:
        pe = ELFFile(f)
        assert [h.name for h in e.sections] == [s.name for s in pe.iter_sections()]
        for h, s in zip(e.sections, pe.iter_sections()):
            assert (h.offset, h.size, h.link, h.info) == (
                s["sh_offset"], s["sh_size"], s["sh_link"], s["sh_info"])
            if s["sh_type"] != "SHT_NOBITS" and not h.name.startswith((".debug", ".rela")):
                assert bytes(e.section(h.name, relocate=False) or b"") == s.data()


def test_plain_section_is_a_view_and_relocated_one_is_bytes():
    with ElfFile(OBJECTS[0]) as e:
        assert isinstance(e.section(".debug_str"), memoryview)
        assert isinstance(e.section(".debug_info"), bytes)
        assert e.section(".no_such_section") is None
        raw = e.section(".debug_info", relocate=False)
        assert bytes(raw) != e.section(".debug_info")


def test_relocation_sections_found_by_target():
    with ElfFile(OBJECTS[0]) as e:
        info = e.header(".debug_info")
        rels = relocation_sections(e, info.index)
        assert [r.name for r in rels] == [".rela.debug_info"]


def test_symbol_columns():
    with ElfFile(FIXTURES / "kinds.gcc.dwarf5.o") as e:
        syms = e.symbols()
        funcs = syms.of_type(2)                 # STT_FUNC
        assert funcs and all(syms.types[i] == 2 for i in funcs)
        assert "FUNC GLOBAL" in syms.describe(funcs[0])


# ---------------------------------------------------------------------------
# Variants made on the spot.


def _compile(tmp_path, *flags) -> Path:
    if GCC is None:
        pytest.skip("gcc is not installed")
    obj = tmp_path / "k.o"
    src = FIXTURES.parent / "src" / "kinds.c"
    r = subprocess.run([GCC, "-c", "-O2", "-g", *flags, "-o", str(obj), str(src)],
                       capture_output=True)
    if r.returncode:
        pytest.skip(f"gcc {' '.join(flags)} failed: {r.stderr.decode()[:200]}")
    return obj


def test_elf32_i386_rel_relocations(tmp_path):
    """ELF32, EM_386: `.rel.*` sections (addend stored in place)."""
    obj = _compile(tmp_path, "-m32")
    with ElfFile(obj) as e:
        assert e.elfclass == 32 and e.machine == EM.I386
        assert e.header(".rel.debug_info") is not None
    assert check_debug_sections(obj) > 0
    assert check_symbols(obj) > 0
    from encoder.dwarf import Dwarf
    with Dwarf.open(obj) as dw:
        dies = [d for u in dw.units() for d in dw.walk(u).dies]
        assert any(d[3] == "colour" for d in dies)


def _objcopy(tmp_path, src: Path, how: str) -> Path:
    if OBJCOPY is None:
        pytest.skip("objcopy is not installed")
    out = tmp_path / f"{how}.o"
    r = subprocess.run([OBJCOPY, f"--compress-debug-sections={how}", str(src), str(out)],
                       capture_output=True)
    if r.returncode:
        pytest.skip(f"objcopy cannot {how}: {r.stderr.decode()[:200]}")
    return out


def _same_debug_sections(a: Path, b: Path) -> None:
    with ElfFile(a) as ea, ElfFile(b) as eb:
        for name in (".debug_info", ".debug_abbrev", ".debug_str", ".debug_line"):
            got = eb.section(name) or eb.section(".z" + name[1:])
            assert bytes(got) == bytes(ea.section(name)), name


@pytest.mark.parametrize("how", ["zlib", "zlib-gnu"])
def test_compressed_debug_sections(tmp_path, how):
    src = FIXTURES / "kinds.gcc.dwarf5.o"
    obj = _objcopy(tmp_path, src, how)
    _same_debug_sections(src, obj)
    from encoder.dwarf import Dwarf
    with Dwarf.open(src) as a, Dwarf.open(obj) as b:
        assert [a.walk(u).dies for u in a.units()] == [b.walk(u).dies for u in b.units()]


def test_zstd_debug_sections(tmp_path):
    src = FIXTURES / "kinds.gcc.dwarf5.o"
    obj = _objcopy(tmp_path, src, "zstd")
    try:
        import zstandard  # noqa: F401
    except ImportError:
        with ElfFile(obj) as e, pytest.raises(ElfError, match="zstandard") as ei:
            e.section(".debug_info")
        assert ei.value.file == str(obj) and ei.value.section == ".debug_info"
        return
    _same_debug_sections(src, obj)


# ---------------------------------------------------------------------------
# Bad input.


def _bad(tmp_path, data: bytes) -> Path:
    p = tmp_path / "bad.o"
    p.write_bytes(data)
    return p


def test_not_elf(tmp_path):
    with pytest.raises(ElfError, match="not an ELF file") as ei:
        ElfFile(_bad(tmp_path, b"hello world, this is not ELF"))
    assert ei.value.file.endswith("bad.o")


def test_empty_file(tmp_path):
    with pytest.raises(ElfError, match="empty"):
        ElfFile(_bad(tmp_path, b""))


def test_missing_file(tmp_path):
    with pytest.raises(ElfError, match="cannot read"):
        ElfFile(tmp_path / "nope.o")


def test_big_endian_refused(tmp_path):
    data = bytearray(OBJECTS[0].read_bytes())
    data[5] = 2
    with pytest.raises(ElfError, match="big-endian") as ei:
        ElfFile(_bad(tmp_path, bytes(data)))
    assert ei.value.offset == 5


def test_unknown_class_refused(tmp_path):
    data = bytearray(OBJECTS[0].read_bytes())
    data[4] = 7
    with pytest.raises(ElfError, match="class 7"):
        ElfFile(_bad(tmp_path, bytes(data)))


def test_truncated_file(tmp_path):
    data = OBJECTS[0].read_bytes()
    with pytest.raises(ElfError, match="past the end"):
        ElfFile(_bad(tmp_path, data[:len(data) // 2]))


def _rela_patch(tmp_path, index: int, **fields) -> Path:
    """BASE with entry `index` of .rela.debug_info changed."""
    base = FIXTURES / "kinds.gcc.dwarf5.o"
    data = bytearray(base.read_bytes())
    with ElfFile(base) as e:
        r = e.header(".rela.debug_info")
    at = r.offset + 24 * index
    off, info, add = struct.unpack_from("<QQq", data, at)
    off = fields.get("offset", off)
    info = (info & ~0xFFFFFFFF) | fields["type"] if "type" in fields else info
    add = fields.get("addend", add)
    struct.pack_into("<QQq", data, at, off, info, add)
    return _bad(tmp_path, bytes(data))


@pytest.fixture(params=["compiled", "python"])
def relocation_loop(request, monkeypatch):
    """Each relocation test runs with _crelocs.c and with relocs.py's loop,
    the reference it must agree with."""
    from encoder.elf import relocs
    if request.param == "compiled" and relocs._crelocs is None:
        pytest.skip("_crelocs was not built")
    if request.param == "python":
        monkeypatch.setattr(relocs, "_crelocs", None)
    return request.param


def _relocated(path: Path) -> dict:
    with ElfFile(path) as e:
        return {h.name: bytes(e.section(h.name)) for h in e.sections
                if h.name.startswith(".debug_")}


def test_compiled_relocations_equal_the_loop(tmp_path, monkeypatch):
    """Every fixture object, and one with a PC-relative entry among the
    others (left to the loop by the compiled one), relocate to the same
    bytes either way."""
    from encoder.elf import relocs
    if relocs._crelocs is None:
        pytest.skip("_crelocs was not built")
    cases = [p for p in OBJECTS if ElfFile(p).is_relocatable]
    cases += [_rela_patch(tmp_path, 3, type=2, addend=1 << 40),       # R_X86_64_PC32
              _rela_patch(tmp_path, 5, type=0)]                        # R_X86_64_NONE
    compiled = [_relocated(p) for p in cases]
    monkeypatch.setattr(relocs, "_crelocs", None)
    assert [_relocated(p) for p in cases] == compiled
    assert len(cases) > 10


def test_unsupported_relocation_type(tmp_path, relocation_loop):
    p = _rela_patch(tmp_path, 3, type=99)
    with ElfFile(p) as e, pytest.raises(ElfError, match="relocation type 99") as ei:
        e.section(".debug_info")
    assert ei.value.section == ".rela.debug_info" and ei.value.offset is not None


def test_relocation_overflow(tmp_path, relocation_loop):
    p = _rela_patch(tmp_path, 3, type=10, addend=1 << 33)      # R_X86_64_32
    with ElfFile(p) as e, pytest.raises(ElfError, match="does not fit"):
        e.section(".debug_info")


def test_relocation_outside_section(tmp_path, relocation_loop):
    p = _rela_patch(tmp_path, 3, offset=1 << 30)
    with ElfFile(p) as e, pytest.raises(ElfError, match="outside") as ei:
        e.section(".debug_info")
    assert ei.value.offset == 1 << 30


@pytest.mark.parametrize("index", [0, 3])
def test_relocation_at_a_negative_offset(tmp_path, relocation_loop, index):
    """An offset with the top bit set is refused (pack_into would count it
    from the section's end), the entry named whether it comes first or later."""
    p = _rela_patch(tmp_path, index, offset=(1 << 64) - 8)
    with ElfFile(p) as e, pytest.raises(ElfError, match=f"relocation {index}: offset") as ei:
        e.section(".debug_info")
    with ElfFile(p) as e:
        assert ei.value.offset == e.header(".rela.debug_info").offset + 24 * index


def test_old_section_bytes_helper_still_works():
    from encoder.elf.sections import section_bytes
    got = section_bytes(OBJECTS[0], [".debug_str"])
    assert got[".debug_str"] == bytes(ElfFile(OBJECTS[0]).section(".debug_str"))


# ---------------------------------------------------------------------------
# The real kernel (make corpus).


@pytest.mark.corpus
def test_corpus_module_relocations_match_pyelftools(corpus_dir):
    import corpus
    by_rel = {corpus.module_relpath(p, corpus_dir): p
              for p in corpus.dbg_module_paths(corpus_dir)}
    for rel in ("kernel/lib/crc7.ko", "kernel/drivers/scsi/hv_storvsc.ko"):
        if rel not in by_rel:
            pytest.skip(f"{rel} is not in the corpus")
        assert check_debug_sections(by_rel[rel]) > 3
        assert check_symbols(by_rel[rel]) > 10


@pytest.mark.corpus
def test_corpus_vmlinux_container(corpus_dir):
    import corpus
    path = corpus.vmlinux_path(corpus_dir)
    with ElfFile(path) as e:
        assert e.e_type == ET.EXEC and e.machine == EM.X86_64
        assert e.header(".rela.debug_info") is not None      # --emit-relocs
        info = e.section(".debug_info")
        assert isinstance(info, memoryview)                    # not relocated, not copied
        h = e.header(".debug_info")
        assert len(info) == h.size
        syms = e.symbols()
        assert len(syms) > 100_000
    assert check_symbols(path, limit=2000) == 2000
