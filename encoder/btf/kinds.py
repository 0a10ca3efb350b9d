"""Numbers of the BTF wire format (include/uapi/linux/btf.h), named once.

Everything here is a fact of the format, not a choice of ours; the names
follow the kernel's so a reader can grep both.
"""

from __future__ import annotations

import enum

MAGIC = 0xEB9F
VERSION = 1
HEADER_LEN = 24          # the classic header
HEADER_LEN_LAYOUT = 32   # with layout_off/layout_len (2026)
TYPE_HEADER_LEN = 12     # struct btf_type: name_off, info, size/type

MAX_TYPE = 0x000FFFFF
MAX_NAME_OFFSET = 0x00FFFFFF
MAX_VLEN_CLASSIC = 0xFFFF
MAX_VLEN_WIDE = 0x00FFFFFF
MAX_RESOLVE_DEPTH = 32   # kernel/bpf/btf.c MAX_RESOLVE_DEPTH
MAX_SIZE = 16 * 1024 * 1024  # BTF_MAX_SIZE for BPF_BTF_LOAD


class Kind(enum.IntEnum):
    UNKN = 0
    INT = 1
    PTR = 2
    ARRAY = 3
    STRUCT = 4
    UNION = 5
    ENUM = 6
    FWD = 7
    TYPEDEF = 8
    VOLATILE = 9
    CONST = 10
    RESTRICT = 11
    FUNC = 12
    FUNC_PROTO = 13
    VAR = 14
    DATASEC = 15
    FLOAT = 16
    DECL_TAG = 17
    TYPE_TAG = 18
    ENUM64 = 19


MAX_KIND = Kind.ENUM64


class IntEncoding(enum.IntFlag):
    """BTF_INT_ENCODING bits of an INT; the kernel allows at most one."""
    NONE = 0
    SIGNED = 1
    CHAR = 2
    BOOL = 4


class FuncLinkage(enum.IntEnum):
    """FUNC linkage, carried in the vlen bits of `info`."""
    STATIC = 0
    GLOBAL = 1
    EXTERN = 2


class VarLinkage(enum.IntEnum):
    STATIC = 0
    GLOBAL_ALLOCATED = 1
    GLOBAL_EXTERN = 2


# (info_sz, elem_sz) per known kind: the bytes after struct btf_type are
# info_sz + vlen * elem_sz.  This is also the `btf_layout` table libbpf
# writes when asked for a layout section.
LAYOUT: dict[Kind, tuple[int, int]] = {
    Kind.UNKN: (0, 0),
    Kind.INT: (4, 0),
    Kind.PTR: (0, 0),
    Kind.ARRAY: (12, 0),
    Kind.STRUCT: (0, 12),
    Kind.UNION: (0, 12),
    Kind.ENUM: (0, 8),
    Kind.FWD: (0, 0),
    Kind.TYPEDEF: (0, 0),
    Kind.VOLATILE: (0, 0),
    Kind.CONST: (0, 0),
    Kind.RESTRICT: (0, 0),
    Kind.FUNC: (0, 0),
    Kind.FUNC_PROTO: (0, 8),
    Kind.VAR: (4, 0),
    Kind.DATASEC: (0, 12),
    Kind.FLOAT: (0, 0),
    Kind.DECL_TAG: (4, 0),
    Kind.TYPE_TAG: (0, 0),
    Kind.ENUM64: (0, 12),
}


def info_word(kind: int, vlen: int, kflag: bool) -> int:
    """Pack `btf_type.info`: vlen in bits 0-23, kind in 24-30, kflag in 31."""
    return (int(kflag) << 31) | (kind << 24) | vlen


def unpack_info(info: int) -> tuple[int, int, bool]:
    """Unpack `btf_type.info` into (kind, vlen, kflag), 2026 widths.

    Pre-2026 kernels use 5 kind bits and 16 vlen bits and require the bits in
    between to be zero; the verifier checks that against its target profile.
    """
    return (info >> 24) & 0x7F, info & 0xFFFFFF, bool(info >> 31)
