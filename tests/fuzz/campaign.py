"""The long fuzzing campaign: `make fuzz` (FUZZ_SECONDS, FUZZ_TARGETS, FUZZ_ENGINE).

    python3 -m tests.fuzz.campaign --seconds 600 --targets elf,dwarf,btf

Each target mutates real inputs and runs one `dwarf2btf` command on each
mutant, judged by oracle.py:

  elf    fixture objects with ELF-level lies (section and ELF headers,
         symbol tables, relocations, truncation)      -> `encode`
  dwarf  fixture objects with their DWARF sections mutated (bit flips,
         overwritten values and ULEB128s, spliced runs) -> `encode`
  btf    pahole's BTF of the fixtures, raw and inside an ELF .BTF section,
         with header fields and type records mutated -> `dump` and `verify`

Engines.  `loop` (always there) forks one child per case, so a crash, a
hang or runaway memory in any layer (the compiled walk included) is caught
and pinned on the case; cases are numbered and replayable from the seed.
`atheris` (when `pip install atheris` works) runs libFuzzer in process with
coverage feedback, using the same mutators beside libFuzzer's own; a
finding stops a run, which is then restarted until the time is spent.

Every failure is written to OUT/crashes/ as the input plus a .txt with the
recipe, the verdict and the --debug traceback; OUT/summary.json holds the
counts that docs/ROBUSTNESS.md reports.  A crash becomes a regression input
under fixtures/regress/ once fixed (see fixtures/regress/README.md).
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
if str(REPO / "tests") not in sys.path:
    sys.path.insert(0, str(REPO / "tests"))

from fuzz import elfio, hostile, mutate, oracle  # noqa: E402

TARGETS = ("elf", "dwarf", "btf")


# --- seeds ---------------------------------------------------------------------------

def seeds(target: str) -> list[tuple[str, bytes]]:
    """(name, bytes) the target's mutants start from."""
    obj = REPO / "fixtures" / "obj"
    regress = REPO / "fixtures" / "regress"
    if target in ("elf", "dwarf"):
        files = sorted(obj.glob("*.o")) + sorted((obj / "refused").glob("*.o")) + \
            sorted(regress.glob("*.o"))
        out = [(f.name, f.read_bytes()) for f in files]
        out += [(c.name, c.make()) for c in hostile.CASES
                if c.family == "dwarf" and c.name in SMALL_HOSTILE]
        return out
    raws = sorted(obj.glob("*.btf"))
    out = [(f.name, f.read_bytes()) for f in raws]
    # A few ELF files carrying their .BTF, for the container path of dump/verify.
    for f in raws[::16]:
        host = f.with_suffix(".o")
        if host.exists():
            out.append((host.name + "+.BTF",
                        elfio.add_section(host.read_bytes(), ".BTF", f.read_bytes())))
    out += [(c.name, c.make()) for c in hostile.CASES
            if c.family == "btf" and c.name in SMALL_HOSTILE]
    return out


# Hand-made hostile inputs small enough to mutate further.
SMALL_HOSTILE = ("typedef_cycle", "atomic_cycle", "struct_contains_itself",
                 "specification_cycle", "abstract_origin_cycle", "abbrev_code_huge",
                 "array_bound_huge", "btf_typedef_chain_32", "btf_typedef_loop_dump")


# --- one case -------------------------------------------------------------------------

def make_case(target: str, pool: list[tuple[str, bytes]], seed: int, i: int):
    """(recipe, command, data) of case `i`: the same every time for one seed."""
    rng = random.Random(seed * 1_000_003 + i)
    name, data = pool[rng.randrange(len(pool))]
    if target == "elf":
        if rng.random() < 0.1:
            note, data = mutate.truncate(data, rng.randrange(200))
        else:
            note, data = mutate.stack(data, rng, mutate.elf_mutation, rng.randint(1, 2))
        command = "encode"
    elif target == "dwarf":
        note, data = mutate.stack(data, rng, mutate.dwarf_mutation, rng.randint(1, 4))
        command = "encode"
    else:
        r = rng.random()
        if r < 0.1:
            note, data = mutate.truncate(data, rng.randrange(200))
        elif r < 0.3 and data[:4] == b"\x7fELF":       # the container of .BTF lies
            note, data = mutate.stack(data, rng, mutate.elf_mutation, rng.randint(1, 2))
        else:
            note, data = mutate.stack(data, rng, mutate.btf_mutation, rng.randint(1, 3))
        command = rng.choice(("dump", "verify"))
    return f"{name}: {note}", command, data


