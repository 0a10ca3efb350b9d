#!/usr/bin/env python3
"""`make bench`: our tool and the reference tool on the same input, same run.

Each pair runs interleaved, REPEAT times; we print medians of wall seconds
and peak RSS and the ratio ours/theirs, and write the table to BENCHMARKS.md
with the machine, the versions and the date.  No test asserts a time.

Jobs:
  encode vmlinux (-j1, -j2)                 vs  pahole -J (same features)
  encode xfs.ko, split over vmlinux         vs  pahole -J --btf_base
  encode a small module, whole process      vs  pahole -J --btf_base
    (with the base cache warm, and without it)
  every module, split: one `batch` run      vs  pahole -J --btf_base per module, in a loop
  dump of the vmlinux BTF Debian shipped    vs  bpftool btf dump file
  dump of a module's split BTF              vs  bpftool -B vmlinux btf dump file
`BENCH_REPEAT` sets the number of runs (default 3); `BENCH_MODULES=N` limits
the batch row to the first N modules (default: all 1,121).
"""

from __future__ import annotations

import compileall
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
import corpus  # noqa: E402

REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
FEATURES = "var,float,decl_tag,type_tag,enum64"
PAHOLE_FLAGS = ["--btf_gen_floats", "--lang_exclude=rust"]


def measure(cmd: list[str], env: dict | None = None) -> tuple[float, int]:
    """(wall seconds, peak RSS in KiB) of one run, output discarded."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                            env={**os.environ, **env} if env else None)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench: failed: {' '.join(cmd)}")
    return wall, usage.ru_maxrss


def compare(label: str, ours: list[str], theirs: list[str], env: dict | None = None) -> dict:
    runs: dict[str, list[tuple[float, int]]] = {"ours": [], "theirs": []}
    for _ in range(REPEAT):
        runs["ours"].append(measure(ours, env))
        runs["theirs"].append(measure(theirs))
    med = {k: (statistics.median(w for w, _ in v), statistics.median(r for _, r in v))
           for k, v in runs.items()}
    row = {"job": label, "ours_s": med["ours"][0], "theirs_s": med["theirs"][0],
           "ours_mib": med["ours"][1] / 1024, "theirs_mib": med["theirs"][1] / 1024}
    row["ratio"] = row["ours_s"] / row["theirs_s"]
    print(f"{label:45} ours {row['ours_s']:7.3f}s {row['ours_mib']:7.1f}MiB   "
          f"theirs {row['theirs_s']:7.3f}s {row['theirs_mib']:7.1f}MiB   ratio {row['ratio']:.2f}",
          flush=True)
    return row


def version(cmd: list[str]) -> str:
    return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0]


def main() -> int:
    if not shutil.which("bpftool"):
        print("bench: bpftool is missing (make oracles)", file=sys.stderr)
        return 2
    ours = [sys.executable, "-m", "encoder"]
    # A pip install writes the package's byte code; an editable one under
    # PYTHONDONTWRITEBYTECODE never does, and every run would time the
    # compiler (~50 ms) instead of the encoder.
    for package in ("encoder", "dedup"):
        compileall.compile_dir(REPO / package, quiet=1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = corpus.corpus_root()
        vmlinux = str(corpus.vmlinux_path(root))
        mods = corpus.dbg_module_paths(root)
        xfs = str(next(p for p in mods if p.name == "xfs.ko"))
        small = str(next(p for p in mods if p.name == "xt_DSCP.ko"))
        out = str(Path(tmp) / "out.btf")
        enc = ours + ["encode", f"--btf_features={FEATURES}", f"--btf_encode_detached={out}"]
        pahole = ["pahole", "-J", *PAHOLE_FLAGS, f"--btf_encode_detached={out}"]
        for jobs in (1, 2):
            rows.append(compare(f"encode vmlinux -j{jobs}", enc + [f"-j{jobs}", vmlinux],
                                pahole + [f"-j{jobs}", vmlinux]))
        # The base cache (encoder/basecache.py) is warm after the first run
        # over vmlinux, as in a kernel build after its first module; the
        # last row shows a run without it.
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "cache")
        measure(enc + ["--btf_base", vmlinux, small])
        for label, mod, env in (("encode xfs.ko (split)", xfs, None),
                                ("encode xt_DSCP.ko (small)", small, None),
                                ("encode xt_DSCP.ko, no base cache", small,
                                 {"DWARF2BTF_BASE_CACHE": "0"})):
            rows.append(compare(label, enc + ["--btf_base", vmlinux, mod],
                                pahole + [f"--btf_base={vmlinux}", mod], env))
        limit = int(os.environ.get("BENCH_MODULES", "0")) or None
        manifest = Path(tmp) / "modules.txt"
        manifest.write_text("".join(f"{p}\n" for p in mods[:limit]))
        outdir = Path(tmp) / "batch"
        n = len(mods[:limit])
        rows.append(compare(
            f"encode {n} modules (batch -j2 vs a pahole loop)",
            ours + ["batch", "--manifest", str(manifest), "-o", str(outdir), "--no-cache",
                    "-q", "-j2", f"--btf_features={FEATURES}", "--btf_base", vmlinux],
            ["sh", "-c", f'while read f; do {" ".join(pahole)} --btf_base={vmlinux} "$f" '
                         f'|| exit 1; done < {manifest}']))
        vml = Path(tmp) / "vmlinux.btf"
        vml.write_bytes(corpus.btf_bytes(corpus.vmlinux_btf_path()))
        rows.append(compare("dump vmlinux BTF (Debian 6.1)", ours + ["dump", str(vml)],
                            ["bpftool", "btf", "dump", "file", str(vml)]))
        xfs = next(p for p in corpus.module_paths() if p.name.startswith("xfs.ko"))
        mod = Path(tmp) / "xfs.btf"
        mod.write_bytes(corpus.btf_bytes(xfs))
        rows.append(compare("dump xfs.ko split BTF", ours + ["dump", str(mod), "-B", str(vml)],
                            ["bpftool", "-B", str(vml), "btf", "dump", "file", str(mod)]))
    write_report(rows)
    return 0


def write_report(rows: list[dict]) -> None:
    """Replace the measured table in BENCHMARKS.md, keeping the prose around it."""
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    lines = [
        start,
        f"Written by `make bench` on {datetime.date.today()}; "
        f"medians of {REPEAT} interleaved runs.",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, "
        f"kernel {platform.release()}; {version(['bpftool', 'version'])}; "
        f"Debian kernel {corpus.kernel_release()}.", "",
        "| job | ours s | ours MiB | reference s | reference MiB | ratio s |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [f"| {r['job']} | {r['ours_s']:.3f} | {r['ours_mib']:.1f} | {r['theirs_s']:.3f} "
              f"| {r['theirs_mib']:.1f} | {r['ratio']:.2f} |" for r in rows]
    lines.append(end)
    path = REPO / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else f"# Benchmarks\n\n{start}\n{end}\n"
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    path.write_text(head + "\n".join(lines) + tail)


if __name__ == "__main__":
    sys.exit(main())
