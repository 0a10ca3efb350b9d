#!/usr/bin/env python3
"""`make demo`: encode a real kernel's vmlinux and a module, next to pahole.

Uses the Debian 6.1 cloud kernel that `tests/corpus.py fetch` cached: both
tools encode the same DWARF with the kbuild flags of the pahole 1.24 era,
then we compare the results by name and structure and dump the first types
of each side by side.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
import corpus  # noqa: E402

from encoder.btf.compare import compare  # noqa: E402
from encoder.btf.dump import dump_text  # noqa: E402
from encoder.btf.reader import parse  # noqa: E402

FEATURES = "var,float,decl_tag,type_tag,enum64"
PAHOLE_FLAGS = ["--btf_gen_floats", "--lang_exclude=rust"]


def run(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - start


def side_by_side(label: str, obj: Path, out: Path, base: Path | None, jobs: int) -> None:
    ours_out, theirs_out = out.with_suffix(".ours.btf"), out.with_suffix(".pahole.btf")
    extra = ["--btf_base", str(base)] if base else []
    t_ours = run([sys.executable, "-m", "encoder", "encode", str(obj), f"-j{jobs}",
                  f"--btf_features={FEATURES}", f"--btf_encode_detached={ours_out}", *extra])
    t_theirs = run(["pahole", "-J", *PAHOLE_FLAGS, f"--btf_encode_detached={theirs_out}",
                    *([f"--btf_base={base}"] if base else []), str(obj)])
    base_btf = parse(corpus.btf_bytes(base)) if base else None
    ours = parse(ours_out.read_bytes(), base=base_btf)
    theirs = parse(theirs_out.read_bytes(), base=base_btf)
    rep = compare(theirs, ours)
    print(f"\n== {label}: dwarf2btf {len(ours.types)} types in {t_ours:.1f} s, "
          f"pahole 1.24 {len(theirs.types)} types in {t_theirs:.1f} s")
    print(rep.text(show=5))
    for a, b in list(zip(dump_text(ours), dump_text(theirs)))[:5]:
        print(f"   ours: {a.rstrip()[:60]:60}  pahole: {b.rstrip()[:60]}")


def main() -> int:
    root = corpus.corpus_root()
    if root is None:
        print(corpus.MISSING, file=sys.stderr)
        return 2
    print(f"Debian kernel {corpus.kernel_release(root)}")
    vmlinux = corpus.vmlinux_path(root)
    xfs = next(p for p in corpus.dbg_module_paths(root) if p.name == "xfs.ko")
    # One process: today's worker pool costs more in pickling than it wins
    # on two cores (BENCHMARKS.md).
    jobs = 1
    with tempfile.TemporaryDirectory() as tmp:
        side_by_side("xfs.ko, split BTF over vmlinux", xfs, Path(tmp) / "xfs", vmlinux, 1)
        side_by_side(f"vmlinux (-j{jobs})", vmlinux, Path(tmp) / "vmlinux", None, jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
