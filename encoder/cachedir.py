"""Where our caches live and what keys them.

Both caches (batch's finished BTF, basecache's derived base data) are keyed
by xxh3-128 hashes of what made their content: the input's bytes and our own
code, so that a changed encoder never serves an old answer.
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
    """Our version and the bytes of our own source: what made the output.
    The C files count as much as the Python (a signature computed in
    _cwalk.c is kept in the base cache)."""
    h = xxhash.xxh3_128(__version__.encode())
    top = Path(__file__).resolve().parent.parent
    for pkg in ("encoder", "dedup"):
        srcs = [p for ext in ("*.py", "*.c", "*.h") for p in (top / pkg).rglob(ext)]
        for src in sorted(srcs):
            h.update(src.relative_to(top).as_posix().encode() + b"\0" + src.read_bytes())
    return h.hexdigest()
