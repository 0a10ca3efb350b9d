"""The export classifier on the exports fixture (fixtures/src/exports).

exports.c declares every export and every `.BTF_ids` slot on a line of its
own; those lines are the expected answer, read here with regexes, so the
tests hold for whatever the fixture says.  The fixture is built in four
`struct kernel_symbol` layouts, each linked as a module (ET_REL, through
relocations) and as a kernel image (ET_EXEC, --emit-relocs).  The oracle
for the bpf_kfunc / bpf_fastcall tags is pahole master's BTF of the same
files (committed next to them by fixtures/src/exports/build.py --pahole).
"""

from __future__ import annotations

import json
import re

import pytest

from encoder.btf.dump import dump_text
from encoder.btf.kinds import Kind
from encoder.btf.reader import parse
from encoder.btf.verifier import PROFILES, verify_bytes
from encoder.btf.writer import encode as write
from encoder.cli import main
from encoder.elf import ElfFile
from encoder.encode import Request, encode
from encoder.exports.kfuncs import func_name, read_btf_ids
from encoder.exports.ksymtab import read_exports
from encoder.exports.symvers import SymversLine, lines, module_name, parse as parse_symvers
from encoder.features import Features

from util import REPO

SRC = REPO / "fixtures" / "src" / "exports"
OBJ = REPO / "fixtures" / "obj" / "exports"
LAYOUTS = {"prel32ns": "prel32+ns", "prel32": "prel32", "abs64ns": "abs64+ns",
           "kflagstab": "prel32+ns"}
FILES = [(layout, kind) for layout in LAYOUTS for kind in ("ko", "vmlinux")]
TAGGED = OBJ / "exports.prel32ns.vmlinux"


def _path(layout: str, kind: str):
    return OBJ / f"exports.{layout}.{kind}"


# -- what the fixture's source says ------------------------------------------------------

def _source() -> str:
    return (SRC / "exports.c").read_text()


def _kf_values() -> dict[str, int]:
    return {m[1]: 1 << int(m[2]) for m in
            re.finditer(r"#define (KF_\w+)\s+\(1 << (\d+)\)", (SRC / "ksym.h").read_text())}


def _flags(expr: str) -> int:
    kf = _kf_values()
    return sum(0 if t.strip() == "0" else
               1 if t.strip() == "BTF_SET8_KFUNCS" else kf[t.strip()]
               for t in expr.split("|"))


def expected_exports(layout: str) -> dict[str, tuple[str, str, int]]:
    """name -> (export type, namespace, crc), from the EXPORT(...) lines."""
    out = {}
    for m in re.finditer(r'^EXPORT\((\w+), ([01]), "([^"]*)", (0x[0-9a-f]+)\);', _source(), re.M):
        ns = "" if layout == "prel32" else m[3]       # no namespace field before 5.4
        out[m[1]] = ("EXPORT_SYMBOL_GPL" if m[2] == "1" else "EXPORT_SYMBOL", ns, int(m[4], 16))
    return out


def expected_sets() -> dict[str, tuple[bool, int, list[tuple[str, int]]]]:
    """set -> (set8, set flags, [(func, flags)]) and '' -> the list's funcs."""
    sets, current = {}, None
    for line in _source().splitlines():
        if m := re.match(r"BTF_SET8_START\((\w+), (.+)\);", line):
            current = sets[m[1]] = (True, _flags(m[2]), [])
        elif m := re.match(r"BTF_SET_START\((\w+)\);", line):
            current = sets[m[1]] = (False, 0, [])
        elif m := re.match(r"BTF_ID_LIST\((\w+)\);", line):
            current = sets[""] = (False, 0, [])
        elif m := re.match(r"BTF_ID_FLAGS\(func, (\w+), \d+, (.+)\);", line):
            current[2].append((m[1], _flags(m[2])))
        elif m := re.match(r"BTF_ID_SLOT\(func, (\w+), \d+\);", line):
            current[2].append((m[1], 0))
    return sets


def defined_functions() -> set[str]:
    return set(re.findall(r"^__attribute__\(\([^)]*\)\) [\w *]+?\b(\w+)\(", _source(), re.M))


# -- __ksymtab ---------------------------------------------------------------------------

