"""`dwarf2btf batch` on the committed fixtures: outputs, report, cache, failures.

The outputs are judged against pahole 1.24's BTF of the same objects
(fixtures/obj/*.btf), the report's counts against those files as bpftool
reads them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import corpus
import libbpf16
from encoder.btf.compare import compare
from encoder.btf.reader import load, parse

from util import REPO, bpftool

OBJ = REPO / "fixtures" / "obj"
LEGACY = ["--btf_gen_floats", "--lang_exclude=rust"]      # how the fixtures' BTF was made
KNOWN = {"atomic": {("STRUCT", "refcount")}}                # docs/DIFFERENCES.md


def batch(*args: str, cwd=REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "encoder", "batch", *args], capture_output=True,
                          text=True, cwd=cwd, env={**os.environ, "PYTHONPATH": str(REPO)})


def rows(report: Path) -> dict[str, dict]:
    return {Path(r["input"]).name: r for r in json.loads(report.read_text())["inputs"]}


def test_glob_to_a_directory_equals_pahole(tmp_path):
    out, cache, report = tmp_path / "out", tmp_path / "cache", tmp_path / "r.json"
    r = batch("fixtures/obj/*.dwarf5.o", "-o", str(out), "--cache", str(cache),
              "--report", str(report), "-j2", *LEGACY)
    assert r.returncode == 0, r.stderr
    got = rows(report)
    objs = sorted(OBJ.glob("*.dwarf5.o"))
    assert sorted(got) == [o.name for o in objs]
    for obj in objs:
        row = got[obj.name]
        ref = parse(obj.with_suffix(".btf").read_bytes())
        ours = parse((out / obj.with_suffix(".btf").name).read_bytes())
        rep = compare(ref, ours)
        known = KNOWN.get(obj.name.split(".")[0], set())
        assert not [k for k in rep.missing + [(k, n) for k, n, _, _ in rep.differ]
                    if k not in known] and not rep.extra, f"{obj.name}\n{rep.text()}"
        assert row["status"] == "encoded" and row["types"] == len(ours.types)
        assert row["functions"] == sum(t.kind.name == "FUNC" for t in ref.types)
        assert row["variables"] == sum(t.kind.name == "VAR" for t in ref.types)
    # one output as bpftool reads it
    some = out / "percpu.gcc.dwarf5.btf"
    dump = json.loads(bpftool("-j", "btf", "dump", "file", str(some)))["types"]
    assert got["percpu.gcc.dwarf5.o"]["variables"] == sum(t["kind"] == "VAR" for t in dump) > 0


def test_cache_skips_unchanged_inputs(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    names = ["kinds.gcc.dwarf4.o", "packed.clang.dwarf5.o", "enums.gcc.dwarf5.o"]
    for n in names:
        shutil.copyfile(OBJ / n, src / n)
    args = [str(src), "--cache", str(tmp_path / "cache"), "-j2", *LEGACY]
    first = tmp_path / "first.tsv"
    assert batch(*args, "--report", str(first)).returncode == 0
    outputs = {n: (src / n).with_suffix(".btf") for n in names}
    stamps = {n: p.stat().st_mtime_ns for n, p in outputs.items()}
    # one input changes (rebuilt from another source), one output is deleted
    shutil.copyfile(OBJ / "enums.clang.dwarf5.o", src / "enums.gcc.dwarf5.o")
    outputs["packed.clang.dwarf5.o"].unlink()
    second = tmp_path / "second.json"
    r = batch(*args, "--report", str(second))
    assert r.returncode == 0, r.stderr
    status = {n: row["status"] for n, row in rows(second).items()}
    assert status == {"kinds.gcc.dwarf4.o": "cached", "packed.clang.dwarf5.o": "cached",
                      "enums.gcc.dwarf5.o": "encoded"}
    assert outputs["kinds.gcc.dwarf4.o"].stat().st_mtime_ns == stamps["kinds.gcc.dwarf4.o"]
    rep = compare(parse((OBJ / "packed.clang.dwarf5.btf").read_bytes()),
                  parse(outputs["packed.clang.dwarf5.o"].read_bytes()))
    assert rep.share_identical() == 1.0 and not rep.extra     # rewritten from the cache
    rep = compare(parse((OBJ / "enums.clang.dwarf5.btf").read_bytes()),
                  parse(outputs["enums.gcc.dwarf5.o"].read_bytes()))
    assert rep.share_identical() == 1.0 and not rep.extra     # the new content's BTF
    # the TSV report of the first run: header and one row per input
    lines = first.read_text().splitlines()
    assert lines[0].split("\t")[:3] == ["input", "output", "status"] and len(lines) == 4
    third = tmp_path / "third.json"
    assert batch(*args, "--no-cache", "--report", str(third)).returncode == 0
    assert {row["status"] for row in rows(third).values()} == {"encoded"}


def test_a_failed_input_does_not_stop_the_others(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copyfile(OBJ / "kinds.gcc.dwarf5.o", src / "a_good.o")
    (src / "b_bad.o").write_bytes(b"\x7fELF" + b"\0" * 60)
    shutil.copyfile(OBJ / "typedefs.clang.dwarf4.o", src / "c_good.o")
    (src / "notes.txt").write_text("not an input: directories give *.ko and *.o only")
    report = tmp_path / "r.json"
    r = batch(str(src), "--no-cache", "--report", str(report), "-j2", *LEGACY)
    assert r.returncode == 2
    got = rows(report)
    assert set(got) == {"a_good.o", "b_bad.o", "c_good.o"}
    assert got["b_bad.o"]["status"] == "failed" and "b_bad.o" in got["b_bad.o"]["error"]
    assert got["a_good.o"]["status"] == got["c_good.o"]["status"] == "encoded"
    assert (src / "c_good.btf").exists() and not (src / "b_bad.btf").exists()
    errors = [line for line in r.stderr.splitlines() if line.startswith("dwarf2btf:")]
    assert len(errors) == 1 and "b_bad.o" in errors[0] and "Traceback" not in r.stderr
    assert json.loads(report.read_text())["summary"]["failed"] == 1


def test_in_place_and_a_second_run_skips(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for n in ("fwd_split.gcc.dwarf5.o", "percpu.clang.dwarf4.o"):
        shutil.copyfile(OBJ / n, src / n)
    args = ["-J", str(src / "*.o"), "--cache", str(tmp_path / "cache"), *LEGACY]
    assert batch(*args).returncode == 0
    for n in ("fwd_split.gcc.dwarf5", "percpu.clang.dwarf4"):
        rep = compare(parse((OBJ / f"{n}.btf").read_bytes()), load(src / f"{n}.o"))
        assert rep.share_identical() == 1.0 and not rep.extra, rep.text()
    before = {p: p.read_bytes() for p in src.iterdir()}
    report = tmp_path / "r.json"
    assert batch(*args, "--report", str(report)).returncode == 0
    assert {r["status"] for r in rows(report).values()} == {"cached"}
    assert {p: p.read_bytes() for p in src.iterdir()} == before


def test_manifest_with_outputs_and_a_base(tmp_path):
    base = OBJ / "kinds.gcc.dwarf5.btf"
    manifest = tmp_path / "list.txt"
    manifest.write_text("# module objects over the kinds fixture\n\n"
                        f"{OBJ / 'packed.gcc.dwarf5.o'}\tout/packed.btf\n"
                        f"{OBJ / 'arrays.gcc.dwarf5.o'}\tout/arrays.btf\n")
    r = batch("--manifest", str(manifest), "--btf_base", str(base), "--no-cache",
              "-j2", *LEGACY)
    assert r.returncode == 0, r.stderr
    b = parse(base.read_bytes())
    for name in ("packed", "arrays"):
        split = parse((tmp_path / "out" / f"{name}.btf").read_bytes(), base=b)
        assert split.start_id == b.type_count
        single = tmp_path / f"{name}.single.btf"
        subprocess.run([sys.executable, "-m", "encoder", "encode", *LEGACY, "--btf_base",
                        str(base), f"--btf_encode_detached={single}",
                        str(OBJ / f"{name}.gcc.dwarf5.o")], check=True, cwd=REPO)
        assert single.read_bytes() == (tmp_path / "out" / f"{name}.btf").read_bytes()


def test_base_is_parsed_once_for_all_workers(tmp_path):
    """The parent parses the base before forking; workers never read it."""
    log = tmp_path / "loads.log"
    code = f"""
