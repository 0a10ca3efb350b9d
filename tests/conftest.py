"""Fixtures shared by the tests."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

# Our caches (batch's results, basecache's snapshots) go to a directory of
# this session's own, not the user's; the corpus has its own variable.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="dwarf2btf-test-cache-")

# ---------------------------------------------------------------------------
# The real-kernel corpus (tests/corpus.py; the tests marked `corpus`).
# Everything here skips with a pointer to `make corpus` when it is not fetched.

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

import corpus as _corpus  # noqa: E402

CORPUS_MISSING = _corpus.MISSING


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The extracted Debian kernel packages; skips when absent."""
    root = _corpus.corpus_root()
    if root is None:
        pytest.skip(CORPUS_MISSING)
    return root


@pytest.fixture(scope="session")
def vmlinux_btf_file(corpus_dir) -> Path:
    """The raw .BTF Debian's build made for vmlinux, as a file."""
    return _corpus.vmlinux_btf_path(corpus_dir)


@pytest.fixture(scope="session")
def vmlinux_btf_bytes(vmlinux_btf_file) -> bytes:
    return vmlinux_btf_file.read_bytes()


@pytest.fixture(scope="session")
def vmlinux_btf(vmlinux_btf_bytes):
    """The vmlinux BTF parsed once per session (the base of every module)."""
    from encoder.btf.reader import parse
    return parse(vmlinux_btf_bytes)


@pytest.fixture(scope="session")
def bpftool_exe() -> str:
    exe = shutil.which("bpftool")
    if exe is None:
        pytest.skip("bpftool is not installed (apt-get install bpftool)")
    return exe

# --- end of the corpus fixtures ---------------------------------------------


# ---------------------------------------------------------------------------
# dedup's inner loops exist twice: dedup/_cdedup.c and engine.py's own.

@pytest.fixture(scope="module", params=["compiled", "reference"])
def dedup_walks(request):
    """Run a module's tests with dedup/_cdedup.c, then with engine.py's
    loops (the reference); module-scoped, so hypothesis tests can use it."""
    from dedup import engine
    compiled = engine._cdedup
    if request.param == "compiled" and compiled is None:
        pytest.skip("dedup/_cdedup.c was not built")
    engine._cdedup = compiled if request.param == "compiled" else None
    yield request.param
    engine._cdedup = compiled
