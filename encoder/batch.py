"""`dwarf2btf batch`: encode many files in one run.

Inputs come from directories (every `*.ko`/`*.o` below them), globs, plain
paths and manifest files (`INPUT[<TAB>OUTPUT]` per line).  One pool of
forked workers encodes them; the base BTF is parsed once, in the parent,
before the fork, so every worker shares it.  A failed input is reported and
the run goes on.

The cache.  An input whose bytes, base, options and encoder are the same as
in an earlier run is not encoded again: its BTF comes from the cache
(`~/.cache/dwarf2btf/batch`, keyed by the xxh3-128 of all four).  "Encoder"
is our version plus a hash of our own source files' stat (cachedir.py),
so a changed encoder never serves old results.  With -J, writing `.BTF` changes the input, so the
written file's hash is recorded too and a second run skips it.

Exit status: 0 when every input was encoded (or cached), 2 when some input
was bad, 1 when we failed on one (an internal error).
"""

from __future__ import annotations

import fnmatch
import glob
import json
import os
import sys
import time
from pathlib import Path

import xxhash

from . import __version__
from .cachedir import cache_dir, code_hash, file_hash
from .errors import Dwarf2BtfError
from .record import record

INCLUDE = ("*.ko", "*.o")
Blobs = tuple[bytes, "bytes | None"]      # .BTF, and .BTF.base with a distilled base
REPORT_FIELDS = ("input", "output", "status", "types", "functions", "variables",
                 "skipped_functions", "seconds", "error")


@record
class Job:
    index: int
    input: str
    output: str | None          # raw BTF file; None: .BTF into the input (-J)
    key: str | None = None      # its cache key, once hashed


@record
class Outcome:
    input: str
    output: str | None
    status: str                 # encoded | cached | failed
    types: int = 0
    functions: int = 0
    variables: int = 0
    skipped_functions: int = 0
    seconds: float = 0.0
    error: str = ""
    internal: bool = False      # the failure is our bug, not the input's


# --- which files, written where --------------------------------------------------

def plan(inputs: list[str], manifests: list[str], *, out_dir: str | None, suffix: str,
         in_place: bool, include: tuple[str, ...] = INCLUDE) -> list[Job]:
    """The jobs, in a stable order; Dwarf2BtfError for a usage mistake."""
    found: list[tuple[str, str | None, str | None]] = []     # (input, output, root)
    for m in manifests:
        found += _manifest(m)
    for arg in inputs:
        if os.path.isdir(arg):
            found += [(p, None, arg) for p in _walk(arg, include)]
        elif glob.has_magic(arg):
            hits = sorted(p for p in glob.glob(arg, recursive=True) if os.path.isfile(p))
            if not hits:
                raise Dwarf2BtfError(f"no file matches {arg!r}")
            found += [(p, None, None) for p in hits]
        else:
            found.append((arg, None, None))
    jobs: list[Job] = []
    seen: set[str] = set()
    outputs: dict[str, str] = {}
    for path, output, root in found:
        real = os.path.realpath(path)
        if real in seen:
            continue
        seen.add(real)
        if in_place:
            output = None
        elif output is None:
            output = _output(path, root, out_dir, suffix)
        if output is not None:
            if os.path.realpath(output) == real:
                raise Dwarf2BtfError(f"{path}: the output would overwrite the input; "
                                     "give another --suffix or -o DIR")
            other = outputs.setdefault(os.path.realpath(output), path)
            if other != path:
                raise Dwarf2BtfError(f"{other} and {path} would both write {output}")
        jobs.append(Job(len(jobs), path, output))
    if not jobs:
        raise Dwarf2BtfError("no inputs (give files, directories, globs or --manifest)")
    return jobs


def _walk(root: str, include: tuple[str, ...]) -> list[str]:
    out = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        out += [os.path.join(d, f) for f in sorted(files)
                if any(fnmatch.fnmatch(f, pat) for pat in include)]
    return out


