#!/usr/bin/env python3
"""`make demo`: our reading of a real kernel's BTF, next to bpftool's.

Uses the Debian 6.1 cloud kernel that `tests/corpus.py fetch` cached: the
vmlinux BTF and xfs.ko's split BTF that Debian's build made with pahole.
"""

from __future__ import annotations

import collections
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
import corpus  # noqa: E402

from encoder.btf.dump import dump_text  # noqa: E402
from encoder.btf.reader import parse  # noqa: E402
from encoder.btf.verifier import PROFILES, verify_bytes  # noqa: E402
from encoder.btf.writer import encode  # noqa: E402


def show(label: str, raw: bytes, path: Path, base: Path | None, base_btf=None) -> None:
    btf = parse(raw, base=base_btf)
    kinds = collections.Counter(type(t).__name__ for t in btf.types)
    ours = "".join(dump_text(btf)).encode()
    cmd = ["bpftool"] + (["-B", str(base)] if base else []) + ["btf", "dump", "file", str(path)]
    theirs = subprocess.run(cmd, capture_output=True, check=True).stdout
    verify_bytes(raw, base=base_btf, profile=PROFILES["6.1"], resolve=False)
    print(f"\n== {label}: {len(btf.types)} types, {len(raw)} bytes")
    print("   by kind: " + ", ".join(f"{k} {n}" for k, n in kinds.most_common()))
    print(f"   written back byte-identical: {encode(btf) == raw}")
    print("   kernel 6.1 rules: accepted")
    print(f"   `dwarf2btf dump` == `{' '.join(cmd[:-1])} FILE`: {ours == theirs}")
    for a, b in list(zip(ours.decode().splitlines(), theirs.decode().splitlines()))[:6]:
        print(f"   ours: {a[:60]:60}  bpftool: {b[:60]}")
    return btf


def main() -> int:
    print(f"Debian kernel {corpus.kernel_release()}")
    with tempfile.TemporaryDirectory() as tmp:
        vml = Path(tmp) / "vmlinux.btf"
        vml.write_bytes(corpus.btf_bytes(corpus.vmlinux_btf_path()))
        base = show("vmlinux", vml.read_bytes(), vml, None)
        xfs = next(p for p in corpus.module_paths() if p.name.startswith("xfs.ko"))
        mod = Path(tmp) / "xfs.btf"
        mod.write_bytes(corpus.btf_bytes(xfs))
        show("xfs.ko (split over vmlinux)", mod.read_bytes(), mod, vml, base)
    print("\nEncoding DWARF to BTF next to pahole's output arrives with the encode issue.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
