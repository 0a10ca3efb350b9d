"""Raw BTF blobs word by word, for shapes the model cannot express.

Numbers from include/uapi/linux/btf.h.  `blob()` lays out a 24-byte header,
the type section and the string section exactly as given: nothing is
checked, so a record may claim more than follows it.
"""

from __future__ import annotations

import struct

INT, PTR, ARRAY, STRUCT, UNION, ENUM, FWD, TYPEDEF, VOLATILE, CONST = range(1, 11)
FUNC, FUNC_PROTO, VAR, DATASEC = 12, 13, 14, 15


def info(kind: int, vlen: int = 0, kflag: bool = False) -> int:
    return (int(kflag) << 31) | (kind << 24) | vlen


def int_type(name_off: int, size: int = 4, bits: int = 32, signed: bool = True) -> list[int]:
    return [name_off, info(INT), size, (int(signed) << 24) | bits]


def ref(kind: int, target: int, name_off: int = 0) -> list[int]:
    """PTR, TYPEDEF, VOLATILE, CONST, RESTRICT: one word of reference."""
    return [name_off, info(kind), target]


def struct_type(name_off: int, size: int, members: list[tuple[int, int, int]],
                vlen: int | None = None) -> list[int]:
    """members: (name_off, type, bit offset); `vlen` may lie about their number."""
    words = [name_off, info(STRUCT, len(members) if vlen is None else vlen), size]
    for m in members:
        words += list(m)
    return words


def blob(types: list[list[int]], strings: bytes = b"\0", *, hdr: dict | None = None) -> bytes:
    """Header + type words + strings; `hdr` overrides header fields by name
    (hdr_len, type_off, type_len, str_off, str_len)."""
    body = b"".join(struct.pack(f"<{len(t)}I", *t) for t in types)
    fields = dict(hdr_len=24, type_off=0, type_len=len(body), str_off=len(body),
                  str_len=len(strings))
    fields.update(hdr or {})
    head = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, fields["hdr_len"], fields["type_off"],
                       fields["type_len"], fields["str_off"], fields["str_len"])
    return head + body + strings


def chain(kind: int, depth: int, *, named: bool = False) -> bytes:
    """[1] -> [2] -> ... -> [depth] -> [depth+1] int: each type refers to the
    next id, so resolving [1] walks the whole chain at once (the kernel gives
    up past MAX_RESOLVE_DEPTH, 32)."""
    strings = b"\0int\0t\0"
    types = [ref(kind, k + 2, 5 if named else 0) for k in range(depth)]
    types.append(int_type(1))
    return blob(types, strings)


def nested_structs(depth: int) -> bytes:
    """struct s1 { struct s2 m; } ... struct s_depth { int m; }: by value, each
    refers to the next id."""
    strings = b"\0int\0s\0m\0"
    types = [struct_type(5, 4, [(7, k + 2, 0)]) for k in range(depth)]
    types.append(int_type(1))
    return blob(types, strings)
