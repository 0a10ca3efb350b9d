"""A base BTF's derived data, kept on disk between runs.

A kernel build encodes every module over the same vmlinux BTF, one process
per module.  Each process would decode the base's ~95 k types, index them for
dedup, compute their bisimulation classes and index them for the verifier:
about a second of work whose result depends only on the base's bytes and
our code, against a tenth of that for a small module itself.  The first run
over a base stores every `PerBase` value of it (marshal, keyed by the
xxh3-128 of the blob, our code and the Python version); later runs adopt
them and decode a base type only when one is asked for.

A snapshot is written only for a base that parsed whole, atomically; one
that does not load is ignored (and replaced by the next run).  Writing one
drops those an older encoder wrote and all but the newest few.
`DWARF2BTF_BASE_CACHE=0` turns the cache off.
"""

from __future__ import annotations

import array
import gc
import marshal
import os
import sys

import xxhash

from .btf.model import Btf
from .btf.perbase import PerBase
from .btf.reader import from_sections, parse, record_starts, sections_of
from .cachedir import cache_dir, code_hash
from .errors import Dwarf2BtfError

FORMAT = 1
KEEP = 8            # snapshots kept (a few bases: releases, configs)


def enabled() -> bool:
    return os.environ.get("DWARF2BTF_BASE_CACHE", "1") not in ("0", "off", "no")


def load_base(path: str) -> Btf:
    """The base BTF in `path` (ELF or raw), from a snapshot when there is
    one; else parsed, and remembered for `keep`."""
    path = str(path)
    blob, base_blob, section = sections_of(path)
    if base_blob is not None or not enabled():     # a base over its own base: not cached
        return from_sections(path, blob, base_blob, section)
    key = _key(blob)
    snap = _read(key)
    if snap is not None:
        btf = parse(blob, starts=array.array("I", snap["starts"]))
        for name, state in snap["values"].items():
            PerBase.ALL[name].adopt(btf, state)
        return btf
    btf = from_sections(path, blob, None, section)
    btf.snapshot_key = key
    return btf


def keep(base: Btf | None) -> None:
    """Store `base`'s derived data (computing what no run asked for yet)
    unless it came from a snapshot; a cache that cannot be written is no
    error."""
    key = getattr(base, "snapshot_key", None)
    if key is None:
        return
    _import_users()
    snap = {"format": FORMAT, "starts": record_starts(base).tobytes(),
            "values": {name: v.export(base) for name, v in sorted(PerBase.ALL.items())}}
    from .output import write_btf_file as write_atomically
    try:
        _path(key).parent.mkdir(parents=True, exist_ok=True)
        write_atomically(_path(key), marshal.dumps(snap))
        _prune(key)
    except (OSError, ValueError, Dwarf2BtfError):
        return
    base.snapshot_key = None


def _import_users() -> None:
    """Every module that keeps a `PerBase` value (importing registers it)."""
    from . import encode, learned  # noqa: F401
    from .btf import verifier  # noqa: F401
    from .exports import tags  # noqa: F401
    from dedup import deduper  # noqa: F401


def _key(blob: bytes) -> str:
    """`<base>-<code>`: the blob's hash, then what reads the snapshot."""
    code = xxhash.xxh3_64(f"{code_hash()}\0{sys.version}\0{marshal.version}\0{FORMAT}".encode())
    return f"{xxhash.xxh3_128(blob).hexdigest()}-{code.hexdigest()}"


def _prune(kept: str) -> None:
    """Drop snapshots an older encoder wrote, and all but the newest KEEP."""
    code = "-" + kept.split("-")[1]
    snaps = sorted(_path(kept).parent.glob("*.snap"), key=_mtime, reverse=True)
    ours = [p for p in snaps if p.stem.endswith(code)]
    for p in [p for p in snaps if not p.stem.endswith(code)] + ours[KEEP:]:
        p.unlink(missing_ok=True)


def _mtime(p) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


def _path(key: str):
    return cache_dir("base") / f"{key}.snap"


def _read(key: str) -> dict | None:
    try:
        with open(_path(key), "rb") as f:
            data = f.read()
    except OSError:
        return None
    # Millions of new objects, none garbage: without the cyclic collector
    # running over and over meanwhile this takes half the time; frozen
    # afterwards, later collections do not walk them either.
    gc.disable()
    try:
        snap = marshal.loads(data)
    except (ValueError, EOFError, TypeError):
        return None
    finally:
        gc.enable()
    gc.freeze()
    if not isinstance(snap, dict) or snap.get("format") != FORMAT:
        return None
    _import_users()
    if set(snap.get("values", ())) != set(PerBase.ALL):
        return None
    return snap
