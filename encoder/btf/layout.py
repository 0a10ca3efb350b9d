"""Strip the 2026 layout section, for kernels and tools that predate it.

A kernel before the layout series refuses a header longer than 24 bytes
with non-zero fields past it ("Unsupported btf_header"), so BTF written
with `--btf_features=layout` (or Linux 7.1's own vmlinux BTF) cannot be
loaded there.  The layout only describes kinds; dropping it and going back
to the 24-byte header keeps every type and string byte as it was.  libbpf
does the same when its FEAT_BTF_LAYOUT probe fails.

This works on the bytes, so split BTF needs no base.  BTF with a kind the
format does not know is refused: without the layout nobody could skip it.
"""

from __future__ import annotations

from ..errors import BtfError
from .kinds import HEADER_LEN, LAYOUT
from .wire import Header, parse_header, parse_layout, split_records, words_of


def has_layout(data: bytes) -> bool:
    """True when the blob carries a layout section or a header longer than 24 bytes."""
    h = parse_header(data)
    return h.hdr_len > HEADER_LEN or bool(h.layout_len)


def strip_layout(data: bytes) -> bytes:
    """The same BTF with a 24-byte header, types, strings, and no layout."""
    try:
        h = parse_header(data)
    except BtfError as e:
        raise e.located(section="header")
    types_at = h.hdr_len + h.type_off
    strings_at = h.hdr_len + h.str_off
    try:
        records = split_records(words_of(data, types_at, h.type_len, h.endian),
                                parse_layout(data, h))
    except BtfError as e:
        raise e.located(section="type section", offset=0).moved(types_at)
    for r in records:
        if r.kind >= len(LAYOUT):
            raise BtfError(f"kind {r.kind} is only described by the layout section; "
                           f"it cannot be stripped", section="type section",
                           offset=types_at + r.offset)
    types = bytes(data[types_at:types_at + h.type_len])
    strings = bytes(data[strings_at:strings_at + h.str_len])
    out = Header(HEADER_LEN, 0, len(types), len(types), len(strings), flags=h.flags,
                 version=h.version, endian=h.endian)
    return out.pack() + types + strings
