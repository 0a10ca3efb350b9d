"""Writing results without ever leaving a half-written file behind.

Every write goes to a temporary file in the destination's directory, is
flushed to disk, and replaces the destination by rename, so an interrupted
run leaves the old file as it was.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .errors import Dwarf2BtfError


def replace_atomically(path: str | os.PathLike, write) -> None:
    """Call write(tmp_path) and rename the result over `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    os.close(fd)
    try:
        if path.exists():
            shutil.copymode(path, tmp)
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_btf_file(path: str | os.PathLike, data: bytes) -> None:
    """A raw BTF file (pahole --btf_encode_detached)."""
    try:
        replace_atomically(path, lambda tmp: Path(tmp).write_bytes(data))
    except OSError as e:
        raise Dwarf2BtfError(f"cannot write: {e.strerror or e}", file=str(path)) from None


def write_btf_section(elf_path: str | os.PathLike, data: bytes, section: str = ".BTF") -> None:
    """Add or replace `section` in an ELF file (pahole -J), through objcopy.

    The pure-Python in-place writer of the module-BTF work replaces this.
    """
    objcopy = shutil.which(os.environ.get("OBJCOPY", "objcopy"))
    if objcopy is None:
        raise Dwarf2BtfError("objcopy is needed to write .BTF into an ELF file", file=str(elf_path))
    with tempfile.NamedTemporaryFile(suffix=".btf") as blob:
        blob.write(data)
        blob.flush()

        def run(tmp: str) -> None:
            shutil.copyfile(elf_path, tmp)
            for flag in ("--remove-section", "--add-section"):
                arg = section if flag == "--remove-section" else f"{section}={blob.name}"
                r = subprocess.run([objcopy, flag, arg, tmp], capture_output=True, text=True)
                if r.returncode:
                    raise Dwarf2BtfError(f"objcopy failed: {r.stderr.strip()}",
                                         file=str(elf_path), section=section)

        replace_atomically(elf_path, run)
