"""Our encoding of Debian's 6.1 kernel next to pahole 1.24's (make kernel-check).

Both tools run on the same files in the same test session with the same
features (the kbuild flags of the pahole 1.24 era: `--btf_gen_floats
--lang_exclude=rust`, single-threaded).  We need at least 99.5 % of pahole's
named types, FUNCs and VARs to have an identical definition in ours, and
the running kernel must accept our vmlinux BTF.  Every difference left is
explained in docs/DIFFERENCES.md.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import corpus
from encoder.btf.compare import compare
from encoder.btf.reader import parse
from encoder.btf.writer import encode as write
from encoder.encode import Request, encode
from encoder.features import Features

pytestmark = pytest.mark.kernel_check

FEATURES = "var,float,decl_tag,type_tag,enum64"
PAHOLE_FLAGS = ["--btf_gen_floats", "--lang_exclude=rust"]
TYPE_KINDS = ("STRUCT", "UNION", "ENUM", "ENUM64", "TYPEDEF", "FWD")
THRESHOLD = 0.995
MODULES = ("kernel/fs/xfs/xfs.ko",)
N_OTHER_MODULES = 20


def _pahole(path: Path, out: Path, base: Path | None = None) -> bytes:
    if shutil.which("pahole") is None:
        pytest.skip("pahole is not installed (apt-get install dwarves)")
    cmd = ["pahole", "-J", *PAHOLE_FLAGS, f"--btf_encode_detached={out}"]
    if base is not None:
        cmd.append(f"--btf_base={base}")
    subprocess.run([*cmd, str(path)], check=True, capture_output=True)
    return out.read_bytes()


@pytest.fixture(scope="module")
def root(corpus_dir):
    return corpus_dir


@pytest.fixture(scope="module")
def vmlinux(root, tmp_path_factory):
    """(pahole's BTF, ours, the raw bytes of ours) for the dbg vmlinux."""
    tmp = tmp_path_factory.mktemp("vmlinux")
    path = corpus.vmlinux_path(root)
    ref = parse(_pahole(path, tmp / "pahole.btf"))
    ours = encode(Request(str(path), features=Features.parse(FEATURES), jobs=2)).btf
    return ref, ours, write(ours)


def _assert_close(ref, ours, what: str) -> None:
    rep = compare(ref, ours)
    shares = {"types": rep.share_identical(TYPE_KINDS), "FUNC": rep.share_identical(("FUNC",)),
              "VAR": rep.share_identical(("VAR",))}
    print(f"\n{what}: " + ", ".join(f"{k} {100 * v:.3f}%" for k, v in shares.items()))
    print(rep.text(show=30))
    assert all(v >= THRESHOLD for v in shares.values()), rep.text(show=50)


def test_vmlinux_equals_pahole(vmlinux):
    ref, ours, _ = vmlinux
    _assert_close(ref, ours, "vmlinux")


def test_kernel_accepts_our_vmlinux_btf(vmlinux):
    import kernel
    reason = kernel.available()
    if reason:
        pytest.skip(reason)
    ok, errno, log = kernel.load_btf(vmlinux[2])
    assert ok, f"errno {errno}: {log[-2000:]}"


def _module_params():
    root = corpus.corpus_root()
    if root is None:
        return [pytest.param(None, marks=pytest.mark.skip(reason=corpus.MISSING))]
    mods = corpus.dbg_module_paths(root)
    rels = {corpus.module_relpath(p, root): p for p in mods}
    picks = [rels[m] for m in MODULES if m in rels]
    step = max(1, len(mods) // N_OTHER_MODULES)
    picks += [p for p in mods[::step] if p not in picks][:N_OTHER_MODULES]
    return [pytest.param(p, id=p.stem) for p in picks]


@pytest.mark.parametrize("module", _module_params())
def test_module_equals_pahole(root, module, tmp_path):
    base_path = corpus.vmlinux_path(root)
    base = parse(corpus.vmlinux_btf_path(root).read_bytes())
    ref = parse(_pahole(module, tmp_path / "pahole.btf", base=base_path), base=base)
    ours = encode(Request(str(module), base=base, features=Features.parse(FEATURES))).btf
    _assert_close(ref, ours, module.name)
