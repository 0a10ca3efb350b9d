"""Read BTF bytes, raw files, and the `.BTF`/`.BTF.base` sections of ELF files.

Parsing is as lenient as libbpf's (so we can read and dump what other tools
wrote, including blobs the kernel would refuse); strictness is the
verifier's job.  A kind this reader does not know is skipped with the blob's
layout section and kept as `Unknown`.
"""

from __future__ import annotations

import array
from collections.abc import Sequence
from pathlib import Path
from typing import Callable

from ..errors import BtfError, Dwarf2BtfError, ElfError
from .kinds import (LAYOUT, MAX_NAME_OFFSET, FuncLinkage, IntEncoding,
                    Kind, VarLinkage)
from .model import (Array, Btf, Const, Datasec, DeclTag, Enum, Enum64, EnumValue,
                    Float, Func, FuncProto, Fwd, Int, Member, Param, Ptr, Restrict,
                    Struct, Type, Typedef, TypeTag, Union, Unknown, Var, VarSecinfo,
                    Volatile)
from .strings import StringTable
from .wire import RawType, parse_header, parse_layout, split_records, words_of

ELF_MAGIC = b"\x7fELF"


def _s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


def _enum_value(v: int, signed: bool, bits: int) -> int:
    return v - (1 << bits) if signed and v >> (bits - 1) else v


_MEMBERS: dict = {}


def _named(enum_cls, v: int):
    """The enum member of value `v`, else `v` itself (looked up, not
    constructed: a vmlinux has ~100 k of these)."""
    members = _MEMBERS.setdefault(enum_cls, {})
    got = members.get(v)
    if got is None:
        try:
            got = enum_cls(v)
        except ValueError:
            got = v
        members[v] = got
    return got


def decode(r: RawType, name: str, s: Callable[[int], str]) -> Type:
    """Turn one raw record into its model class; `s` resolves string offsets."""
    kind, vlen, kflag, ref, tail = r.kind, r.vlen, r.kflag, r.size_type, r.tail
    if kind == Kind.INT:
        v = tail[0]
        return Int(name, ref, v & 0xFF, _named(IntEncoding, (v >> 24) & 0x0F), (v >> 16) & 0xFF)
    if kind == Kind.PTR:
        return Ptr(ref, name)
    if kind == Kind.ARRAY:
        return Array(tail[0], tail[1], tail[2], name)
    if kind in (Kind.STRUCT, Kind.UNION):
        cls = Struct if kind == Kind.STRUCT else Union
        if kflag:
            members = [Member(s(tail[i]), tail[i + 1], tail[i + 2] & 0xFFFFFF, tail[i + 2] >> 24)
                       for i in range(0, 3 * vlen, 3)]
        else:
            members = [Member(s(tail[i]), tail[i + 1], tail[i + 2])
                       for i in range(0, 3 * vlen, 3)]
        return cls(name, ref, members, kflag)
    if kind == Kind.ENUM:
        return Enum(name, ref, [EnumValue(s(tail[i]), _enum_value(tail[i + 1], kflag, 32))
                                for i in range(0, 2 * vlen, 2)], kflag)
    if kind == Kind.ENUM64:
        return Enum64(name, ref, [EnumValue(s(tail[i]),
                                            _enum_value(tail[i + 1] | tail[i + 2] << 32, kflag, 64))
                                  for i in range(0, 3 * vlen, 3)], kflag)
    if kind == Kind.FWD:
        return Fwd(name, kflag)
    if kind == Kind.TYPEDEF:
        return Typedef(name, ref)
    if kind == Kind.VOLATILE:
        return Volatile(ref, name)
    if kind == Kind.CONST:
        return Const(ref, name)
    if kind == Kind.RESTRICT:
        return Restrict(ref, name)
    if kind == Kind.FUNC:
        return Func(name, ref, _named(FuncLinkage, vlen))
    if kind == Kind.FUNC_PROTO:
        return FuncProto(ref, [Param(s(tail[i]), tail[i + 1]) for i in range(0, 2 * vlen, 2)], name)
    if kind == Kind.VAR:
        return Var(name, ref, _named(VarLinkage, tail[0]))
    if kind == Kind.DATASEC:
        return Datasec(name, ref, [VarSecinfo(tail[i], tail[i + 1], tail[i + 2])
                                   for i in range(0, 3 * vlen, 3)])
    if kind == Kind.FLOAT:
        return Float(name, ref)
    if kind == Kind.DECL_TAG:
        return DeclTag(name, ref, _s32(tail[0]), kflag)
    if kind == Kind.TYPE_TAG:
        return TypeTag(name, ref, kflag)
    return Unknown(kind, name, vlen, kflag, ref, tail.tobytes())


def check_strings(raw: bytes, split: bool) -> None:
    """libbpf's string-section rules: base starts with "", all NUL-terminated."""
    if not split and (not raw or raw[0]):
        raise BtfError("string section of base BTF must start with an empty string")
    if raw and raw[-1]:
        raise BtfError("string section is not NUL-terminated")
    if len(raw) - 1 > MAX_NAME_OFFSET:
        raise BtfError(f"string section of {len(raw)} bytes is too large")


