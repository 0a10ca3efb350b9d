"""Where our caches live and what keys them.

Both caches (batch's finished BTF, basecache's derived base data) are keyed
by xxh3-128 hashes of what made their content: the input's bytes and our own
code (its files' stat: `code_hash`), so that a changed encoder never serves an
old answer.
"""

from __future__ import annotations

import os
from pathlib import Path

import xxhash

from . import __version__


def cache_dir(name: str) -> Path:
    """`$XDG_CACHE_HOME/dwarf2btf/<name>` (or `~/.cache/...`)."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "dwarf2btf" / name


def file_hash(path: str) -> str:
    h = xxhash.xxh3_128()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def code_hash() -> str:
    """Our version and the state of our own source files: what made the
    output.  The C files count as much as the Python (a signature computed
    in _cwalk.c is kept in the base cache).  A file counts by its path, size
    and its modification and change times, as ccache's default compiler
    check: reading all 0.8 MB of source cost every run 2 ms, and an edit
    changes the change time even where it keeps the size and the mtime."""
    h = xxhash.xxh3_128(__version__.encode())
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for pkg in ("encoder", "dedup"):
        for rel, st in sorted(_sources(top, pkg)):
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0".encode())
    return h.hexdigest()


def _sources(top: str, rel: str):
    """(path relative to `top`, stat) of the .py, .c and .h files under it."""
    with os.scandir(os.path.join(top, rel)) as entries:
        for e in entries:
            path = f"{rel}/{e.name}"
            if e.is_dir(follow_symlinks=False):
                if e.name != "__pycache__":
                    yield from _sources(top, path)
            elif e.name.endswith((".py", ".c", ".h")):
                yield path, e.stat()