def _manifest(path: str) -> list[tuple[str, str | None, None]]:
    """INPUT or INPUT<TAB>OUTPUT per line, relative to the manifest's folder."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as e:
        raise Dwarf2BtfError(f"cannot read: {e.strerror}", file=path) from None
    here = Path(path).parent if path != "-" else Path(".")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split("\t")
        inp = str(here / parts[0].strip())
        outp = str(here / parts[1].strip()) if len(parts) > 1 and parts[1].strip() else None
        out.append((inp, outp, None))
    return out


def _output(path: str, root: str | None, out_dir: str | None, suffix: str) -> str:
    p = Path(path)
    if out_dir is None:
        return str(p.with_suffix(suffix))
    rel = Path(os.path.relpath(path, root)) if root else Path(p.name)
    return str(Path(out_dir) / rel.with_suffix(suffix))


# --- the cache -------------------------------------------------------------------------

def default_cache_dir() -> Path:
    return cache_dir("batch")


class Cache:
    """BTF by key: `<dir>/<k[:2]>/<k>.btf`, `<k>.base` (a distilled base) and
    `<k>.json` (the counts)."""

    def __init__(self, root: str | os.PathLike, salt: str):
        self.root = Path(root)
        self.salt = salt            # base, options and encoder, hashed

    def key(self, content_hash: str) -> str:
        return xxhash.xxh3_128(f"{self.salt}\0{content_hash}".encode()).hexdigest()

    def _path(self, key: str, ext: str) -> Path:
        return self.root / key[:2] / f"{key}{ext}"

    def get(self, key: str) -> tuple[dict, Blobs | None] | None:
        try:
            meta = json.loads(self._path(key, ".json").read_text())
            blobs = None
            if meta.get("has_btf"):
                base = self._path(key, ".base").read_bytes() if meta.get("has_base") else None
                blobs = (self._path(key, ".btf").read_bytes(), base)
        except (OSError, ValueError):
            return None
        return meta, blobs

    def put(self, key: str, meta: dict, blobs: Blobs | None) -> None:
        """Store, atomically; a cache that cannot be written is no error."""
        from .output import write_btf_file as write_atomically
        try:
            self._path(key, "").parent.mkdir(parents=True, exist_ok=True)
            if blobs is not None:
                write_atomically(self._path(key, ".btf"), blobs[0])
                if blobs[1] is not None:
                    write_atomically(self._path(key, ".base"), blobs[1])
            text = json.dumps({**meta, "has_btf": blobs is not None,
                               "has_base": blobs is not None and blobs[1] is not None})
            write_atomically(self._path(key, ".json"), text.encode())
        except (OSError, Dwarf2BtfError):
            pass


# --- one input -------------------------------------------------------------------------

@record
class Settings:
    """What every input is encoded with; set in the parent before the fork."""
    base: object                 # Btf | None
    features: object             # Features
    lang_exclude: tuple[str, ...]
    cache: Cache | None
    unit_jobs: int = 1           # encode's own -j: only when there is one input


_settings: Settings | None = None


def _counts(meta: dict) -> dict:
    return {f: meta.get(f, 0) for f in ("types", "functions", "variables",
                                        "skipped_functions")}


def encode_one(job: Job, s: Settings) -> Outcome:
    """Encode (or take from the cache) one input and write its output."""
    start = time.perf_counter()
    out = Outcome(job.input, job.output, "failed")
    try:
        key = job.key or (s.cache.key(file_hash(job.input)) if s.cache else None)
        hit = _usable(s.cache.get(key), job) if key else None
        if hit is not None:
            meta, blobs = hit
            if blobs is not None:
                _write(job, blobs)
                _remember_in_place(job, s, meta)
            out.status = "cached"
        else:
            meta, blobs = _encode(job, s)
            _write(job, blobs)
            if key:
                s.cache.put(key, meta, blobs)
                _remember_in_place(job, s, meta)
            out.status = "encoded"
        for f, v in _counts(meta).items():
            setattr(out, f, v)
    except Dwarf2BtfError as e:
        out.error = str(e.located(file=job.input))
    except MemoryError:
        out.error = f"{job.input}: out of memory"
    except Exception as e:       # our bug: report it, go on with the others
        out.error = f"{job.input}: internal error: {type(e).__name__}: {e}"
        out.internal = True
    out.seconds = round(time.perf_counter() - start, 3)
    return out


def _usable(hit: tuple[dict, Blobs | None] | None, job: Job):
    """A cache entry that serves `job`: BTF to write, or (-J) "already done"."""
    if hit is not None and (hit[1] is not None or (job.output is None and hit[0].get("done"))):
        return hit
    return None


def cached_everywhere(jobs: list[Job], cache: Cache) -> bool:
    """Hash every input (noting its key); True if the cache serves them all,
    so the base need not even be parsed."""
    served = True
    for job in jobs:
        try:
            job.key = cache.key(file_hash(job.input))
        except OSError:
            served = False      # encode_one reports it
            continue
        served = served and _usable(cache.get(job.key), job) is not None
    return served


def _encode(job: Job, s: Settings) -> tuple[dict, Blobs]:
    from .api import module_form, request, to_bytes
    from .btf.kinds import Kind
    from .encode import encode
    req = request(job.input, s.base, features=s.features, jobs=s.unit_jobs,
                  lang_exclude=s.lang_exclude)
    result = encode(req)
    if req.features.distilled_base:
        blobs = module_form(result.btf, layout=req.features.layout, source=job.input)
    else:
        blobs = (to_bytes(result, req), None)
    kinds = [t.kind for t in result.btf.types]
    meta = {"types": len(kinds), "functions": kinds.count(Kind.FUNC),
            "variables": kinds.count(Kind.VAR),
            "skipped_functions": sum(1 for x in result.skips if x.kind == "function")}
    return meta, blobs


def _write(job: Job, blobs: Blobs) -> None:
    """.BTF (and .BTF.base) into the input, or OUTPUT (and OUTPUT.base)."""
    from .output import write_btf_file, write_btf_section
    data, base = blobs
    if job.output is None:
        write_btf_section(job.input, data, base)
        return
    for path, blob in ((job.output, data), (job.output + ".base", base)):
        if blob is None:
            continue
        try:
            if Path(path).read_bytes() == blob:
                continue        # unchanged: keep the file (and its mtime, for make)
        except OSError:
            pass
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_btf_file(path, blob)


def _remember_in_place(job: Job, s: Settings, meta: dict) -> None:
    """With -J the input now holds its BTF: remember that state as done."""
    if job.output is None and s.cache is not None:
        s.cache.put(s.cache.key(file_hash(job.input)), {**_counts(meta), "done": True}, None)


def _work(job: Job) -> Outcome:
    return encode_one(job, _settings)


def run(jobs: list[Job], settings: Settings, workers: int, on_done=None) -> list[Outcome]:
    """Every job, through a pool of `workers` forked processes when there
    are several of both; outcomes in job order."""
    global _settings
    _settings = settings
    done: list[Outcome | None] = [None] * len(jobs)
    if workers <= 1 or len(jobs) == 1:
        for job in jobs:
            done[job.index] = encode_one(job, settings)
            if on_done:
                on_done(done[job.index].status)
        return done
    import multiprocessing
    with multiprocessing.get_context("fork").Pool(min(workers, len(jobs))) as pool:
        for job, outcome in zip(jobs, pool.imap(_work, jobs)):
            done[job.index] = outcome
            if on_done:
                on_done(outcome.status)
    return done


# --- the report -------------------------------------------------------------------------

def report_json(outcomes: list[Outcome], info: dict) -> str:
    rows = [{f: getattr(o, f) for f in REPORT_FIELDS} for o in outcomes]
    return json.dumps({**info, "inputs": rows}, indent=1) + "\n"


def report_tsv(outcomes: list[Outcome]) -> str:
    def cell(v) -> str:
        return "" if v is None else str(v).replace("\t", " ").replace("\n", " ")
    lines = ["\t".join(REPORT_FIELDS)]
    lines += ["\t".join(cell(getattr(o, f)) for f in REPORT_FIELDS) for o in outcomes]
    return "\n".join(lines) + "\n"


def summary(outcomes: list[Outcome], seconds: float) -> dict:
    by = {s: sum(o.status == s for o in outcomes) for s in ("encoded", "cached", "failed")}
    return {"inputs": len(outcomes), **by, "seconds": round(seconds, 3)}


# --- the command ------------------------------------------------------------------------

def add_arguments(p) -> None:
    """`batch`'s own options (the encoding ones are cli.add_encoding_options)."""
    p.add_argument("inputs", nargs="*", metavar="INPUT",
                   help="files, directories (their *.ko and *.o, recursively) or globs")
    p.add_argument("--manifest", action="append", default=[], metavar="FILE",
                   help="one INPUT (or INPUT<TAB>OUTPUT) per line; '-' reads stdin")
    p.add_argument("-J", "--btf_encode", action="store_true",
                   help="write .BTF into each input, as pahole -J")
    p.add_argument("-o", "--output-dir", metavar="DIR",
                   help="write raw BTF under DIR (default: next to each input)")
    p.add_argument("--suffix", default=".btf", help="output name: the input's with this "
                   "suffix instead of its own (default .btf)")
    p.add_argument("--cache", metavar="DIR", help="cache directory (default "
                   "$XDG_CACHE_HOME or ~/.cache, then dwarf2btf/batch)")
    p.add_argument("--no-cache", action="store_true", help="encode everything")
    p.add_argument("--report", metavar="FILE", help="write the per-input report here "
                   "('-' for stdout)")
    p.add_argument("--report-format", choices=("json", "tsv"),
                   help="default: from the report's extension, else json")


