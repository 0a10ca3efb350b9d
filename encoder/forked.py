"""Results of forked workers in item order, without a pool's threads.

multiprocessing.Pool sends each task to a worker and each result back
through threads of the parent's; for vmlinux's 2,172 units at -j2 those
threads took 0.3-0.4 CPU-s of the parent's, on the two cores the workers
need.  Here each worker is forked with everything it needs, takes every
jobs-th chunk of the items, and writes each result to a pipe of its own;
the parent reads whichever pipe has data and hands the results out in
item order.  A worker's exception comes back in its item's place.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
from collections import deque
from typing import Callable, Iterator, Sequence

_LEN = struct.Struct("<Q")
_PIPE_BYTES = 1 << 20       # a worker runs this far ahead of the parent before it waits
_F_SETPIPE_SZ = 1031        # fcntl.F_SETPIPE_SZ (Linux)


class WorkerDied(RuntimeError):
    """A worker ended without giving every result it owed."""


def ordered(fn: Callable, items: Sequence, jobs: int, chunk: int = 4) -> Iterator[tuple]:
    """(item, fn(item)) for every item, in order, fn run in `jobs` forked
    processes: chunk c of `chunk` consecutive items goes to worker c % jobs,
    so each worker sees its items in order."""
    with Workers(fn, items, jobs, chunk) as results:
        yield from results


class Workers:
    """`ordered` as a context: the workers start on entering (so the caller
    can work beside them before it asks for results), and on leaving any
    still running are killed and every one is reaped."""

    def __init__(self, fn: Callable, items: Sequence, jobs: int, chunk: int = 4):
        self.fn, self.items, self.jobs, self.chunk = fn, items, jobs, chunk
        self.fds: list[int] = []
        self.pids: list[int] = []

    def __enter__(self) -> Iterator[tuple]:
        try:
            for k in range(self.jobs):
                r, w = os.pipe()
                _widen(w)
                try:
                    pid = os.fork()
                except OSError:
                    os.close(r)
                    os.close(w)
                    raise
                if pid == 0:                              # pragma: no cover - the child
                    os.close(r)
                    for fd in self.fds:
                        os.close(fd)
                    _serve(self.fn, self.items, k, self.jobs, self.chunk, w)
                os.close(w)
                self.fds.append(r)
                self.pids.append(pid)
        except BaseException:
            self.__exit__()
            raise
        return _collect(self.items, self.fds, self.chunk)

    def __exit__(self, *exc) -> None:
        for fd in self.fds:
            os.close(fd)
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGKILL)    # done already, or no longer wanted
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
        self.fds, self.pids = [], []


def _widen(fd: int) -> None:
    try:
        import fcntl
        fcntl.fcntl(fd, _F_SETPIPE_SZ, _PIPE_BYTES)
    except (ImportError, OSError):
        pass                                    # the default size only makes waits likelier


def _serve(fn, items, k: int, jobs: int, chunk: int, w: int) -> None:  # pragma: no cover
    """A worker's life: its chunks in order, one frame per result, then exit
    without the parent's clean-up (os._exit)."""
    code = 0
    try:
        for start in range(k * chunk, len(items), jobs * chunk):
            for item in items[start:start + chunk]:
                try:
                    frame = (True, fn(item))
                except Exception as e:
                    frame = (False, e)
                try:
                    data = pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL)
                except Exception as e:          # an unpicklable result or exception
                    data = pickle.dumps((False, RuntimeError(f"worker: {e!r}")))
                _write(w, _LEN.pack(len(data)) + data)
                if not frame[0]:
                    return
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _write(fd: int, data: bytes) -> None:  # pragma: no cover - the child
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _collect(items: Sequence, fds: list[int], chunk: int) -> Iterator[tuple]:
    jobs = len(fds)
    bufs = [bytearray() for _ in fds]
    frames: list[deque] = [deque() for _ in fds]
    open_fds = set(fds)

    def drain(timeout) -> None:
        ready, _, _ = select.select(sorted(open_fds), [], [], timeout)
        for fd in ready:
            k = fds.index(fd)
            data = os.read(fd, _PIPE_BYTES)
            if not data:
                open_fds.discard(fd)
                continue
            buf = bufs[k]
            buf += data
            while len(buf) >= _LEN.size:
                n = _LEN.unpack_from(buf)[0]
                if len(buf) < _LEN.size + n:
                    break
                frames[k].append(bytes(buf[_LEN.size:_LEN.size + n]))
                del buf[:_LEN.size + n]

    for i, item in enumerate(items):
        k = (i // chunk) % jobs
        while not frames[k]:
            if fds[k] not in open_fds:
                raise WorkerDied(f"worker {k} ended before item {i} of {len(items)}")
            drain(None)
        ok, value = pickle.loads(frames[k].popleft())
        if not ok:
            raise value
        if open_fds:
            drain(0)        # keep the pipes from filling while the caller works
        yield item, value
