"""A base BTF's derived data, kept on disk between runs.

A kernel build encodes every module over the same vmlinux BTF, one process
per module.  Each process would decode the base's ~95 k types, index them for
dedup, compute their bisimulation classes and index them for the verifier:
about a second of work whose result depends only on the base's bytes and
our code, against a tenth of that for a small module itself.  The first run
over a base stores every `PerBase` value of it (marshal, keyed by the
xxh3-128 of the blob, our code and the Python version); later runs map the
file and unpack a value when it is first used, big byte strings in it
(dedup's frozen tables, encoder/frozen.py) read in place, and decode a
base type only when one is asked for.

File: magic, the index's size and xxh3-128, the index (record starts of
the base's types; per value, its regions), then the regions, each with its
own xxh3-128.  A snapshot is written only for a base that parsed whole,
atomically; one that does not load is ignored, a value that does not check
out is computed instead, and either way the run writes the snapshot anew.
Writing one drops those an older encoder wrote and all but the newest few.
`DWARF2BTF_BASE_CACHE=0` turns the cache off.
"""

from __future__ import annotations

import array
import functools
import gc
import marshal
import mmap
import os
import struct
import sys

import xxhash

from .btf.model import Btf
from .btf.perbase import PerBase
from .btf.reader import from_sections, parse, record_starts, sections_of
from .cachedir import cache_dir, code_hash
from .errors import Dwarf2BtfError
from .frozen import FrozenTable, Overlay, frozen

FORMAT = 4
MAGIC = b"d2bsnap\0"
_HEAD = struct.Struct("<8sI16s")     # magic, index size, its xxh3-128; then index, values
_APART = 1 << 16    # bytes this big in a value are kept beside it, read in place
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
        index, data = snap
        btf = parse(blob, starts=array.array("I", index["starts"]))
        for name, (regions, places) in index["values"].items():
            parts = [(data[at:at + size], digest) for at, size, digest in regions]
            PerBase.ALL[name].adopt(btf, functools.partial(_thaw, btf, key, parts, places))
        btf.strings.index_source = functools.partial(_string_index, btf)
        return btf
    btf = from_sections(path, blob, None, section)
    btf.snapshot_key = key
    return btf


# The base's string table's index (name -> offset), probed in place: a
# module looks up a few hundred names.
_string_index = PerBase("strings", lambda base: base.strings.build_index(), save=frozen,
                        load=lambda state, base: Overlay(FrozenTable(state)))


def keep(base: Btf | None) -> None:
    """Store `base`'s derived data (computing what no run asked for yet)
    unless it came from a snapshot; a cache that cannot be written is no
    error."""
    key = getattr(base, "snapshot_key", None)
    if key is None:
        return
    _import_users()
    values, where, at = [], {}, 0
    for name, v in sorted(PerBase.ALL.items()):
        state, places, big = _set_apart(v.export(base))
        regions = []
        for part in (marshal.dumps(state), *big):
            regions.append((at, len(part), xxhash.xxh3_128_digest(part)))
            values.append(part)
            at += len(part)
        where[name] = (tuple(regions), places)
    index = marshal.dumps({"format": FORMAT, "starts": record_starts(base).tobytes(),
                           "values": where})
    from .output import write_btf_file as write_atomically
    try:
        _path(key).parent.mkdir(parents=True, exist_ok=True)
        write_atomically(_path(key), b"".join(
            [_HEAD.pack(MAGIC, len(index), xxhash.xxh3_128_digest(index)), index, *values]))
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


def _read(key: str) -> tuple[dict, memoryview] | None:
    """(index, the values' bytes) of a snapshot, mapped: a value is read
    (and checked) only when a run asks for it."""
    try:
        with open(_path(key), "rb") as f:
            data = memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
    except (OSError, ValueError):           # ValueError: an empty file
        return None
    try:
        magic, size, digest = _HEAD.unpack_from(data)
        packed = data[_HEAD.size:_HEAD.size + size]
        if magic != MAGIC or xxhash.xxh3_128_digest(packed) != digest:
            return None
        index = marshal.loads(packed)
    except (struct.error, ValueError, EOFError, TypeError):
        return None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        return None
    _import_users()
    values = index.get("values", {})
    if set(values) != set(PerBase.ALL) or len(data) != _HEAD.size + size + sum(
            r[1] for regions, _ in values.values() for r in regions):
        return None
    return index, data[_HEAD.size + size:]


def _set_apart(state) -> tuple:
    """(state, places, blobs): the big bytes items of a tuple state set
    apart, None in their places, so that a run reads them from the mapped
    file instead of copying them (dedup's frozen tables: 30 MB)."""
    if not isinstance(state, tuple):
        return state, (), ()
    places = tuple(i for i, x in enumerate(state)
                   if isinstance(x, (bytes, memoryview)) and len(x) >= _APART)
    return (tuple(None if i in places else x for i, x in enumerate(state)), places,
            tuple(state[i] for i in places))


def _thaw(btf: Btf, key: str, parts: list, places: tuple):
    """One value of `btf` from its parts (the marshalled state, then the
    bytes set apart, as views of the mapped file); None, and the snapshot
    to be written again, if they are not what was written.

    Hundreds of thousands of new objects, none garbage: without the cyclic
    collector running over and over meanwhile this takes half the time;
    frozen afterwards, later collections do not walk them either."""
    if all(xxhash.xxh3_128_digest(view) == digest for view, digest in parts):
        gc.disable()
        try:
            state = marshal.loads(parts[0][0])
            if places:
                state = list(state)
                for i, (view, _) in zip(places, parts[1:]):
                    state[i] = view
                state = tuple(state)
            return state
        except (ValueError, EOFError, TypeError, IndexError):
            pass
        finally:
            gc.enable()
            gc.freeze()
    btf.snapshot_key = key
    return None