class LazyTypes(Sequence):
    """The types of a blob already known to parse, decoded when asked for.

    `starts[i]` is the word where record i starts in `words`.  Only for
    blobs that parsed whole before (basecache.py keeps `starts` beside the
    blob's other derived data): a record here is not checked again."""

    def __init__(self, words: array.array, starts: array.array, get: Callable[[int], str]):
        self._words = words
        self._starts = starts
        self._get = get
        self._done: dict[int, Type] = {}

    def __len__(self) -> int:
        return len(self._starts)

    def __getitem__(self, i):
        if i.__class__ is slice:
            return [self[j] for j in range(*i.indices(len(self._starts)))]
        t = self._done.get(i)
        if t is None:
            if i < 0:
                i += len(self._starts)
            words, start = self._words, self._starts[i]
            end = self._starts[i + 1] if i + 1 < len(self._starts) else len(words)
            r = RawType(start * 4, words[start], words[start + 1], words[start + 2],
                        words[start + 3:end])
            t = self._done[i] = decode(r, self._get(r.name_off), self._get)
        return t


def record_starts(btf: Btf) -> array.array:
    """Where each of `btf`'s own records starts, in words (for LazyTypes),
    from the blob it was read from."""
    data = btf.source[0]
    h = parse_header(data)
    words = words_of(data, h.hdr_len + h.type_off, h.type_len, h.endian)
    return array.array("I", [r.offset // 4 for r in split_records(words, parse_layout(data, h))])


def parse(data: bytes, *, base: Btf | None = None, known_kinds: int = len(LAYOUT),
          starts: array.array | None = None) -> Btf:
    """Parse a BTF blob (split BTF when `base` is given) into the model.

    Errors name the part of the blob (header, string or type section) and the
    byte offset from the blob's start.
    """
    try:
        h = parse_header(data)
        layout = parse_layout(data, h)
    except BtfError as e:
        raise e.located(section="header")
    str_start = h.hdr_len + h.str_off
    raw_strings = bytes(data[str_start:str_start + h.str_len])
    try:
        check_strings(raw_strings, base is not None)
    except BtfError as e:
        raise e.located(section="string section", offset=str_start)
    strings = StringTable(raw_strings, base=base.strings if base is not None else None)
    type_start = h.hdr_len + h.type_off
    if h.type_len % 4:
        raise BtfError("type section length is not a multiple of 4",
                       section="header", offset=12)
    words = words_of(data, type_start, h.type_len, h.endian)
    get = strings.get
    if starts is not None:
        return _built(data, LazyTypes(words, starts, get), strings, base, h, layout)
    try:
        records = split_records(words, layout, known_kinds)
    except BtfError as e:
        raise e.located(section="type section", offset=0).moved(type_start)
    types: list[Type] = []
    first_id = base.type_count if base is not None else 1
    for r in records:
        try:
            types.append(decode(r, get(r.name_off), get))
        except BtfError as e:
            raise BtfError(f"type [{first_id + len(types)}]: {e.what}",
                           section="type section", offset=type_start + r.offset) from None
    return _built(data, types, strings, base, h, layout)


def _built(data: bytes, types, strings: StringTable, base: Btf | None, h, layout) -> Btf:
    btf = Btf(types, strings=strings, base=base, hdr_len=h.hdr_len, layout=layout,
              endian=h.endian)
    # the blob as read, while the model still says the same (verifier.py
    # indexes a base from it instead of writing the base again)
    btf.source = (bytes(data), len(types), strings.end)
    return btf


def read_sections(path: str | Path) -> tuple[bytes, bytes | None, str | None]:
    """(.BTF bytes, .BTF.base bytes or None, section name or None for raw files)."""
    with open(path, "rb") as f:
        if f.read(4) != ELF_MAGIC:
            f.seek(0)
            return f.read(), None, None
    from ..elf.sections import section_bytes
    try:
        found = section_bytes(path, (".BTF", ".BTF.base"))
    except OSError as e:        # the file opened: pyelftools seeked where a header lies
        raise ElfError(f"malformed ELF: a header points outside the file ({e.strerror})",
                       file=str(path)) from None
    if ".BTF" not in found:
        raise BtfError("no .BTF section in this ELF file")
    return found[".BTF"], found.get(".BTF.base"), ".BTF"


def sections_of(path: str) -> tuple[bytes, bytes | None, str | None]:
    """`read_sections`, its errors naming the file."""
    try:
        return read_sections(path)
    except OSError as e:
        raise Dwarf2BtfError(f"cannot read: {e.strerror}", file=path) from None
    except BtfError as e:
        raise e.located(file=path)


def load(path: str | Path, *, base: Btf | None = None) -> Btf:
    """Load BTF from a raw file or an ELF file's `.BTF`.

    An ELF file's own `.BTF.base` (distilled base) is its base unless one is
    given, as libbpf does since 1.5.
    """
    path = str(path)
    return from_sections(path, *sections_of(path), base=base)


def from_sections(path: str, btf_bytes: bytes, base_bytes: bytes | None,
                  section: str | None, *, base: Btf | None = None) -> Btf:
    """`load` once the sections are read (`sections_of`)."""
    if base is None and base_bytes is not None:
        try:
            base = parse(base_bytes)
        except BtfError as e:
            raise e.within(file=path, section=".BTF.base")
    try:
        return parse(btf_bytes, base=base)
    except BtfError as e:
        raise e.within(file=path, section=section)

