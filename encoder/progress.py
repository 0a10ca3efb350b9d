"""Progress bars for long runs: per compilation unit for one file, per file in a batch.

A bar is drawn only for a person watching: when stderr is a terminal and
the user did not ask for `--quiet`.  Piped, logged, in CI, or called as
`pahole` from a kernel build, nothing is printed (pahole prints nothing
either).  Drawing is tqdm's; without tqdm installed the bars are simply off.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator


def wanted(quiet: bool = False, stream=None) -> bool:
    """True when a bar would be seen: not quiet and stderr is a terminal."""
    stream = stream if stream is not None else sys.stderr
    if quiet:
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _tqdm(**kw):
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(file=sys.stderr, dynamic_ncols=True, leave=False, **kw)


def _debug_info_size(path: str) -> int:
    """Bytes of .debug_info once decompressed: the bar's length (units
    arrive with their offsets)."""
    import struct
    from .elf.consts import SHF_COMPRESSED
    from .elf.file import ElfFile
    try:
        with ElfFile(path) as elf:
            h = elf.header(".debug_info")
            if h is None:
                return 0
            if not h.flags & SHF_COMPRESSED:
                return h.size
            buf, start, _ = elf.raw_span(h)     # ch_size of Elf64_Chdr / Elf32_Chdr
            if elf.is64:
                return struct.unpack_from("<IIQ", buf, start)[2]
            return struct.unpack_from("<III", buf, start)[1]
    except Exception:       # the encode itself reports a bad file properly
        return 0


@contextmanager
def units(path: str, enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A callback for `encode(req, progress=...)`: (units done, offset of the last)."""
    total = _debug_info_size(path) if enabled else 0
    bar = _tqdm(total=total, unit="B", unit_scale=True, desc="DWARF") if total else None
    if bar is None:
        yield None
        return

    def step(n: int, offset: int) -> None:
        bar.update(offset - bar.n)
        if n % 16 == 1:
            bar.set_postfix_str(f"CU {n}", refresh=False)
    try:
        yield step
    finally:
        bar.close()


@contextmanager
def files(total: int, enabled: bool) -> Iterator[Callable[[str], None]]:
    """A callback to call once per finished input of a batch, with its status."""
    bar = _tqdm(total=total, unit="file", desc="batch") if enabled and total > 1 else None
    if bar is None:
        yield lambda status: None
        return
    counts: dict[str, int] = {}

    def done(status: str) -> None:
        counts[status] = counts.get(status, 0) + 1
        bar.set_postfix_str(" ".join(f"{k} {v}" for k, v in sorted(counts.items())),
                            refresh=False)
        bar.update(1)
    try:
        yield done
    finally:
        bar.close()