def signature(verdict, debug_stderr: str) -> str:
    """What makes two failures the same bug: the kind and the innermost frame."""
    frames = [ln.strip() for ln in debug_stderr.splitlines() if ln.startswith('  File "')]
    last = frames[-1] if frames else ""
    tail = debug_stderr.strip().splitlines()[-2:-1] if frames else [verdict.detail[:80]]
    return f"{verdict.kind} | {last} | {tail[0] if tail else ''}"


class Stats:
    def __init__(self):
        self.cases = collections.Counter()          # target -> cases
        self.outcomes = collections.Counter()       # (target, kind) -> n
        self.families = collections.Counter()       # (target, mutation family) -> n
        self.located = collections.Counter()        # (target, "offset"/"no offset") -> n
        self.seconds = collections.Counter()        # target -> seconds spent
        self.slowest = collections.defaultdict(float)
        self.failures: dict[str, dict] = {}         # signature -> first example

    def as_dict(self) -> dict:
        def split(c):
            out: dict = {}
            for (t, k), n in sorted(c.items()):
                out.setdefault(t, {})[k] = n
            return out
        return {"cases": dict(self.cases), "outcomes": split(self.outcomes),
                "families": split(self.families), "located": split(self.located),
                "seconds": {k: round(v, 1) for k, v in self.seconds.items()},
                "slowest_case_seconds": {k: round(v, 2) for k, v in self.slowest.items()},
                "failures": self.failures}


def _families(recipe: str) -> list[str]:
    body = recipe.split(": ", 1)[1] if ": " in recipe else recipe
    return [step.split()[0] for step in body.split("; ") if step]


def run_loop(args, targets: list[str], out: Path) -> Stats:
    stats = Stats()
    pools = {t: seeds(t) for t in targets}
    work = Path(tempfile.mkdtemp(prefix="dwarf2btf-fuzz-"))
    crashes = out / "crashes"
    crashes.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + args.seconds
    i = args.start
    last_report = time.monotonic()
    while time.monotonic() < deadline and (args.cases is None or i < args.start + args.cases):
        target = targets[i % len(targets)]
        recipe, command, data = make_case(target, pools[target], args.seed, i)
        verdict, run = oracle.try_input(command, data, work, timeout=args.timeout,
                                        forked=True, memory_mb=args.memory)
        stats.cases[target] += 1
        stats.outcomes[target, verdict.kind] += 1
        stats.seconds[target] += run.seconds
        stats.slowest[target] = max(stats.slowest[target], run.seconds)
        for fam in _families(recipe):
            stats.families[target, fam] += 1
        if verdict.kind == "refused":
            stats.located[target, "offset" if verdict.names_offset else "no offset"] += 1
        if not verdict.ok:
            path = str(work / "input")
            debug = oracle.run_forked(["--debug"] + oracle.argv_for(command, path,
                                                                    str(work / "out.btf")),
                                      timeout=args.timeout, memory_mb=args.memory)
            sig = signature(verdict, debug.stderr)
            digest = hashlib.sha1(data).hexdigest()[:12]
            first = sig not in stats.failures
            if first:
                stats.failures[sig] = {"case": i, "target": target, "recipe": recipe,
                                       "command": command, "file": f"{target}-{digest}",
                                       "count": 0}
                (crashes / f"{target}-{digest}.bin").write_bytes(data)
                (crashes / f"{target}-{digest}.txt").write_text(
                    f"case {i} seed {args.seed} target {target}\nrecipe: {recipe}\n"
                    f"command: {command}\nverdict: {verdict.kind}: {verdict.detail}\n\n"
                    f"--debug stderr:\n{debug.stderr}")
                print(f"[{target}] case {i}: {verdict.kind}: {recipe}\n    {sig}", flush=True)
            stats.failures[sig]["count"] += 1
        i += 1
        if time.monotonic() - last_report > 60:
            last_report = time.monotonic()
            _report(stats, out)
    _report(stats, out)
    return stats


def _report(stats: Stats, out: Path) -> None:
    (out / "summary.json").write_text(json.dumps(stats.as_dict(), indent=1, sort_keys=True))
    line = ", ".join(f"{t} {n}" for t, n in sorted(stats.cases.items()))
    bad = sum(f["count"] for f in stats.failures.values())
    print(f"cases: {line}; failures {bad} in {len(stats.failures)} kinds", flush=True)


# --- atheris ---------------------------------------------------------------------------

