"""The real-kernel corpus: Debian's 6.1 cloud kernel, vmlinux and modules.

For the BTF Debian's build made (pahole 1.24 on the vmlinux, split BTF on
every module): reading then writing gives the same bytes, `dwarf2btf dump`
prints what bpftool prints (text byte for byte, JSON as parsed), and the
verifier accepts it.  The oracle's bytes are cut out of the ELF files by
objcopy (or tests/corpus.py's own ELF reader), not by the code under test.

Fetch the corpus with `make corpus`; run with `pytest -m corpus`.
`DWARF2BTF_CORPUS_MODULES=all` (or a number) widens the per-module tests
from the default spread of ~50 modules.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import subprocess
import sys

import pytest

import corpus
from encoder.btf.dump import dump_json, dump_text
from encoder.btf.reader import parse
from encoder.btf.writer import encode

pytestmark = pytest.mark.corpus

DEFAULT_SPREAD = 50
# Always in the spread: xfs (named in the issues) and the largest split BTFs.
ALWAYS = ("kernel/fs/xfs/xfs.ko", "kernel/fs/btrfs/btrfs.ko", "kernel/arch/x86/kvm/kvm.ko",
          "kernel/drivers/net/ethernet/mellanox/mlx5/core/mlx5_core.ko")


def _module_id(rel: str) -> str:
    rel = rel[len("kernel/"):] if rel.startswith("kernel/") else rel
    return rel[:-3] if rel.endswith(".ko") else rel


def _selected_modules() -> list:
    """pytest params: a deterministic spread over the sorted module list."""
    root = corpus.corpus_root()
    if root is None:
        return [pytest.param(None, id="no-corpus", marks=pytest.mark.skip(reason=corpus.MISSING))]
    mods = corpus.module_paths(root=root)
    rels = [corpus.module_relpath(p, root) for p in mods]
    want = os.environ.get("DWARF2BTF_CORPUS_MODULES", "").strip()
    if want == "all":
        picks = set(range(len(mods)))
    else:
        n = min(len(mods), int(want) if want.isdigit() else DEFAULT_SPREAD)
        picks = {i * len(mods) // n for i in range(n)}
        picks |= {i for i, r in enumerate(rels) if r in ALWAYS}
    return [pytest.param(mods[i], id=_module_id(rels[i])) for i in sorted(picks)]


MODULES = _selected_modules()


# ---------------------------------------------------------------------------
# helpers


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _first_difference(ours: bytes, theirs: bytes, context: int = 3) -> str:
    """A short unified diff around the first line that differs."""
    a, b = ours.splitlines(keepends=True), theirs.splitlines(keepends=True)
    i = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    lo = max(0, i - context)
    window = [line.decode("utf-8", "replace") for line in a[lo:i + context + 1]]
    oracle = [line.decode("utf-8", "replace") for line in b[lo:i + context + 1]]
    diff = "".join(difflib.unified_diff(oracle, window, "bpftool", "dwarf2btf",
                                        lineterm=""))
    return (f"first difference at line {i + 1} (dwarf2btf {len(a)} lines, "
            f"bpftool {len(b)} lines):\n{diff}")


def _first_byte_difference(ours: bytes, theirs: bytes) -> str:
    i = next((k for k, (x, y) in enumerate(zip(ours, theirs)) if x != y),
             min(len(ours), len(theirs)))
    return (f"{len(ours)} bytes written, {len(theirs)} read; first difference at "
            f"offset {i:#x}: ours {ours[i:i + 16].hex()} vs {theirs[i:i + 16].hex()}")


def _json_difference(ours, theirs) -> str:
    a, b = ours.get("types", []), theirs.get("types", [])
    for x, y in zip(a, b):
        if x != y:
            return f"first different type:\n  dwarf2btf {x}\n  bpftool   {y}"
    return f"dwarf2btf has {len(a)} types, bpftool {len(b)}"


def _run(cmd: list[str]) -> bytes:
    r = subprocess.run(cmd, capture_output=True)
    assert r.returncode == 0, f"{' '.join(cmd)} failed: {r.stderr.decode(errors='replace')}"
    return r.stdout


def _oracle_btf(path, tmp_path):
    """The module's .BTF cut out by objcopy: (file, bytes)."""
    out = corpus.objcopy_btf(path, tmp_path / "module.btf")
    return out, out.read_bytes()


