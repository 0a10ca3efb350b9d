"""Writing results without ever leaving a half-written file behind.

Every write goes to a temporary file in the destination's directory, is
flushed to disk, and is renamed over the destination; then the directory is
flushed, so the rename itself survives a crash.  A run that is killed at any
moment leaves the destination either as it was or complete.

Temporary files are called `.<name>.<random>.dwarf2btf-tmp` (hidden, and
never ending like the output, so `*.ko` or `*.o` never matches one).  The
writing process holds an flock on its temporary file; one that nobody holds
a lock on belongs to a run that died, and the next write to the same
destination removes it.  A symlink destination is followed: the file it
points to is replaced, the link stays.  The new file gets the old one's mode
(and owner, when we may set it); a hard link to the old file keeps the old
contents, as with objcopy.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import Callable

from .errors import Dwarf2BtfError

TMP_SUFFIX = ".dwarf2btf-tmp"


def _temp_pattern(name: str) -> re.Pattern:
    return re.compile(re.escape(f".{name}.") + r"[A-Za-z0-9_]+" + re.escape(TMP_SUFFIX))


# directory -> the temporary files found in it, inside `listing_once`
_listed: dict[Path, list[str]] | None = None


@contextlib.contextmanager
def listing_once():
    """Within it, each directory is listed for stale temporaries once: a
    batch writes a thousand outputs into one directory, and listing it for
    each cost the square of that.  Temporaries that appear meanwhile wait
    for the next write outside it."""
    global _listed
    outer, _listed = _listed, {}
    try:
        yield
    finally:
        _listed = outer


def _temps(directory: Path) -> list[str]:
    names = None if _listed is None else _listed.get(directory)
    if names is None:
        try:
            names = [e.name for e in os.scandir(directory) if e.name.endswith(TMP_SUFFIX)]
        except OSError:
            return []
        if _listed is not None:
            _listed[directory] = names
    return names


def clean_stale_temps(path: str | os.PathLike) -> list[str]:
    """Remove the temporary files of dead runs that wrote `path`; returns them.

    A live writer holds the lock on its file, so it is left alone."""
    target = Path(path)
    names = _temps(target.parent)
    if not names:
        return []
    pattern = _temp_pattern(target.name)
    removed = []
    for name in [n for n in names if pattern.fullmatch(n)]:
        entry = str(target.parent / name)
        try:
            fd = os.open(entry, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            names.remove(name)          # gone already
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # Still the file we locked (not renamed away and replaced since)?
            if os.stat(entry, follow_symlinks=False).st_ino == os.fstat(fd).st_ino:
                os.unlink(entry)
                removed.append(entry)
                names.remove(name)
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


def _locked_temp(target: Path) -> tuple[int, str]:
    """A new temporary file beside `target`, locked by us."""
    while True:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TMP_SUFFIX,
                                   dir=target.parent)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.stat(tmp).st_ino == os.fstat(fd).st_ino:
                return fd, tmp
        except FileNotFoundError:      # a cleaner took it before we locked it
            pass
        os.close(fd)


def _take_mode(fd: int, target: Path) -> None:
    """The old file's mode and owner, or for a new file the usual 0666 & ~umask."""
    try:
        st = os.stat(target)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        return
    try:
        os.fchown(fd, st.st_uid, st.st_gid)
    except PermissionError:
        pass
    os.fchmod(fd, stat.S_IMODE(st.st_mode))


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_atomically(path: str | os.PathLike, write: Callable[[int], None]) -> None:
    """Call write(fd) on a new temporary file and rename it over `path`.

    On any error (or interrupt) the temporary file is removed and `path` is
    as it was."""
    target = Path(os.path.realpath(path))
    clean_stale_temps(target)
    fd, tmp = _locked_temp(target)
    try:
        _take_mode(fd, target)
        write(fd)
        os.fsync(fd)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    finally:
        os.close(fd)
    _fsync_dir(target.parent)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _writing(path: str | os.PathLike, write: Callable[[int], None]) -> None:
    """replace_atomically, with an OS error as one line about `path`."""
    try:
        replace_atomically(path, write)
    except OSError as e:
        raise Dwarf2BtfError(f"cannot write: {e.strerror or e}", file=str(path)) from None


def write_btf_file(path: str | os.PathLike, data: bytes) -> None:
    """A raw BTF file (pahole --btf_encode_detached)."""
    _writing(path, lambda fd: _write_all(fd, data))


def write_btf_section(elf_path: str | os.PathLike, data: bytes,
                      base: bytes | None = None, *, drop_signature: bool = False) -> None:
    """Add or replace `.BTF` in an ELF file (pahole -J), and `.BTF.base` when
    `base` (a distilled base) is given.  Without one, a `.BTF.base` left by
    an earlier run is dropped: it would be taken as the base of the new
    `.BTF`.  A signed module is refused unless `drop_signature`.  Pure
    Python (encoder/elf/write.py); the file is checked and the layout
    planned before anything is written.
    """
    from .elf.write import Rewrite

    plan = Rewrite(elf_path, {".BTF": data, ".BTF.base": base}, drop_signature=drop_signature)
    _writing(elf_path, plan.write_to)


def write_btf_object(path: str | os.PathLike, reference: str | os.PathLike,
                     data: bytes) -> None:
    """The vmlinux `.btf.o` (an ET_REL object with an allocated `.BTF`) for
    the machine of the ELF file `reference`."""
    from .elf.write import btf_object

    obj = btf_object(reference, data)
    _writing(path, lambda fd: _write_all(fd, obj))
