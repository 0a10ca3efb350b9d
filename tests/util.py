"""Helpers the tests share: where the shared samples are, and the oracles."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
EXTERNAL = SHARED / "external" / "linux-7.1"


def external(name: str) -> bytes:
    """A Linux 7.1 sample from shared/external (gunzipped); skips if absent."""
    path = EXTERNAL / name
    if not path.exists():
        gz = path.with_name(name + ".gz")
        if not gz.exists():
            pytest.skip(f"{path} is not here (shared/ is beside the repository in CI)")
        return _gunzip(str(gz))
    return path.read_bytes()


@lru_cache(maxsize=None)
def _gunzip(path: str) -> bytes:
    return gzip.decompress(Path(path).read_bytes())


def bpftool(*args: str) -> bytes:
    """stdout of bpftool; skips when bpftool is not installed."""
    exe = shutil.which("bpftool")
    if exe is None:
        pytest.skip("bpftool is not installed (apt-get install bpftool)")
    return subprocess.run([exe, *args], check=True, capture_output=True).stdout