@pytest.mark.parametrize("layout,kind", FILES)
def test_exports_match_the_source(layout, kind):
    with ElfFile(_path(layout, kind)) as elf:
        table = read_exports(elf)
    got = {e.name: (e.export_type, e.namespace, e.crc) for e in table.exports}
    assert got == expected_exports(layout)
    assert table.layout == LAYOUTS[layout]
    assert table.has_crcs and table.has_flagstab == (layout == "kflagstab")
    assert not table.warnings


@pytest.mark.parametrize("layout,kind", FILES)
def test_export_values_are_the_symbols(layout, kind):
    """Each entry's value is the address of the ELF symbol it exports, and
    its kind that symbol's type (pyelftools reads the symbols)."""
    from elftools.elf.elffile import ELFFile
    path = _path(layout, kind)
    with open(path, "rb") as f:
        syms = {s.name: s for s in ELFFile(f).get_section_by_name(".symtab").iter_symbols()}
    with ElfFile(path) as elf:
        exports = read_exports(elf).exports
        for e in exports:
            sym = syms[e.name]
            base = elf.section_address(sym["st_shndx"]) if elf.is_relocatable else 0
            assert e.address == base + sym["st_value"], e.name
            assert e.kind == {"STT_FUNC": "func", "STT_OBJECT": "object"}[sym["st_info"]["type"]]


def test_sorted_like_the_kernel():
    """The loader bsearches each table: entries are in name order."""
    with ElfFile(_path("prel32ns", "vmlinux")) as elf:
        exports = read_exports(elf).exports
    for sec in {e.section for e in exports}:
        names = [e.name for e in exports if e.section == sec]
        assert names == sorted(names)


@pytest.mark.parametrize("layout,kind", FILES)
def test_symvers_lines(layout, kind):
    with ElfFile(_path(layout, kind)) as elf:
        got = lines(read_exports(elf), "widgets")
    want = {SymversLine(crc, name, "widgets", t, ns)
            for name, (t, ns, crc) in expected_exports(layout).items()}
    assert set(got) == want
    assert parse_symvers("".join(f"{x}\n" for x in got)) == got


def test_module_names():
    class Rel:
        e_type = 1
    assert module_name("/lib/modules/6.1.0-56/kernel/fs/xfs/xfs.ko", Rel) == "fs/xfs/xfs"
    assert module_name("/x/lib/modules/6.12/kernel/kernel/bpf/preload/bpf_preload.ko",
                       Rel) == "kernel/bpf/preload/bpf_preload"
    assert module_name("/lib/modules/6.1/updates/dkms/zfs.ko", Rel) == "dkms/zfs"
    assert module_name("cache/modules/unsigned/kernel/net/9p/9pnet.ko", Rel) == "net/9p/9pnet"
    assert module_name("/tmp/twofish-x86_64.ko", Rel) == "twofish-x86_64"
    with ElfFile(_path("prel32ns", "vmlinux")) as elf:
        assert module_name("anything", elf) == "vmlinux"


# -- .BTF_ids ----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["ko", "vmlinux"])
def test_btf_ids_match_the_source(kind):
    with ElfFile(_path("prel32ns", kind)) as elf:
        ids = read_btf_ids(elf)
    want = expected_sets()
    got = {s.name: (s.eight, s.flags, s.members) for s in ids.sets}
    assert got == {k: v for k, v in want.items() if k}
    named = {f for _, _, members in want.values() for f, _ in members}
    assert set(ids.funcs) == named
    assert ids.marked
    kfuncs = {f: fl for name, (eight, flags, members) in want.items()
              if eight and flags & 1 for f, fl in members}
    assert ids.kfuncs() == kfuncs
    every = {f: fl for name, (eight, _, members) in want.items() if eight for f, fl in members}
    assert set(ids.kfuncs(all_set8=True)) == set(every)


def test_btf_id_names_as_pahole_reads_them():
    assert func_name("__BTF_ID__func__vfs_close__1") == "vfs_close"
    assert func_name("__BTF_ID__func__bpf_obj_new_impl__712") == "bpf_obj_new_impl"
    assert func_name("__BTF_ID__func__a__b__3") == "a__b"
    assert func_name("__BTF_ID__func___") is None
    assert func_name("__BTF_ID__func__noseq") is None
    assert func_name("__BTF_ID__struct__task__1") is None


# -- BTF ---------------------------------------------------------------------------------