def main(args, features) -> int:
    """Run `dwarf2btf batch` with parsed arguments and the features they mean."""
    from .basecache import keep, load_base
    from .output import listing_once
    from .progress import files, wanted
    start = time.perf_counter()
    jobs = plan(args.inputs, args.manifest, out_dir=args.output_dir, suffix=args.suffix,
                in_place=args.btf_encode)
    workers = args.jobs or os.cpu_count() or 1
    cache = None
    if not args.no_cache:
        salt = "\0".join([code_hash(), _base_hash(args.btf_base),
                          ",".join(features.names()), ",".join(args.lang_exclude or ()),
                          "J" if args.btf_encode else "raw"])
        cache = Cache(args.cache or default_cache_dir(), xxhash.xxh3_128(salt.encode()).hexdigest())
    # Parsed and indexed once, here, before the workers fork (or taken from the
    # base cache); not at all when nothing needs encoding.
    base = None
    if args.btf_base and (cache is None or not cached_everywhere(jobs, cache)):
        base = load_base(args.btf_base)
        keep(base)
    settings = Settings(base, features, tuple(args.lang_exclude or ()), cache,
                        unit_jobs=workers if len(jobs) == 1 else 1)
    with files(len(jobs), wanted(args.quiet)) as on_done, listing_once():
        outcomes = run(jobs, settings, workers, on_done)
    for o in outcomes:
        if o.status == "failed":
            print(f"dwarf2btf: {o.error}", file=sys.stderr)
    info = {"dwarf2btf": __version__, "base": args.btf_base,
            "features": features.names(), "summary": summary(outcomes, time.perf_counter() - start)}
    if args.report:
        _write_report(args, outcomes, info)
    s = info["summary"]
    if not args.quiet:
        print(f"batch: {s['inputs']} inputs: {s['encoded']} encoded, {s['cached']} cached, "
              f"{s['failed']} failed ({s['seconds']:.1f} s)", file=sys.stderr)
    if any(o.internal for o in outcomes):
        return 1
    return 2 if s["failed"] else 0


def _base_hash(path: str | None) -> str:
    if not path:
        return ""
    try:
        return file_hash(path)
    except OSError as e:
        raise Dwarf2BtfError(f"cannot read: {e.strerror}", file=path) from None


def _write_report(args, outcomes: list[Outcome], info: dict) -> None:
    from .output import write_btf_file as write_atomically
    fmt = args.report_format or ("tsv" if args.report.endswith(".tsv") else "json")
    text = report_tsv(outcomes) if fmt == "tsv" else report_json(outcomes, info)
    if args.report == "-":
        sys.stdout.write(text)
    else:
        write_atomically(args.report, text.encode())