def run_atheris(args, targets: list[str], out: Path) -> None:
    """One libFuzzer run per target and time slice, restarted after a finding."""
    import subprocess
    per = args.seconds / len(targets)
    for target in targets:
        corpus = out / "corpus" / target
        corpus.mkdir(parents=True, exist_ok=True)
        for _, data in seeds(target):
            (corpus / hashlib.sha1(data).hexdigest()).write_bytes(data)
        artifacts = out / "crashes" / f"atheris-{target}-"
        artifacts.parent.mkdir(parents=True, exist_ok=True)
        end = time.monotonic() + per
        runs = 0
        while time.monotonic() < end:
            left = max(1, int(end - time.monotonic()))
            cmd = [sys.executable, "-m", "fuzz.campaign", "--atheris-child", target,
                   "--out", str(out), str(corpus), f"-max_total_time={left}",
                   f"-timeout={int(args.timeout)}", f"-rss_limit_mb={args.memory + 512}",
                   f"-artifact_prefix={artifacts}", "-max_len=65536", "-print_final_stats=1"]
            env = dict(os.environ, PYTHONPATH=str(REPO / "tests"))
            started = time.monotonic()
            found = len(list(artifacts.parent.glob(artifacts.name + "*")))
            subprocess.run(cmd, env=env, cwd=str(REPO))
            runs += 1
            new = len(list(artifacts.parent.glob(artifacts.name + "*"))) - found
            if time.monotonic() - started < 5 and not new:
                print(f"[atheris {target}] the run ended at once: giving up", flush=True)
                break
        print(f"[atheris {target}] {runs} run(s)", flush=True)


def atheris_child(target: str, out: Path, argv: list[str]) -> None:
    import atheris
    import importlib
    import pkgutil

    with atheris.instrument_imports(include=["encoder", "dedup"]):
        import dedup
        import encoder
        for pkg in (encoder, dedup):
            for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
                if m.name.endswith("__main__"):
                    continue
                try:
                    importlib.import_module(m.name)
                except ImportError:
                    pass
    work = Path(tempfile.mkdtemp(prefix="dwarf2btf-atheris-"))
    counts = collections.Counter()
    stats_path = out / f"atheris-{target}.json"

    def one(data: bytes) -> None:
        commands = ("encode",) if target != "btf" else ("dump", "verify")
        for command in commands:
            verdict, _ = oracle.try_input(command, data, work, timeout=30)
            counts[verdict.kind] += 1
            if not verdict.ok:
                raise RuntimeError(f"{command}: {verdict.kind}: {verdict.detail[:500]}")
        if sum(counts.values()) % 200 == 0:
            old = json.loads(stats_path.read_text()) if stats_path.exists() else {}
            stats_path.write_text(json.dumps({**old, "last_run": dict(counts)}))

    family = {"elf": mutate.elf_mutation, "dwarf": mutate.dwarf_mutation,
              "btf": mutate.btf_mutation}[target]

    def mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        if rng.random() < 0.5 and len(data) > 64:
            try:
                return mutate.stack(data, rng, family, rng.randint(1, 3))[1][:max_size]
            except Exception:
                pass
        return atheris.Mutate(data, max_size)

    atheris.Setup([sys.argv[0]] + argv, one, custom_mutator=mutator)
    atheris.Fuzz()


# --- command line ------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=float(os.environ.get("FUZZ_SECONDS", 600)))
    p.add_argument("--targets", default=os.environ.get("FUZZ_TARGETS", ",".join(TARGETS)))
    p.add_argument("--engine", choices=("auto", "loop", "atheris"),
                   default=os.environ.get("FUZZ_ENGINE", "loop"))
    p.add_argument("--out", default=os.environ.get(
        "FUZZ_OUT", str(Path.home() / ".cache" / "dwarf2btf" / "fuzz")))
    p.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", 1)))
    p.add_argument("--start", type=int, default=0, help="first case number (loop engine)")
    p.add_argument("--cases", type=int, default=None, help="stop after this many cases")
    p.add_argument("--timeout", type=float, default=20.0, help="seconds per case")
    p.add_argument("--memory", type=int, default=1024, help="MB of address space per case")
    p.add_argument("--atheris-child", metavar="TARGET", help=argparse.SUPPRESS)
    args, rest = p.parse_known_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.atheris_child:
        atheris_child(args.atheris_child, out, rest)
        return 0
    targets = [t for t in args.targets.split(",") if t]
    for t in targets:
        if t not in TARGETS:
            p.error(f"unknown target {t!r} (known: {', '.join(TARGETS)})")
    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401
            engine = "atheris"
        except ImportError:
            engine = "loop"
    print(f"fuzzing {','.join(targets)} for {args.seconds:.0f}s with {engine}; "
          f"findings in {out}/crashes", flush=True)
    if engine == "atheris":
        run_atheris(args, targets, out)
    else:
        stats = run_loop(args, targets, out)
        if stats.failures:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
