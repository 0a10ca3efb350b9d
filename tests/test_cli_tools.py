"""The command line as kbuild and people use it: --version and pahole's argv
shape, `stats`, `diff`, `version`, and the progress bar.

Oracles: the kernel's scripts/pahole-version.sh expression, bpftool's dumps
of the same files, pahole 1.24's fixture BTF, the file sizes on disk.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import shutil
import struct
import subprocess
import sys
import termios

import pytest

from encoder.btf.compare import compare
from encoder.btf.model import Btf, Int, Member, Struct
from encoder.btf.reader import load, parse
from encoder.btf.writer import encode as write

from util import REPO, bpftool

OBJ = REPO / "fixtures" / "obj"
KINDS = OBJ / "kinds.gcc.dwarf5.o"
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
ENV.pop("DWARF2BTF_PAHOLE_VERSION", None)


def run(*args: str, argv0: str | None = None, env=None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "encoder", *args]
    if argv0:       # as if installed under another name (a `pahole` symlink)
        cmd = [sys.executable, "-c", f"import sys; sys.argv[0] = {argv0!r}; "
               "from encoder.cli import main; raise SystemExit(main())", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env or ENV, cwd=REPO)


# --- kbuild's view: --version and pahole's argv ---------------------------------------

def pahole_version_sh(*cmd: str, env=None) -> str:
    """What scripts/pahole-version.sh (Linux 5.19+) makes of `cmd --version`."""
    out = subprocess.run([*cmd, "--version"], capture_output=True, text=True, check=True,
                         env=env or ENV, cwd=REPO).stdout
    return subprocess.run(["sed", "-E", r"s/v([0-9]+)\.([0-9]+)/\1\2/"], input=out,
                          capture_output=True, text=True, check=True).stdout.strip()


def test_version_reads_as_a_pahole_version_number():
    num = pahole_version_sh(sys.executable, "-m", "encoder")
    assert num == "125"            # one integer, as the script's `-ge` tests need
    if shutil.which("pahole"):     # the same expression on the real pahole, for shape
        assert pahole_version_sh("pahole").isdigit()
    ours = run("version")
    assert ours.returncode == 0 and ours.stdout.startswith("dwarf2btf ") and "v1.25" in ours.stdout


def test_claimed_version_can_be_overridden():
    env = {**ENV, "DWARF2BTF_PAHOLE_VERSION": "1.24"}
    assert pahole_version_sh(sys.executable, "-m", "encoder", env=env) == "124"
    bad = run("--version", env={**ENV, "DWARF2BTF_PAHOLE_VERSION": "2"})
    assert bad.returncode != 0 and "want 1.NN" in bad.stderr


KBUILD_1_25 = ["-J", "--btf_gen_floats", "-j", "--lang_exclude=rust",
               "--skip_encoding_btf_inconsistent_proto", "--btf_gen_optimized"]


def test_pahole_argv_shape_equals_encode_subcommand(tmp_path):
    """kbuild runs `$(PAHOLE) -J $(PAHOLE_FLAGS) [--btf_base vmlinux] FILE`."""
    obj = tmp_path / "ipa.o"
    shutil.copyfile(OBJ / "ipa_clones.gcc.dwarf5.o", obj)
    r = run(*KBUILD_1_25, str(obj))
    assert r.returncode == 0 and r.stderr == "", r.stderr
    sub = run("encode", *[a if a != "-j" else "-j0" for a in KBUILD_1_25[1:]],
              f"--btf_encode_detached={tmp_path / 'sub.btf'}", str(OBJ / "ipa_clones.gcc.dwarf5.o"))
    assert sub.returncode == 0, sub.stderr
    assert load(obj).types == parse((tmp_path / "sub.btf").read_bytes()).types


def test_minus_J_with_detached_writes_only_the_detached_file(tmp_path):
    """kbuild's gen-btf.sh (2026) runs `pahole -J ... --btf_encode_detached=X.BTF.1 X`
    and adds the section itself: pahole leaves X alone, so must we."""
    obj = tmp_path / "kinds.o"
    shutil.copyfile(KINDS, obj)
    before = obj.read_bytes()
    r = run("-J", "--btf_gen_floats", f"--btf_encode_detached={tmp_path / 'x.btf'}", str(obj))
    assert r.returncode == 0, r.stderr
    assert obj.read_bytes() == before and (tmp_path / "x.btf").stat().st_size > 0
    if shutil.which("pahole"):
        subprocess.run(["pahole", "-J", "--btf_gen_floats",
                        f"--btf_encode_detached={tmp_path / 'p.btf'}", str(obj)], check=True)
        assert obj.read_bytes() == before


def test_called_as_pahole_and_its_exit_codes(tmp_path):
    out = tmp_path / "o.btf"
    ok = run("-j", f"--btf_encode_detached={out}", str(KINDS), argv0="/usr/local/bin/pahole")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == "" and out.exists()
    assert run("--version", argv0="pahole").stdout == "v1.25\n"
    # pahole: 64 for an option it does not know (argp's EX_USAGE), 1 for a bad file
    assert run("-J", "--no_such_option", str(KINDS)).returncode == 64
    bad = tmp_path / "bad.o"
    bad.write_bytes(b"not an ELF file")
    r = run("-J", str(bad))
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1 and str(bad) in r.stderr
    assert "Traceback" not in r.stderr
    if shutil.which("pahole"):     # what the original does with the same mistakes
        assert subprocess.run(["pahole", "-J", "--no_such_option", str(KINDS)],
                              capture_output=True).returncode == 64
        assert subprocess.run(["pahole", "-J", str(bad)], capture_output=True).returncode == 1


def test_btf_features_given_twice_add_up(tmp_path):
    """Linux 6.13+ passes several --btf_features=...; pahole enables them all."""
    one, two = tmp_path / "one.btf", tmp_path / "two.btf"
    obj = OBJ / "btf_tags.clang.dwarf5.o"
    assert run("encode", "--btf_features=var,decl_tag", "--btf_features=type_tag,float",
               f"--btf_encode_detached={two}", str(obj)).returncode == 0
    assert run("encode", "--btf_features=var,decl_tag,type_tag,float",
               f"--btf_encode_detached={one}", str(obj)).returncode == 0
    assert one.read_bytes() == two.read_bytes()
    kinds = {t.kind.name for t in parse(two.read_bytes()).types}
    assert {"VAR", "DECL_TAG", "TYPE_TAG"} <= kinds


def test_pahole_1_25_switches_are_honoured(tmp_path):
    """--skip_encoding_btf_inconsistent_proto and --btf_gen_optimized, which
    kbuild passes to pahole 1.25, select functions as consistent_func and
    optimized_func do (and differently from pahole 1.24's rules)."""
    obj = str(OBJ / "ipa_clones.gcc.dwarf5.o")
    outs = {}
    for name, flags in (("legacy", ["--btf_gen_floats"]),
                        ("flags_1_25", ["--btf_gen_floats", "--btf_gen_optimized",
                                        "--skip_encoding_btf_inconsistent_proto"]),
                        ("features", ["--btf_features=var,float,decl_tag,type_tag,enum64,"
                                      "optimized_func,consistent_func"])):
        out = tmp_path / f"{name}.btf"
        assert run("encode", *flags, f"--btf_encode_detached={out}", obj).returncode == 0
        outs[name] = {t.name for t in parse(out.read_bytes()).types if t.kind.name == "FUNC"}
    assert outs["flags_1_25"] == outs["features"]
    assert outs["flags_1_25"] != outs["legacy"]
    # pahole 1.24 (the fixture oracle) agrees with our legacy selection
    ref = {t.name for t in parse((OBJ / "ipa_clones.gcc.dwarf5.btf").read_bytes()).types
           if t.kind.name == "FUNC"}
    assert outs["legacy"] == ref


# --- stats ---------------------------------------------------------------------------

def test_stats_counts_match_bpftool_and_the_file(tmp_path):
    btf_file = OBJ / "large_struct.clang.dwarf5.btf"
    r = run("stats", str(btf_file), "--json")
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    dump = json.loads(bpftool("-j", "btf", "dump", "file", str(btf_file)))["types"]
    by_kind: dict[str, int] = {}
    for t in dump:
        by_kind[t["kind"]] = by_kind.get(t["kind"], 0) + 1
    assert {k: v["count"] for k, v in st["kinds"].items()} == by_kind
    assert st["types"] == len(dump)
    assert st["total_bytes"] == btf_file.stat().st_size
    assert sum(v["bytes"] for v in st["kinds"].values()) == st["type_bytes"]
    biggest = st["largest_types"][0]
    sizes = [t.get("size", 0) for t in dump if t["kind"] in ("STRUCT", "UNION")]
    assert biggest["value"] == max(sizes)
    text = run("stats", str(btf_file)).stdout
    assert f"{len(dump)} types" in text and "most referenced" in text


def test_stats_of_split_btf_counts_own_types(tmp_path):
    base = OBJ / "kinds.gcc.dwarf5.btf"
    split = tmp_path / "split.btf"
    assert run("encode", "--btf_gen_floats", f"--btf_base={base}",
               f"--btf_encode_detached={split}", str(OBJ / "packed.gcc.dwarf5.o")).returncode == 0
    st = json.loads(run("stats", str(split), "-B", str(base), "--json").stdout)
    own = bpftool("-B", str(base), "btf", "dump", "file", str(split)).decode()
    assert st["types"] == sum(1 for line in own.splitlines() if line.startswith("["))
    assert st["start_id"] == len(parse(base.read_bytes()).types) + 1


# --- diff -----------------------------------------------------------------------------

def test_diff_same_file_is_exit_0():
    f = str(OBJ / "kinds.gcc.dwarf5.btf")
    r = run("diff", f, f)
    assert r.returncode == 0 and "0 changed, 0 removed, 0 added" in r.stdout
    assert run("diff", "-q", f, f).stdout == ""


def test_diff_of_two_compilers_agrees_with_bpftool():
    """gcc and clang name base types differently: every name diff calls
    removed is in gcc's bpftool dump and not clang's, and the other way."""
    a, b = OBJ / "kinds.gcc.dwarf5.btf", OBJ / "kinds.clang.dwarf5.btf"
    r = run("diff", str(a), str(b), "--json")
    assert r.returncode == 1
    d = json.loads(r.stdout)
    names = {}
    for f in (a, b):
        names[f] = {(t["kind"], t["name"]) for t in
                    json.loads(bpftool("-j", "btf", "dump", "file", str(f)))["types"]}
    for c in d["changes"]:
        key = (c["kind"], c["name"])
        assert (key in names[a], key in names[b]) == {
            "removed": (True, False), "added": (False, True), "changed": (True, True)}[c["status"]]
    assert d["counts"]["removed"] and d["counts"]["added"] and not d["same"]
    text = run("diff", str(a), str(b), "--kinds", "typedef").stdout
    assert "~ typedef size_type" in text and "func" not in text


def _btf(members: list[Member], size: int) -> Btf:
    b = Btf()
    b.add(Int("int", 4, 32))
    b.add(Int("long", 8, 64))
    b.add(Struct("s", size, members))
    return b


def test_diff_reports_members(tmp_path):
    old = _btf([Member("a", 1, 0), Member("b", 2, 64)], 16)
    new = _btf([Member("a", 1, 0), Member("b", 1, 64), Member("c", 1, 96)], 16)
    (tmp_path / "old.btf").write_bytes(write(old))
    (tmp_path / "new.btf").write_bytes(write(new))
    r = run("diff", str(tmp_path / "old.btf"), str(tmp_path / "new.btf"))
    assert r.returncode == 1
    assert "~ struct s\n    ~ b: int long @64 -> int int @64\n    + c: int int @96\n" in r.stdout
    assert not compare(old, old).differ


def test_diff_trouble_is_exit_2(tmp_path):
    r = run("diff", str(OBJ / "kinds.gcc.dwarf5.btf"), str(tmp_path / "missing"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1


# --- --help ---------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["batch", "stats", "diff", "encode", "version"])
def test_help_has_examples(command):
    r = run(command, "--help")
    assert r.returncode == 0 and "examples:" in r.stdout and f"dwarf2btf {command}" in r.stdout


# --- progress -------------------------------------------------------------------------

def _stderr_on_a_terminal(*args: str) -> tuple[int, bytes]:
    """Run with stderr on a pseudo-terminal of 100 columns; what it drew."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    p = subprocess.Popen([sys.executable, "-m", "encoder", *args], stderr=slave,
                         stdout=subprocess.DEVNULL, env=ENV, cwd=REPO)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return p.wait(), out


def test_progress_only_on_a_terminal_and_not_quiet(tmp_path):
    pytest.importorskip("tqdm")
    args = ["encode", str(OBJ / "large_struct.gcc.dwarf5.o"),
            f"--btf_encode_detached={tmp_path / 'o.btf'}"]
    rc, drawn = _stderr_on_a_terminal(*args)
    assert rc == 0 and b"DWARF" in drawn and b"%|" in drawn
    rc, drawn = _stderr_on_a_terminal(*args, "--quiet")
    assert rc == 0 and drawn == b""
    piped = run(*args)
    assert piped.returncode == 0 and piped.stderr == ""
    # kbuild's form: silent even on a terminal, as pahole is
    rc, drawn = _stderr_on_a_terminal(*args[2:], args[1])
    assert rc == 0 and drawn == b""
