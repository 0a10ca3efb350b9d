"""Run one `dwarf2btf` command on one input and judge what it did.

The rules every run must keep, whatever the input:

* exit 0, or exit 2 with exactly one line on stderr that starts with
  ``dwarf2btf: `` and names the file; exit 1 (internal error), a traceback,
  any other status, a hang or a crash is a failure;
* after exit 0 of `encode`, the BTF written passes our verifier and libbpf's
  `btf__new` (an oracle we did not write) accepts it; after exit 2 no output
  file exists.

`run_inprocess` calls `encoder.cli.main` in this process under a wall-clock
alarm (fast: the default suite and atheris use it); `run_forked` runs it in
a forked child with an address-space limit as well, to show bounded memory.
"""

from __future__ import annotations

import io
import os
import re
import resource
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from encoder.cli import main  # noqa: E402

COMMANDS = ("encode", "dump", "verify")
OFFSET = re.compile(r"offset 0x[0-9a-f]+")


class Hang(BaseException):
    """Raised by the alarm; a BaseException so `main` cannot swallow it."""


@dataclass
class Run:
    rc: int | None          # None: hung or killed
    stdout: bytes
    stderr: str
    seconds: float
    signal: int = 0         # the signal that ended a forked child
    output: bytes | None = None


@dataclass
class Verdict:
    ok: bool
    kind: str               # "written", "refused", or what went wrong
    detail: str = ""
    line: str = ""          # the one stderr line of a refusal

    @property
    def names_offset(self) -> bool:
        return bool(OFFSET.search(self.line))


def argv_for(command: str, path: str, out: str, base: str | None = None) -> list[str]:
    if command == "encode":
        argv = ["encode", path, f"--btf_encode_detached={out}"]
        return argv + [f"--btf_base={base}"] if base else argv
    if command == "dump":
        return ["dump", path] + (["--base", base] if base else [])
    if command == "verify":
        return ["verify", path] + (["--base", base] if base else [])
    raise ValueError(command)


def _alarm(signum, frame):
    raise Hang()


def run_inprocess(argv: list[str], *, timeout: float = 10.0, out: str | None = None) -> Run:
    """`main(argv)` here, stdout and stderr captured, under a SIGALRM timer."""
    if out:
        try:
            os.unlink(out)
        except FileNotFoundError:
            pass
    stdout_raw = io.BytesIO()
    stdout = io.TextIOWrapper(stdout_raw, encoding="utf-8", errors="surrogateescape")
    stderr = io.StringIO()
    saved = sys.stdout, sys.stderr
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    t0 = time.perf_counter()
    rc: int | None
    try:
        sys.stdout, sys.stderr = stdout, stderr
        rc = main(argv)
    except Hang:
        rc = None
    except SystemExit as e:          # argparse
        rc = e.code if isinstance(e.code, int) else 2
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        sys.stdout, sys.stderr = saved
    seconds = time.perf_counter() - t0
    stdout.flush()
    output = None
    if out and os.path.exists(out):
        output = Path(out).read_bytes()
    return Run(rc, stdout_raw.getvalue(), stderr.getvalue(), seconds, output=output)


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


_WARM: list[bool] = []


def warm() -> None:
    """Run each command once here, so the modules they import lazily are
    loaded before any fork (a child importing them again costs ~100 ms)."""
    if _WARM:
        return
    _WARM.append(True)
    import tempfile
    obj = REPO / "fixtures" / "obj" / "kinds.gcc.dwarf5.o"
    from .elfio import add_section
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "out.btf")
        run_inprocess(["encode", str(obj), f"--btf_encode_detached={out}"], out=out)
        raw = obj.with_suffix(".btf")
        elf = Path(tmp) / "with-btf.o"
        elf.write_bytes(add_section(obj.read_bytes(), ".BTF", raw.read_bytes()))
        for command in ("dump", "verify"):
            for path in (raw, elf):
                run_inprocess([command, str(path)])


def run_forked(argv: list[str], *, timeout: float = 20.0, memory_mb: int = 512,
               out: str | None = None) -> Run:
    """`main(argv)` in a forked child allowed `memory_mb` more address space
    than this process has, killed after `timeout` seconds."""
    warm()
    if out:
        try:
            os.unlink(out)
        except FileNotFoundError:
            pass
    r_out, w_out = os.pipe()
    r_err, w_err = os.pipe()
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:                                     # the child
        code = 70
        try:
            os.close(r_out)
            os.close(r_err)
            limit = _vm_size() + memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            sys.stdout = io.TextIOWrapper(os.fdopen(w_out, "wb"), encoding="utf-8",
                                          errors="surrogateescape")
            sys.stderr = io.TextIOWrapper(os.fdopen(w_err, "wb"), encoding="utf-8")
            code = main(argv)
            sys.stdout.flush()
            sys.stderr.flush()
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 2
        except BaseException:
            code = 71
        finally:
            os._exit(code)
    os.close(w_out)
    os.close(w_err)
    chunks: dict[int, list[bytes]] = {r_out: [], r_err: []}
    status = None
    deadline = t0 + timeout
    import select
    open_fds = [r_out, r_err]
    while open_fds:
        left = deadline - time.perf_counter()
        if left <= 0:
            break
        ready, _, _ = select.select(open_fds, [], [], left)
        for fd in ready:
            data = os.read(fd, 65536)
            if data:
                chunks[fd].append(data)
            else:
                open_fds.remove(fd)
    while status is None:
        got, st = os.waitpid(pid, os.WNOHANG)
        if got:
            status = st
        elif time.perf_counter() >= deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            break
        else:
            time.sleep(0.005)
    for fd in (r_out, r_err):
        os.close(fd)
    seconds = time.perf_counter() - t0
    rc, sig = None, 0
    if status is not None:
        if os.WIFEXITED(status):
            rc = os.WEXITSTATUS(status)
        else:
            sig = os.WTERMSIG(status)
    output = Path(out).read_bytes() if out and os.path.exists(out) else None
    return Run(rc, b"".join(chunks[r_out]), b"".join(chunks[r_err]).decode("utf-8", "replace"),
               seconds, sig, output)