def _verify(data: bytes, base, path) -> None:
    verifier = pytest.importorskip("encoder.btf.verifier")
    verifier.verify_bytes(data, base=base, profile=verifier.PROFILES["6.1"],
                          resolve=False, source=str(path), section=".BTF")


def _dwarf2btf_cmd() -> list[str]:
    exe = shutil.which("dwarf2btf")
    return [exe] if exe else [sys.executable, "-m", "encoder"]


# ---------------------------------------------------------------------------
# the corpus itself


def test_corpus_is_complete(corpus_dir):
    meta = corpus.info(corpus_dir)
    assert corpus.vmlinux_btf_path(corpus_dir).stat().st_size == meta["vmlinux_btf_size"] > 0
    assert corpus.vmlinux_path(corpus_dir).is_file()
    assert ".debug_info" in corpus.elf_sections(corpus.vmlinux_path(corpus_dir))
    mods = corpus.module_paths(root=corpus_dir)
    assert len(mods) >= 50 and mods == sorted(mods, key=lambda p: corpus.module_relpath(p))
    dbg = corpus.dbg_module_paths(corpus_dir)
    assert dbg and ".debug_info" in corpus.elf_sections(dbg[len(dbg) // 2])
    assert corpus.module_symvers_path(corpus_dir).is_file()
    assert len(MODULES) >= 50


def test_vmlinux_sections_agree(corpus_dir, vmlinux_btf_bytes, tmp_path):
    """Our reader, objcopy and corpus.py's ELF reader cut the same .BTF."""
    vmlinux = corpus.vmlinux_path(corpus_dir)
    assert corpus.btf_bytes(vmlinux) == vmlinux_btf_bytes
    if shutil.which("objcopy"):
        out = tmp_path / "vmlinux.btf"
        _run(["objcopy", "-O", "binary", "--only-section=.BTF", str(vmlinux), str(out)])
        assert out.read_bytes() == vmlinux_btf_bytes


# ---------------------------------------------------------------------------
# vmlinux


def test_vmlinux_roundtrip(vmlinux_btf, vmlinux_btf_bytes):
    out = encode(vmlinux_btf)
    assert out == vmlinux_btf_bytes, _first_byte_difference(out, vmlinux_btf_bytes)


def test_vmlinux_dump_text(vmlinux_btf, vmlinux_btf_file, bpftool_exe):
    theirs = _run([bpftool_exe, "btf", "dump", "file", str(vmlinux_btf_file)])
    ours = _bytes("".join(dump_text(vmlinux_btf)))
    assert ours == theirs, _first_difference(ours, theirs)


def test_vmlinux_dump_json(vmlinux_btf, vmlinux_btf_file, bpftool_exe):
    theirs = json.loads(_run([bpftool_exe, "-j", "btf", "dump", "file", str(vmlinux_btf_file)]))
    ours = json.loads(dump_json(vmlinux_btf))
    assert ours == theirs, _json_difference(ours, theirs)


def test_vmlinux_verifies(corpus_dir, vmlinux_btf_bytes):
    _verify(vmlinux_btf_bytes, None, corpus.vmlinux_path(corpus_dir))


# ---------------------------------------------------------------------------
# modules, one test id each


@pytest.mark.parametrize("module", MODULES)
def test_module_roundtrip(module, vmlinux_btf, tmp_path):
    _, data = _oracle_btf(module, tmp_path)
    assert corpus.btf_bytes(module) == data, "read_sections cut different .BTF bytes"
    out = encode(parse(data, base=vmlinux_btf))
    assert out == data, _first_byte_difference(out, data)


@pytest.mark.parametrize("module", MODULES)
def test_module_dump_text(module, vmlinux_btf, vmlinux_btf_file, bpftool_exe, tmp_path):
    path, data = _oracle_btf(module, tmp_path)
    theirs = _run([bpftool_exe, "-B", str(vmlinux_btf_file), "btf", "dump", "file", str(path)])
    ours = _bytes("".join(dump_text(parse(data, base=vmlinux_btf))))
    assert ours == theirs, _first_difference(ours, theirs)


@pytest.mark.parametrize("module", MODULES)
def test_module_dump_json(module, vmlinux_btf, vmlinux_btf_file, bpftool_exe, tmp_path):
    path, data = _oracle_btf(module, tmp_path)
    theirs = json.loads(_run([bpftool_exe, "-j", "-B", str(vmlinux_btf_file),
                              "btf", "dump", "file", str(path)]))
    ours = json.loads(dump_json(parse(data, base=vmlinux_btf)))
    assert ours == theirs, _json_difference(ours, theirs)


@pytest.mark.parametrize("module", MODULES)
def test_module_verifies(module, vmlinux_btf):
    _verify(corpus.section_data(module, ".BTF"), vmlinux_btf, module)


# ---------------------------------------------------------------------------
# every module at once (cheap: ~9 MB of BTF in all)


def test_every_module_roundtrip(corpus_dir, vmlinux_btf):
    bad = []
    for module in corpus.module_paths(root=corpus_dir):
        data = corpus.section_data(module, ".BTF")
        if encode(parse(data, base=vmlinux_btf)) != data:
            bad.append(corpus.module_relpath(module, corpus_dir))
    assert not bad, f"{len(bad)} modules do not round-trip: {bad[:20]}"


def test_every_module_dump_text(corpus_dir, vmlinux_btf, vmlinux_btf_file, bpftool_exe):
    bad = []
    for module in corpus.module_paths(root=corpus_dir):
        data = corpus.section_data(module, ".BTF")
        theirs = _run([bpftool_exe, "-B", str(vmlinux_btf_file), "btf", "dump", "file",
                       str(module)])
        if _bytes("".join(dump_text(parse(data, base=vmlinux_btf)))) != theirs:
            bad.append(corpus.module_relpath(module, corpus_dir))
    assert not bad, f"{len(bad)} modules dump differently from bpftool: {bad[:20]}"


# ---------------------------------------------------------------------------
# the console command


def _xfs(corpus_dir):
    for m in corpus.module_paths(root=corpus_dir):
        if corpus.module_relpath(m, corpus_dir) in ALWAYS:
            return m
    return corpus.module_paths(root=corpus_dir)[-1]


def test_cli_dump_module(corpus_dir, vmlinux_btf_file, bpftool_exe, tmp_path):
    """`dwarf2btf dump -B vmlinux.btf xfs.ko` (the ELF file itself) = bpftool."""
    module = _xfs(corpus_dir)
    oracle, _ = _oracle_btf(module, tmp_path)
    theirs = _run([bpftool_exe, "-B", str(vmlinux_btf_file), "btf", "dump", "file", str(oracle)])
    ours = _run([*_dwarf2btf_cmd(), "dump", "-B", str(vmlinux_btf_file), str(module)])
    assert ours == theirs, _first_difference(ours, theirs)


def test_cli_dump_vmlinux_json(corpus_dir, vmlinux_btf_file, bpftool_exe):
    """`dwarf2btf dump --format json vmlinux` on the 590 MB ELF file = bpftool -j."""
    theirs = json.loads(_run([bpftool_exe, "-j", "btf", "dump", "file", str(vmlinux_btf_file)]))
    ours = json.loads(_run([*_dwarf2btf_cmd(), "dump", "--format", "json",
                            str(corpus.vmlinux_path(corpus_dir))]))
    assert ours == theirs, _json_difference(ours, theirs)
