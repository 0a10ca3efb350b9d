"""libbpf through ctypes: the reference `btf__dedup`, as an oracle for tests.

Debian's `libbpf1` package ships `libbpf.so.1` (1.1 on bookworm).  Only the
handful of calls the dedup tests need are wrapped; `available()` says
whether the library loads, and `require()` skips a test cleanly when not.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import tempfile
from functools import lru_cache

CANDIDATES = ("libbpf.so.1", "/usr/lib/x86_64-linux-gnu/libbpf.so.1",
              "/usr/lib64/libbpf.so.1", "/usr/lib/libbpf.so.1")


@lru_cache(maxsize=None)
def _lib():
    names = [os.environ["LIBBPF_SO"]] if os.environ.get("LIBBPF_SO") else []
    found = ctypes.util.find_library("bpf")
    names += [found] if found else []
    names += list(CANDIDATES)
    for name in names:
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        try:
            _declare(lib)
        except AttributeError:
            continue
        return lib
    return None


def _declare(lib) -> None:
    vp, u32 = ctypes.c_void_p, ctypes.c_uint32
    lib.btf__new.restype = vp
    lib.btf__new.argtypes = [ctypes.c_char_p, u32]
    # libbpf 1.1 has no btf__new_split; btf__parse_raw_split reads a file.
    lib.btf__parse_raw_split.restype = vp
    lib.btf__parse_raw_split.argtypes = [ctypes.c_char_p, vp]
    lib.btf__dedup.restype = ctypes.c_int
    lib.btf__dedup.argtypes = [vp, vp]
    lib.btf__type_cnt.restype = u32
    lib.btf__type_cnt.argtypes = [vp]
    lib.btf__raw_data.restype = vp
    lib.btf__raw_data.argtypes = [vp, ctypes.POINTER(u32)]
    lib.btf__free.restype = None
    lib.btf__free.argtypes = [vp]
    lib.libbpf_get_error.restype = ctypes.c_long
    lib.libbpf_get_error.argtypes = [vp]


def available() -> bool:
    return _lib() is not None


def require():
    """The loaded library; skips the calling test when libbpf is missing."""
    lib = _lib()
    if lib is None:
        import pytest
        pytest.skip("libbpf.so.1 is not installed (apt-get install libbpf1)")
    return lib


class LibbpfBtf:
    """A `struct btf *` owned by Python (freed on close or garbage collection)."""

    def __init__(self, data: bytes, base: "LibbpfBtf | None" = None):
        lib = require()
        self._lib = lib
        self._buf = ctypes.create_string_buffer(data, len(data))
        if base is None:
            ptr = lib.btf__new(self._buf, len(data))
        else:
            with tempfile.NamedTemporaryFile(suffix=".btf") as f:
                f.write(data)
                f.flush()
                ptr = lib.btf__parse_raw_split(f.name.encode(), base.ptr)
        if not ptr or lib.libbpf_get_error(ptr):
            raise ValueError("libbpf refused the BTF")
        self.ptr = ptr
        self.base = base

    def dedup(self) -> None:
        err = self._lib.btf__dedup(self.ptr, None)
        if err:
            raise RuntimeError(f"btf__dedup failed: {err}")

    @property
    def type_cnt(self) -> int:
        """btf__type_cnt: one past the last id, void and base included."""
        return self._lib.btf__type_cnt(self.ptr)

    def raw(self) -> bytes:
        size = ctypes.c_uint32()
        p = self._lib.btf__raw_data(self.ptr, ctypes.byref(size))
        return ctypes.string_at(p, size.value)

    def close(self) -> None:
        if getattr(self, "ptr", None):
            self._lib.btf__free(self.ptr)
            self.ptr = None

    def __del__(self):
        self.close()


def dedup_bytes(data: bytes, base: bytes | None = None) -> tuple[int, bytes]:
    """Deduplicate a raw BTF blob (split over `base` if given) with libbpf;
    returns (btf__type_cnt after dedup, the deduplicated blob)."""
    b = LibbpfBtf(base) if base is not None else None
    btf = LibbpfBtf(data, b)
    btf.dedup()
    out = btf.type_cnt, btf.raw()
    btf.close()
    if b is not None:
        b.close()
    return out