def _encode(path, features: str):
    return encode(Request(str(path), features=Features.parse(features)))


@pytest.mark.parametrize("kind", ["ko", "vmlinux"])
def test_kfunc_tags_equal_pahole_master(kind):
    """With pahole's default features our BTF, DECL_TAGs and their places
    included, is what pahole master makes of the same file."""
    path = _path("prel32ns", kind)
    ref = parse(path.with_name(path.name + ".pahole.btf").read_bytes())
    ours = _encode(path, "default").btf
    assert list(dump_text(ours)) == list(dump_text(ref))
    tags = {(ours[t.type].name, t.name) for t in ours.types if t.kind == Kind.DECL_TAG}
    with ElfFile(path) as elf:
        kfuncs = read_btf_ids(elf).kfuncs()
    defined = defined_functions()
    want = {(f, "bpf_kfunc") for f in kfuncs if f in defined}
    want |= {(f, "bpf_fastcall") for f, fl in kfuncs.items() if f in defined and fl & (1 << 12)}
    assert tags == want and ("bpf_widget_flags", "bpf_fastcall") in tags


def test_no_kfunc_tags_without_the_feature():
    btf = _encode(TAGGED, "encode_force,var,float,decl_tag,type_tag,enum64,"
                          "optimized_func,consistent_func").btf
    assert not [t for t in btf.types if t.kind == Kind.DECL_TAG]


def _own_tags(btf) -> dict[tuple[str, str], set[str]]:
    out: dict = {}
    for t in btf.types:
        if t.kind == Kind.DECL_TAG and not t.name.startswith("bpf_"):
            target = btf[t.type]
            out.setdefault((target.kind.name, target.name), set()).add(t.name)
    return out


def test_export_tags():
    btf = _encode(TAGGED, "default,export_tags,global_var").btf
    kf_names = {v: k[3:].lower() for k, v in _kf_values().items()}
    want: dict = {}
    for name, (t, ns, _) in expected_exports("prel32ns").items():
        kind = "FUNC" if name in defined_functions() else "VAR"
        tags = {"export_gpl" if t.endswith("GPL") else "export"}
        tags |= {f"export_ns:{ns}"} if ns else set()
        want[(kind, name)] = tags
    for set_name, (eight, flags, members) in expected_sets().items():
        if not (eight and flags & 1):
            continue
        for f, fl in members:
            if f in defined_functions():
                tags = want.setdefault(("FUNC", f), set())
                tags |= {f"kfunc:{set_name}"} | {f"kf:{n}" for b, n in kf_names.items() if fl & b}
    assert _own_tags(btf) == want
    verify_bytes(write(btf), profile=PROFILES["latest"], resolve=True)


@pytest.mark.kernel
def test_kernel_accepts_export_tags():
    import kernel
    reason = kernel.available()
    if reason:
        pytest.skip(reason)
    ok, errno, log = kernel.load_btf(write(_encode(TAGGED, "default,export_tags").btf))
    assert ok, f"errno {errno}: {log[-2000:]}"


def test_missing_btf_id_function_is_reported():
    """bpf_widget_gone sits in a kfunc set but is defined nowhere: no FUNC."""
    result = _encode(TAGGED, "default")
    missing = [w for w in result.warnings if ".BTF_ids" in w]
    assert len(missing) == 1 and "'bpf_widget_gone'" in missing[0]
    assert "widget_kfunc_ids" in missing[0]


# -- the command -------------------------------------------------------------------------

def _run(capsys, *argv) -> tuple[int, str, str]:
    rc = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_symvers(capsys):
    rc, out, _ = _run(capsys, "exports", "--format", "symvers", "--module", "w",
                      _path("abs64ns", "ko"))
    assert rc == 0
    assert {(x.symbol, x.export_type, x.namespace, x.crc) for x in parse_symvers(out)} == \
        {(n, t, ns, crc) for n, (t, ns, crc) in expected_exports("abs64ns").items()}


