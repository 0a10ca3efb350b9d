"""dwarf2btf as kbuild's PAHOLE, for real: an out-of-tree module built against
Debian's headers package, with the matching vmlinux in the tree so kbuild's
BTF step (scripts/Makefile.modfinal) runs and calls us.

Debian splits the headers: linux-headers-<krel> (config, generated headers,
Module.symvers) includes linux-headers-<abi>-common's Makefile by absolute
path and links scripts/ and tools/ into linux-kbuild-<series>.  The two
extra packages are fetched once into the corpus cache and extracted
together; each test builds in an overlay under tmp_path: a copy of the
-cloud-amd64 part whose Makefile includes the cached -common one, the
kbuild package linked beside it, the -dbg package's vmlinux linked in as
`vmlinux`.

Oracles: pahole 1.24 run by kbuild in the same build (PAHOLE=pahole),
bpftool reading the module with -B vmlinux, binutils' nm for symbol names,
libbpf 1.6 relocating the distilled-base output (tests/libbpf16.py).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import corpus
from encoder.btf.compare import compare
from encoder.btf.dump import dump_text
from encoder.btf.reader import load, parse

from util import REPO

pytestmark = pytest.mark.corpus

KMOD = REPO / "fixtures" / "kmod"
MODULE = "d2b.ko"
# What kbuild's scripts/pahole-flags.sh (Linux 6.1) gives a pahole that says v1.25.
FLAGS_1_25 = "-J --btf_gen_floats -j --lang_exclude=rust " \
             "--skip_encoding_btf_inconsistent_proto --btf_gen_optimized --btf_base vmlinux"


def _extract_together(debs: list[Path], dest: Path) -> None:
    """dpkg-deb -x every package into one root (their relative links meet), atomically."""
    if dest.is_dir():
        return
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    for deb in debs:
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp)], check=True)
    os.replace(tmp, dest)


@pytest.fixture(scope="module")
def kernel_tree(corpus_dir, tmp_path_factory) -> Path:
    """A kbuild tree for Debian's kernel with its vmlinux: `make -C` here."""
    for tool in ("make", "dpkg-deb", "bpftool", "pahole", "nm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    headers = corpus.headers_path(corpus_dir)
    variables = (headers / ".kernelvariables").read_text()
    cc = re.search(r"\)gcc-(\d+)", variables)
    if cc and shutil.which(f"gcc-{cc[1]}") is None:
        pytest.skip(f"the kernel was built with gcc-{cc[1]}, which is not installed")
    common = Path(re.search(r"^include (\S+)/Makefile$", (headers / "Makefile").read_text(),
                            re.M)[1])
    kbuild = Path(os.readlink(headers / "scripts")).parent.name     # linux-kbuild-6.1
    series = corpus.SERIES[corpus.info(corpus_dir)["series"]]
    try:
        debs = [corpus.download(series, common.name), corpus.download(series, kbuild)]
    except RuntimeError as e:
        pytest.skip(f"cannot fetch Debian's kbuild packages: {e}")
    shared = corpus_dir / "kbuild-tree"
    _extract_together(debs, shared)

    top = tmp_path_factory.mktemp("kbuild")
    tree = top / "usr" / "src" / headers.name
    shutil.copytree(headers, tree, symlinks=True)
    (top / "usr" / "lib").mkdir()
    (top / "usr" / "lib" / kbuild).symlink_to(shared / "usr" / "lib" / kbuild)
    make = tree / "Makefile"
    make.write_text(make.read_text().replace(
        f"include {common}/Makefile", f"include {shared}{common}/Makefile"))
    (tree / "vmlinux").symlink_to(corpus.vmlinux_path(corpus_dir))
    return tree


@pytest.fixture(scope="module")
def ours(tmp_path_factory) -> Path:
    """dwarf2btf as a PAHOLE executable (what `pip install` makes of it)."""
    exe = tmp_path_factory.mktemp("bin") / "dwarf2btf-pahole"
    exe.write_text(f'#!/bin/sh\nPYTHONPATH={REPO} exec {sys.executable} -m encoder "$@"\n')
    exe.chmod(0o755)
    return exe


def build(tree: Path, where: Path, pahole: str, **env: str) -> str:
    """kbuild's `modules` for the fixture module in a fresh copy; its log."""
    shutil.copytree(KMOD, where)
    environ = {k: v for k, v in os.environ.items() if k != "DWARF2BTF_PAHOLE_VERSION"}
    r = subprocess.run(["make", "-C", str(tree), f"M={where}", "modules", f"PAHOLE={pahole}",
                        "RESOLVE_BTFIDS=true", "V=1"], capture_output=True, text=True,
                       env={**environ, **env})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "Skipping BTF generation" not in r.stderr
    return r.stdout + r.stderr


@pytest.fixture(scope="module")
def vmlinux_btf(kernel_tree):
    return load(kernel_tree / "vmlinux")


@pytest.fixture(scope="module")
def by_pahole(kernel_tree, tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("pahole") / "kmod"
    build(kernel_tree, where, "pahole")
    return where / MODULE


def _clone_names(ko: Path) -> set[str]:
    """Functions the compiler cloned (foo.constprop.0, foo.isra.0, ...), by nm."""
    out = subprocess.run(["nm", str(ko)], capture_output=True, text=True, check=True).stdout
    return {m[1] for m in re.finditer(r" [tT] ([A-Za-z_]\w*)\.(?:constprop|isra|part)\.\d+$",
                                      out, re.M)}


def test_kbuild_calls_us_and_the_module_btf_matches_pahole(kernel_tree, ours, by_pahole,
                                                           vmlinux_btf, tmp_path):
    log = build(kernel_tree, tmp_path / "kmod", str(ours))
    # kbuild read our --version as 1.25 and passed that release's flags
    assert f"{ours} {FLAGS_1_25} {tmp_path / 'kmod' / MODULE}" in log
    ko = tmp_path / "kmod" / MODULE
    mine = load(ko, base=vmlinux_btf)
    shown = subprocess.run(["bpftool", "-B", str(kernel_tree / "vmlinux"), "btf", "dump", "file",
                            str(ko)], capture_output=True, text=True, check=True).stdout
    assert shown == "".join(dump_text(mine))
    rep = compare(load(by_pahole, base=vmlinux_btf), mine)
    assert rep.share_identical() == 1.0, rep.text()
    # 1.25's --btf_gen_optimized: also the functions gcc cloned, which 1.24 leaves out
    extra = {name for kind, name in rep.extra if kind == "FUNC"}
    assert {k for k, _ in rep.extra} <= {"FUNC"} and extra <= _clone_names(ko), rep.text()


def test_claiming_pahole_1_24_gives_pahole_1_24s_btf(kernel_tree, ours, by_pahole,
                                                      vmlinux_btf, tmp_path):
    log = build(kernel_tree, tmp_path / "kmod", str(ours), DWARF2BTF_PAHOLE_VERSION="1.24")
    assert f"{ours} -J --btf_gen_floats -j --lang_exclude=rust --btf_base vmlinux" in log
    rep = compare(load(by_pahole, base=vmlinux_btf), load(tmp_path / "kmod" / MODULE,
                                                          base=vmlinux_btf))
    assert rep.share_identical() == 1.0 and not rep.extra and not rep.differ, rep.text()


def test_the_make_snippet_adds_a_distilled_base(kernel_tree, ours, by_pahole, vmlinux_btf,
                                                tmp_path):
    """fixtures/kmod/dwarf2btf.mk (docs/KBUILD.md) on the built module: .BTF
    over .BTF.base, which libbpf relocates onto the real vmlinux BTF."""
    libbpf16 = pytest.importorskip("libbpf16")
    where = tmp_path / "kmod"
    build(kernel_tree, where, "pahole")
    vmlinux = kernel_tree / "vmlinux"
    run = ["make", "-C", str(where), "btf", f"DWARF2BTF={ours}", f"BTF_BASE={vmlinux}",
           f"BTF_FLAGS=--cache={tmp_path / 'cache'}"]
    first = subprocess.run(run, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert "1 encoded" in first.stderr
    again = subprocess.run(run, capture_output=True, text=True)
    assert again.returncode == 0 and "1 cached" in again.stderr
    ko = where / MODULE
    split, distilled = corpus.section_data(ko, ".BTF"), corpus.section_data(ko, ".BTF.base")
    assert split and distilled
    if not libbpf16.available():
        pytest.skip("libbpf >= 1.5 is not available (pylibbpf)")
    relocated = parse(libbpf16.relocate(split, distilled, vmlinux_btf.to_bytes()),
                      base=vmlinux_btf)
    rep = compare(load(by_pahole, base=vmlinux_btf), relocated)
    assert rep.share_identical() == 1.0, rep.text()
    base_names = {(t.kind.name, t.name) for t in vmlinux_btf.types if t.name}
    extra_funcs = {n for k, n in rep.extra if k == "FUNC"}
    # what libbpf's relocation leaves in the split besides the module's own
    # entries: copies of named base types (typedefs the distilled base dropped)
    assert all(key in base_names for key in rep.extra if key[0] != "FUNC"), rep.text()
    assert extra_funcs <= _clone_names(ko), rep.text()