import sys
from encoder import basecache
real = basecache.load_base
def counted(path, **kw):
    with open({str(log)!r}, "a") as f:
        f.write(str(path) + "\\n")
    return real(path, **kw)
basecache.load_base = counted
from encoder.cli import main
sys.exit(main(sys.argv[1:]))
"""
    r = subprocess.run([sys.executable, "-c", code, "batch", "fixtures/obj/*.gcc.dwarf4.o",
                        "-o", str(tmp_path / "out"), "--no-cache", "-j2", *LEGACY,
                        "--btf_base", str(OBJ / "kinds.gcc.dwarf5.btf")],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr
    assert log.read_text().splitlines() == [str(OBJ / "kinds.gcc.dwarf5.btf")]
    assert len(list((tmp_path / "out").glob("*.btf"))) == len(list(OBJ.glob("*.gcc.dwarf4.o")))


def test_usage_mistakes_are_one_line_exit_2(tmp_path):
    for args, words in ((["fixtures/obj/*.nothing"], "no file matches"),
                        ([], "no inputs"),
                        (["fixtures/obj/kinds.gcc.dwarf5.o", "fixtures/obj/kinds.gcc.dwarf4.o",
                          "--suffix", ".x", "-o", str(tmp_path), "--report", "-"], None)):
        r = batch(*args, "--no-cache")
        if words is None:       # not a mistake: two inputs, two outputs
            assert r.returncode == 0 and len(json.loads(r.stdout)["inputs"]) == 2
            continue
        assert r.returncode == 2 and words in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    src = tmp_path / "twice"
    (src / "a").mkdir(parents=True)
    (src / "b").mkdir()
    shutil.copyfile(OBJ / "kinds.gcc.dwarf5.o", src / "a" / "m.o")
    shutil.copyfile(OBJ / "kinds.gcc.dwarf4.o", src / "b" / "m.o")
    r = batch(str(src / "a" / "m.o"), str(src / "b" / "m.o"), "-o", str(tmp_path / "o"))
    assert r.returncode == 2 and "would both write" in r.stderr


def test_fixture_btf_of_ours_reads_as_bpftool_reads_it():
    """fixtures/obj/ours/ is what `make fixtures` had batch write: bpftool
    reads the files as we do, and summary.tsv counts what is in them."""
    from encoder.btf.dump import dump_text
    ours = OBJ / "ours"
    files = sorted(ours.glob("*.btf"))
    assert len(files) == len(list(OBJ.glob("*.o")))
    summary = {line.split("\t")[0]: line.split("\t")[1:]
               for line in (ours / "summary.tsv").read_text().splitlines()[1:]}
    for f in files[::9]:
        btf = parse(f.read_bytes())
        assert "".join(dump_text(btf)) == bpftool("btf", "dump", "file", str(f)).decode()
        kinds = [t.kind.name for t in btf.types]
        assert summary[f.stem][:3] == [str(len(kinds)), str(kinds.count("FUNC")),
                                       str(kinds.count("VAR"))]


def test_the_make_snippet_on_module_shaped_objects(tmp_path):
    """fixtures/kmod/dwarf2btf.mk as docs/KBUILD.md shows it, run by make on
    relocatable objects named .ko over a base: .BTF and a distilled .BTF.base
    in each, which libbpf (>= 1.5) relocates back onto the base."""
    snippet = (REPO / "fixtures" / "kmod" / "dwarf2btf.mk").read_text()
    doc = (REPO / "docs" / "KBUILD.md").read_text()
    assert snippet.strip() in doc.replace("```make\n", "").replace("\n```", "")
    mods = tmp_path / "mods" / "sub"
    mods.mkdir(parents=True)
    for n in ("packed.gcc.dwarf5", "fwd_split.gcc.dwarf5"):
        shutil.copyfile(OBJ / f"{n}.o", mods / f"{n}.ko")
    shutil.copyfile(OBJ / "kinds.gcc.dwarf5.o", mods / "not_a_module.o")
    base = OBJ / "kinds.gcc.dwarf5.btf"
    exe = tmp_path / "dwarf2btf"
    exe.write_text(f'#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} -m encoder "$@"\n')
    exe.chmod(0o755)
    r = subprocess.run(["make", "-f", str(REPO / "fixtures" / "kmod" / "dwarf2btf.mk"), "btf",
                        f"DWARF2BTF={exe}", f"BTF_BASE={base}", f"BTF_MODULES_DIR={tmp_path}",
                        f"BTF_FLAGS=--cache={tmp_path / 'cache'} {' '.join(LEGACY)}"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "2 inputs: 2 encoded" in r.stderr
    b = parse(base.read_bytes())
    for n in ("packed.gcc.dwarf5", "fwd_split.gcc.dwarf5"):
        ko = mods / f"{n}.ko"
        split, dist = corpus.section_data(ko, ".BTF"), corpus.section_data(ko, ".BTF.base")
        assert split and dist and len(parse(dist).types) < len(b.types)
        if libbpf16.available():
            moved = parse(libbpf16.relocate(split, dist, base.read_bytes()), base=b)
            plain = tmp_path / f"{n}.btf"
            subprocess.run([sys.executable, "-m", "encoder", "encode", *LEGACY, "--btf_base",
                            str(base), f"--btf_encode_detached={plain}", str(OBJ / f"{n}.o")],
                           check=True, cwd=REPO)
            whole = parse(plain.read_bytes(), base=b)
            rep = compare(whole, moved)
            assert rep.share_identical() == 1.0, rep.text()
    assert corpus.section_data(mods / "not_a_module.o", ".BTF") is None