def test_cli_json_and_table(capsys, tmp_path):
    btf = tmp_path / "ours.btf"
    btf.write_bytes(write(_encode(TAGGED, "default").btf))
    rc, out, err = _run(capsys, "exports", "--format", "json", "--btf", btf, TAGGED)
    assert rc == 0
    doc = json.loads(out)
    rows = {r["symbol"]: r for r in doc["symbols"]}
    assert rows["export_frobnicate"]["export_prefix"] and rows["export_frobnicate"]["btf_func"]
    assert rows["bpf_widget_acquire"]["export"] == "EXPORT_SYMBOL_GPL"
    assert rows["bpf_widget_acquire"]["kfunc"][0]["flags"] == ["acquire", "ret_null",
                                                               "trusted_args"]
    assert rows["bpf_widget_gone"]["btf_func"] is False
    assert [m.split("'")[1] for m in doc["missing_btf_funcs"]] == ["bpf_widget_gone"]
    assert "bpf_widget_gone" in err
    rc, out, _ = _run(capsys, "exports", "--btf", btf, TAGGED)
    assert rc == 0 and "# MISSING: 1 functions" in out
    assert re.search(r"^bpf_widget_gone .* MISSING$", out, re.M)


def test_cli_all_set8(capsys):
    rc, out, _ = _run(capsys, "exports", "--format", "json", "--all-set8", TAGGED)
    rows = {r["symbol"]: r for r in json.loads(out)["symbols"]}
    assert [k["set"] for k in rows["bpf_widget_lookup"]["kfunc"]] == ["widget_kfunc_ids",
                                                                     "old_kfunc_ids"]
    assert rows["bpf_old_style"]["kfunc"][0]["flags"] == ["sleepable"]


def _patched(tmp_path, src, edits) -> str:
    data = bytearray(src.read_bytes())
    for old, new in edits:
        at = data.index(old)
        data[at:at + len(old)] = new
    out = tmp_path / src.name
    out.write_bytes(bytes(data))
    return str(out)


def test_bad_ksymtab_is_one_line(capsys, tmp_path):
    """Names that resolve nowhere and no labels: one line, exit 2."""
    src = _path("prel32", "ko")
    with ElfFile(src) as elf:
        h = elf.header("__ksymtab_strings")
        strings = bytes(elf.section_by_index(h.index))
    bad = _patched(tmp_path, src, [(strings, b"\x01" * len(strings)),
                                   (b".symtab\0", b".symtaX\0")])
    rc, out, err = _run(capsys, "exports", bad)
    assert rc == 2 and out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"dwarf2btf: {bad}: __ksymtab") and "offset 0x0" in err


def test_labels_name_entries_when_layout_fails(tmp_path):
    """With the string table garbled, the __ksymtab_<name> labels still name
    every export (values and namespaces unknown, said in a warning)."""
    src = _path("prel32ns", "vmlinux")
    with ElfFile(src) as elf:
        h = elf.header("__ksymtab_strings")
        strings = bytes(elf.section_by_index(h.index))
    bad = _patched(tmp_path, src, [(strings, b"\x01" * len(strings))])
    with ElfFile(bad) as elf:
        table = read_exports(elf)
    assert {e.name for e in table.exports} == set(expected_exports("prel32ns"))
    assert table.layout == "labels" and table.warnings
    assert all(e.crc == expected_exports("prel32ns")[e.name][2] for e in table.exports)



def test_not_elf_is_one_line(capsys, tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("not a kernel\n")
    rc, out, err = _run(capsys, "exports", bad)
    assert (rc, out) == (2, "") and err.count("\n") == 1
    assert err.startswith(f"dwarf2btf: {bad}: ") and "not an ELF file" in err


def test_split_btf_needs_its_base(capsys, tmp_path):
    """A module's split .BTF is not checked without --base, and says why."""
    from encoder.output import write_btf_section
    base = _encode(TAGGED, "default").btf
    mod = tmp_path / "exports.ko"
    mod.write_bytes(_path("prel32ns", "ko").read_bytes())
    split = encode(Request(str(mod), base=base, features=Features.parse("default"))).btf
    write_btf_section(str(mod), write(split))
    base_file = tmp_path / "base.btf"
    base_file.write_bytes(write(base))
    rc, out, err = _run(capsys, "exports", "-v", "--format", "json", mod)
    assert rc == 0 and json.loads(out)["missing_btf_funcs"] is None and "--base" in err
    rc, out, err = _run(capsys, "exports", "--format", "json", "--base", base_file, mod)
    assert rc == 0
    assert [m.split("'")[1] for m in json.loads(out)["missing_btf_funcs"]] == ["bpf_widget_gone"]
