"""Load a BTF blob into the running kernel with bpf(BPF_BTF_LOAD).

The kernel is the judge our verifier imitates, so the tests ask it too.  Only
x86-64 Linux is supported (the syscall number and the layout of
`union bpf_attr` below are that ABI's); elsewhere `available()` says why not.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import sys

NR_BPF_X86_64 = 321
BPF_BTF_LOAD = 18
LOG_SIZE = 64 * 1024


class BtfLoadAttr(ctypes.Structure):
    """The BPF_BTF_LOAD part of `union bpf_attr` (include/uapi/linux/bpf.h)."""
    _fields_ = [
        ("btf", ctypes.c_uint64),
        ("btf_log_buf", ctypes.c_uint64),
        ("btf_size", ctypes.c_uint32),
        ("btf_log_size", ctypes.c_uint32),
        ("btf_log_level", ctypes.c_uint32),
    ]


_libc = None


def _syscall():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
    return _libc.syscall


def _load(data, log, log_level: int) -> tuple[bool, int]:
    """One bpf(BPF_BTF_LOAD); the fd of a loaded BTF is closed at once."""
    attr = BtfLoadAttr(btf=ctypes.addressof(data),
                       btf_log_buf=ctypes.addressof(log) if log is not None else 0,
                       btf_size=len(data),
                       btf_log_size=len(log) if log is not None else 0,
                       btf_log_level=log_level)
    fd = _syscall()(ctypes.c_long(NR_BPF_X86_64), ctypes.c_long(BPF_BTF_LOAD),
                    ctypes.byref(attr), ctypes.c_long(ctypes.sizeof(attr)))
    if fd < 0:
        return False, ctypes.get_errno()
    os.close(fd)
    return True, 0


def load_btf(blob: bytes) -> tuple[bool, int, str]:
    """(loaded, errno, verifier log) for `blob`.

    The log is the kernel's level-1 log in a 64 KiB buffer.  A log that does
    not fit fails the load with ENOSPC even for good BTF (the kernel keeps the
    log's tail, so the verdict line survives); the verdict is then asked for
    again without a log.
    """
    data = ctypes.create_string_buffer(bytes(blob), len(blob))
    log = ctypes.create_string_buffer(LOG_SIZE)
    ok, err = _load(data, log, 1)
    text = log.value.decode("utf-8", "replace")
    if err == errno.ENOSPC:
        ok, err = _load(data, None, 0)
    return ok, err, text


def last_line(log: str) -> str:
    """The verifier's verdict: the last non-empty line of its log."""
    lines = [line for line in log.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def available() -> str | None:
    """None when BPF_BTF_LOAD can be used here, else the reason it cannot."""
    if sys.platform != "linux" or platform.machine() != "x86_64":
        return "needs x86-64 Linux"
    if os.geteuid() != 0:
        return "needs root"
    # The smallest valid BTF: one `int`.
    probe = (b"\x9f\xeb\x01\x00" + (24).to_bytes(4, "little")
             + (0).to_bytes(4, "little") + (16).to_bytes(4, "little")
             + (16).to_bytes(4, "little") + (5).to_bytes(4, "little")
             + (1).to_bytes(4, "little") + (0x01000000).to_bytes(4, "little")
             + (4).to_bytes(4, "little") + (0x01000020).to_bytes(4, "little")
             + b"\0int\0")
    ok, err, log = load_btf(probe)
    if ok:
        return None
    if err in (errno.EPERM, errno.ENOSYS, errno.EACCES):
        return f"bpf(BPF_BTF_LOAD) refused: {os.strerror(err)}"
    return f"bpf(BPF_BTF_LOAD) rejects even a minimal BTF: {os.strerror(err)}: {last_line(log)}"
