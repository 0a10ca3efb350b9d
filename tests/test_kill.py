"""SIGKILL the in-place writer at random moments: the file is always whole.

A forked child writes `.BTF` into a copy of an ELF file (the `-J` path:
encoder/output.py's write_btf_section); the parent kills it with SIGKILL
after a random delay spread over the time an uninterrupted write takes.
After every kill the file must be byte for byte the original or the
complete new file, and whatever the child left behind must be one of our
temporary files (`.<name>.<random>.dwarf2btf-tmp`), which the next write
removes.  The default suite uses a fixture object; `pytest -m corpus` a
real Debian module.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import time
from pathlib import Path

import pytest

import corpus
from encoder.output import TMP_SUFFIX, write_btf_section

from util import REPO

KILLS = 100


def _child(target: Path, data: bytes, go: int, kw: dict) -> None:
    """In the forked child: wait for the parent's word, write, exit."""
    try:
        os.read(go, 1)
        write_btf_section(target, data, **kw)
        os._exit(0)
    except BaseException:
        os._exit(1)


def _run(target: Path, data: bytes, kill_after: float | None, kw: dict) -> tuple[float, int]:
    """One write in a child; killed after `kill_after` seconds unless None.
    Returns (seconds from go to the end, wait status)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        _child(target, data, r, kw)
    os.close(r)
    start = time.perf_counter()
    os.write(w, b"g")
    if kill_after is not None:
        deadline = start + kill_after
        while time.perf_counter() < deadline:    # sub-millisecond: spin, do not sleep
            pass
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    os.close(w)
    return time.perf_counter() - start, status


def leftovers(directory: Path, target: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p != target)


def kill_many(src: Path, data: bytes, tmp: Path, kills: int = KILLS, seed: int = 1,
              **kw) -> dict:
    """The experiment; returns what the kills left (asserting as it goes).
    `kw` goes to write_btf_section."""
    target = tmp / src.name
    original = src.read_bytes()
    target.write_bytes(original)
    write_btf_section(target, data, **kw)
    new = target.read_bytes()
    assert new != original
    times = []
    for _ in range(5):
        target.write_bytes(original)
        took, status = _run(target, data, None, kw)
        assert status == 0 and target.read_bytes() == new
        times.append(took)
    typical = statistics.median(times)
    rng = random.Random(seed)
    seen = {"original": 0, "new": 0, "temps left": 0}
    for i in range(kills):
        target.write_bytes(original)
        _run(target, data, rng.uniform(0, 1.5 * typical), kw)
        got = target.read_bytes()
        assert got in (original, new), f"kill {i}: the file is neither old nor new"
        seen["original" if got == original else "new"] += 1
        rest = leftovers(tmp, target)
        for name in rest:
            assert name.startswith(f".{target.name}.") and name.endswith(TMP_SUFFIX), name
        seen["temps left"] = max(seen["temps left"], len(rest))
    write_btf_section(target, data, **kw)          # a whole run cleans up after the dead
    assert target.read_bytes() == new
    assert leftovers(tmp, target) == []
    seen["write ms"] = round(typical * 1000, 2)
    return seen


def test_sigkill_leaves_the_old_or_the_new_file(tmp_path):
    src = REPO / "fixtures" / "obj" / "large_struct.clang.dwarf5.o"
    data = (REPO / "fixtures" / "obj" / "kinds.gcc.dwarf5.btf").read_bytes()
    seen = kill_many(src, data, tmp_path)
    print(seen)
    # The delays span the whole write: some kills land before the rename,
    # some after; otherwise this test would not be testing anything.
    assert seen["original"] and seen["new"], seen


@pytest.mark.corpus
def test_sigkill_on_a_debian_module(corpus_dir, tmp_path):
    """The largest module of the first hundred: its `.BTF` written back, moved
    to the end of the file and the signature dropped (a real layout change),
    100 kills."""
    paths = corpus.module_paths(100, root=corpus_dir)
    src = max(paths, key=lambda p: p.stat().st_size)
    seen = kill_many(src, corpus.section_data(src, ".BTF"), tmp_path, drop_signature=True)
    print(src.name, src.stat().st_size, seen)
    assert seen["original"] and seen["new"], seen