def check_output(data: bytes, base: bytes | None = None) -> str | None:
    """Why an encoded BTF is corrupt, or None: our verifier, then libbpf."""
    from encoder.btf.reader import parse
    from encoder.btf.verifier import verify_bytes
    from encoder.errors import BtfError
    try:
        verify_bytes(data, base=parse(base) if base else None, resolve=False)
    except BtfError as e:
        return f"our verifier refuses the output: {e}"
    lib = _libbpf()
    if lib is not None and base is None and not wide_vlen(data):
        try:
            lib.LibbpfBtf(data).close()
        except ValueError:
            return "libbpf's btf__new refuses the output"
    return None


def wide_vlen(data: bytes) -> bool:
    """Whether a type counts more than 0xffff members, values or parameters:
    the `latest` profile's 24-bit vlen, which libbpf 1.1 and kernels before it
    refuse (so libbpf cannot be the judge of such a blob)."""
    from encoder.btf.wire import parse_header, split_records, words_of
    h = parse_header(data)
    words = words_of(data, h.hdr_len + h.type_off, h.type_len, h.endian)
    return any(r.vlen > 0xFFFF for r in split_records(words, None))


_LIBBPF = []


def _libbpf():
    if not _LIBBPF:
        tests = str(REPO / "tests")
        if tests not in sys.path:
            sys.path.insert(0, tests)
        try:
            import libbpf
            _LIBBPF.append(libbpf if libbpf.available() else None)
        except ImportError:
            _LIBBPF.append(None)
    return _LIBBPF[0]


def judge(command: str, path: str, run: Run, base: bytes | None = None) -> Verdict:
    """Whether `run` of `command` on `path` kept the rules (module docstring)."""
    if run.rc is None:
        what = f"killed by signal {run.signal}" if run.signal else "hang"
        return Verdict(False, "hang" if not run.signal else "crash",
                       f"{what} after {run.seconds:.1f}s")
    if "Traceback" in run.stderr:
        return Verdict(False, "traceback", run.stderr[-2000:])
    if run.rc == 1:
        return Verdict(False, "internal", run.stderr.strip())
    if run.rc == 0:
        if command == "encode":
            if run.output is None:
                return Verdict(False, "no-output", "exit 0 but nothing written")
            why = check_output(run.output, base)
            if why:
                return Verdict(False, "corrupt", why)
        if run.stderr:
            return Verdict(False, "noise", run.stderr.strip())
        return Verdict(True, "written" if command == "encode" else "read")
    if run.rc == 2:
        lines = run.stderr.splitlines()
        if len(lines) != 1:
            return Verdict(False, "message", f"{len(lines)} lines on stderr: {run.stderr!r}")
        line = lines[0]
        if not line.startswith("dwarf2btf: ") or path not in line:
            return Verdict(False, "message", f"does not name the file: {line!r}")
        if run.output is not None:
            return Verdict(False, "output-after-error", line)
        return Verdict(True, "refused", line=line)
    return Verdict(False, "status", f"exit status {run.rc}: {run.stderr.strip()[:500]}")


def try_input(command: str, data: bytes, workdir: str | Path, *, timeout: float = 10.0,
              base: bytes | None = None, forked: bool = False,
              memory_mb: int = 512) -> tuple[Verdict, Run]:
    """Write `data` to a file in `workdir`, run `command` on it, judge the run."""
    workdir = Path(workdir)
    path = str(workdir / "input")
    out = str(workdir / "out.btf")
    Path(path).write_bytes(data)
    base_path = None
    if base is not None:
        base_path = str(workdir / "base.btf")
        Path(base_path).write_bytes(base)
    argv = argv_for(command, path, out, base_path)
    if forked:
        run = run_forked(argv, timeout=timeout, memory_mb=memory_mb, out=out)
    else:
        run = run_inprocess(argv, timeout=timeout, out=out)
    return judge(command, path, run, base), run


def meets(verdict: Verdict, expect: str) -> bool:
    """Whether a verdict is the expected one: "ok" (written or read), "any"
    (any outcome that keeps the rules), or words the refusal must contain."""
    if not verdict.ok:
        return False
    if expect == "any":
        return True
    if expect == "ok":
        return verdict.kind in ("written", "read")
    return verdict.kind == "refused" and expect in verdict.line


def explain(verdict: Verdict, run: Run, what: str = "") -> str:
    """A failure message a test can assert with."""
    return (f"{what}: {verdict.kind}: {verdict.detail or verdict.line} "
            f"(exit {run.rc}, {run.seconds:.1f}s)\nstderr: {run.stderr[-1500:]}")


def budget(examples: int):
    """Hypothesis settings for a fuzz test of the default suite: a fixed
    number of examples, the same ones every run (derandomized, no database),
    no per-example deadline (the forked child has its own time limit)."""
    from hypothesis import HealthCheck, settings
    return settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                    suppress_health_check=list(HealthCheck))
