"""libbpf 1.6 through ctypes: `btf__distill_base` and `btf__relocate` as oracles.

Debian's libbpf (1.1 on bookworm) predates both calls.  The `pylibbpf`
wheel (PyPI, in the `test` extra) links libbpf 1.6 into its extension
module and exports the whole libbpf API, so we load that file with ctypes
and never import the package (its Python part wants llvmlite).

libbpf's warnings, which carry the reason a relocation failed (the text the
kernel prints too, as both build btf_relocate.c), are captured per call
through `libbpf_set_print`.
"""

from __future__ import annotations

import ctypes
import glob
import importlib.util
import os
from functools import lru_cache

MIN_VERSION = (1, 5)      # btf__distill_base and btf__relocate appeared in 1.5


class LibbpfError(Exception):
    """A libbpf call failed: `err` is its negative errno, `log` its warnings."""

    def __init__(self, call: str, err: int, log: list[str]):
        super().__init__(f"{call} failed: {err}: {' | '.join(log)}")
        self.err = err
        self.log = log


def _so_path() -> str | None:
    if os.environ.get("LIBBPF16_SO"):
        return os.environ["LIBBPF16_SO"]
    spec = importlib.util.find_spec("pylibbpf")      # locates, does not import
    if spec is None or not spec.submodule_search_locations:
        return None
    for where in spec.submodule_search_locations:
        hits = sorted(glob.glob(os.path.join(where, "pylibbpf*.so")))
        if hits:
            return hits[0]
    return None


_PRINT_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
_log: list[str] = []


def _printer(level: int, fmt: bytes, args) -> int:
    buf = ctypes.create_string_buffer(1024)
    ctypes.CDLL(None).vsnprintf(buf, len(buf), fmt, ctypes.c_void_p(args))
    if level == 0:                       # LIBBPF_WARN
        _log.append(buf.value.decode("utf-8", "replace").rstrip("\n"))
    return 0


_printer_c = _PRINT_FN(_printer)         # kept alive for libbpf's sake


@lru_cache(maxsize=None)
def _lib():
    path = _so_path()
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(path)
        version = (lib.libbpf_major_version(), lib.libbpf_minor_version())
        lib.btf__distill_base, lib.btf__relocate   # noqa: B018 - present?
    except (OSError, AttributeError):
        return None
    if version < MIN_VERSION:
        return None
    vp, u32, pp = ctypes.c_void_p, ctypes.c_uint32, ctypes.POINTER(ctypes.c_void_p)
    for name, res, args in (
            ("btf__new", vp, [ctypes.c_char_p, u32]),
            ("btf__new_split", vp, [ctypes.c_char_p, u32, vp]),
            ("btf__distill_base", ctypes.c_int, [vp, pp, pp]),
            ("btf__relocate", ctypes.c_int, [vp, vp]),
            ("btf__raw_data", vp, [vp, ctypes.POINTER(u32)]),
            ("btf__type_cnt", u32, [vp]),
            ("btf__free", None, [vp]),
            ("libbpf_get_error", ctypes.c_long, [vp]),
            ("libbpf_set_print", vp, [_PRINT_FN])):
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    lib.libbpf_set_print(_printer_c)
    lib.version = version
    return lib


def available() -> bool:
    return _lib() is not None


def version() -> tuple[int, int] | None:
    lib = _lib()
    return lib.version if lib is not None else None


def require():
    """The library; skips the calling test when pylibbpf is not installed."""
    lib = _lib()
    if lib is None:
        import pytest
        pytest.skip("libbpf >= 1.5 not found: pip install pylibbpf (the test extra)")
    return lib


class _Btf:
    """A `struct btf *` over bytes kept alive beside it; freed on close."""

    def __init__(self, lib, data: bytes, base: "_Btf | None" = None, *, ptr=None):
        self.lib, self.base = lib, base
        self.buf = None
        if ptr is None:
            self.buf = ctypes.create_string_buffer(data, len(data))
            ptr = (lib.btf__new_split(self.buf, len(data), base.ptr) if base is not None
                   else lib.btf__new(self.buf, len(data)))
            if not ptr or lib.libbpf_get_error(ptr):
                raise LibbpfError("btf__new", -22, _take_log())
        self.ptr = ptr

    def raw(self) -> bytes:
        size = ctypes.c_uint32()
        p = self.lib.btf__raw_data(self.ptr, ctypes.byref(size))
        return ctypes.string_at(p, size.value)

    def close(self) -> None:
        if self.ptr:
            self.lib.btf__free(self.ptr)
            self.ptr = None


def _take_log() -> list[str]:
    out = list(_log)
    _log.clear()
    return out


def _closing(*btfs):
    for b in btfs:
        if b is not None:
            b.close()


def distill(split: bytes, base: bytes) -> tuple[bytes, bytes]:
    """btf__distill_base: (distilled base, new split) as libbpf writes them."""
    lib = require()
    _take_log()
    b = _Btf(lib, base)
    s = nb = ns = None
    try:
        s = _Btf(lib, split, b)
        new_base, new_split = ctypes.c_void_p(), ctypes.c_void_p()
        err = lib.btf__distill_base(s.ptr, ctypes.byref(new_base), ctypes.byref(new_split))
        if err:
            raise LibbpfError("btf__distill_base", err, _take_log())
        nb = _Btf(lib, b"", ptr=new_base.value)
        ns = _Btf(lib, b"", ptr=new_split.value)
        return nb.raw(), ns.raw()
    finally:
        _closing(ns, nb, s, b)


def relocate(split: bytes, distilled_base: bytes, new_base: bytes) -> bytes:
    """btf__relocate: the split BTF rewritten to sit on `new_base`."""
    lib = require()
    _take_log()
    d = _Btf(lib, distilled_base)
    nb = s = None
    try:
        nb = _Btf(lib, new_base)
        s = _Btf(lib, split, d)
        err = lib.btf__relocate(s.ptr, nb.ptr)
        if err:
            raise LibbpfError("btf__relocate", err, _take_log())
        return s.raw()
    finally:
        _closing(s, nb, d)
