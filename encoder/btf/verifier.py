"""Check BTF bytes against the rules a kernel applies when it loads them.

A BTF the kernel refuses is worse than none: the module fails to load, or
the BPF program with it.  So before we ship a blob we run the kernel's own
checks on it, in the kernel's order, and stop at the first violation with
the kernel's wording (kernel/bpf/btf.c), the type it concerns, and the byte
offset of the offending record in the blob.

The kernel verifies in passes, and so do we:

1. the header and the layout of its sections (`btf_parse_hdr`);
2. the string section (`btf_parse_str_sec`), and the layout section where
   the target kernel knows one;
3. every record on its own, in id order (`btf_check_all_metas`): kind, names,
   flags, sizes, the shape of members and entries;
4. only for BTF loaded with BPF_BTF_LOAD (`resolve=True`): the resolve pass
   (`btf_check_all_types`), a depth-first walk over the references that
   finds loops, sizes every member, argument and variable, and checks that
   each fits where it is put.  vmlinux and module BTF skip it, so for them
   (`resolve=False`) we only check that every reference names a type that
   exists, which the kernel does not check for them;
5. type tags must come before any other modifier in a chain
   (`btf_check_type_tags`), which the kernel runs for every kind of BTF.

What the kernel accepts changed over the years (new kinds, kind_flag on
tags, longer names, dots in names, the layout section, wider `info`); a
`Profile` names the target kernel and `PROFILES` holds the ones we know.
"""

from __future__ import annotations

import array
import functools
import re
import struct
from typing import NamedTuple

from ..errors import BtfError, BtfInvalid
from ..record import record
from .kinds import (HEADER_LEN, HEADER_LEN_LAYOUT, MAGIC, MAX_NAME_OFFSET,
                    MAX_RESOLVE_DEPTH, MAX_SIZE, MAX_TYPE, TYPE_HEADER_LEN, VERSION, Kind)
from .perbase import PerBase
from .wire import endian_of, parse_header, parse_layout, split_records, words_of

try:
    from . import _cverify
except ImportError:          # pragma: no cover - no C compiler at install time
    _cverify = None


@record(frozen=True)
class Profile:
    """What one kernel release accepts."""
    name: str
    max_kind: int             # the highest kind it knows
    max_vlen: int             # vlen bits: 0xffff with the classic `info`
    tag_kflag: bool           # kind_flag allowed on DECL_TAG and TYPE_TAG
    layout: bool              # knows the 32-byte header and the layout section
    ksym_name_len: int        # KSYM_NAME_LEN: the longest name
    wide_info: bool           # 7-bit kind, 24-bit vlen, no reserved info bits
    dotted_names: bool = True         # '.' allowed in identifiers (6.5)
    printable_sections: bool = True   # any printable DATASEC name (6.9)
    func_global: bool = True          # FUNC linkage GLOBAL known (5.6)


def _profiles(*ps: Profile) -> dict[str, Profile]:
    return {p.name: p for p in ps}


# Versions from kernel commits: FLOAT 5.13, DECL_TAG 5.16, TYPE_TAG 5.17,
# ENUM64 6.0, KSYM_NAME_LEN 512 in 6.1, dots in names 6.5 (Florent Revest,
# backported to stable), printable DATASEC names 6.9 (bd70a8fb7ca4), tag
# kind_flag 2025, layout section 7.1, wide `info` 2026.  Point releases are
# modelled as released, so a stable backport is not assumed.
PROFILES: dict[str, Profile] = _profiles(
    Profile("latest", Kind.ENUM64, 0xFFFFFF, True, True, 512, True),
    Profile("7.1", Kind.ENUM64, 0xFFFF, True, True, 512, False),
    Profile("6.18", Kind.ENUM64, 0xFFFF, True, False, 512, False),
    Profile("6.12", Kind.ENUM64, 0xFFFF, False, False, 512, False),
    Profile("6.6", Kind.ENUM64, 0xFFFF, False, False, 512, False,
            printable_sections=False),
    Profile("6.1", Kind.ENUM64, 0xFFFF, False, False, 512, False,
            dotted_names=False, printable_sections=False),
    Profile("5.15", Kind.FLOAT, 0xFFFF, False, False, 128, False,
            dotted_names=False, printable_sections=False),
    Profile("5.10", Kind.DATASEC, 0xFFFF, False, False, 128, False,
            dotted_names=False, printable_sections=False),
    Profile("5.4", Kind.DATASEC, 0xFFFF, False, False, 128, False,
            dotted_names=False, printable_sections=False, func_global=False),
)


class Summary(NamedTuple):
    """What a successful verification saw."""
    profile: str
    types: int        # own types, not counting the base's
    first_id: int     # id of the first own type
    resolved: bool    # whether the resolve pass ran


def verify_bytes(data: bytes, *, base=None, profile: Profile = PROFILES["latest"],
                 resolve: bool = True, source: str | None = None,
                 section: str | None = None, ptr_size: int = 8) -> Summary:
    """Verify one BTF blob; BtfInvalid at the first rule it breaks.

    `base` (a `Btf`, or the bytes of a base BTF) makes `data` split BTF.
    `resolve` runs the pass the kernel runs for BPF_BTF_LOAD only; the
    module/vmlinux path skips it.  `ptr_size` is the target's pointer size.
    """
    try:
        return _Verifier(data, base, profile, resolve, ptr_size).run()
    except BtfError as e:
        raise e.located(file=source, section=section)


# --- the kinds, as the kernel groups them -----------------------------------

KIND_NAMES = ("UNKNOWN", "INT", "PTR", "ARRAY", "STRUCT", "UNION", "ENUM", "FWD",
              "TYPEDEF", "VOLATILE", "CONST", "RESTRICT", "FUNC", "FUNC_PROTO",
              "VAR", "DATASEC", "FLOAT", "DECL_TAG", "TYPE_TAG", "ENUM64")
_NKINDS = 128


def _kind_set(*kinds: int) -> tuple[bool, ...]:
    return tuple(k in kinds for k in range(_NKINDS))


K = Kind
IS_MODIFIER = _kind_set(K.TYPEDEF, K.VOLATILE, K.CONST, K.RESTRICT, K.TYPE_TAG)
NEEDS_RESOLVE = _kind_set(K.TYPEDEF, K.VOLATILE, K.CONST, K.RESTRICT, K.TYPE_TAG,
                          K.PTR, K.STRUCT, K.UNION, K.ARRAY, K.VAR, K.FUNC,
                          K.DECL_TAG, K.DATASEC)
HAS_SIZE = _kind_set(K.INT, K.STRUCT, K.UNION, K.ENUM, K.DATASEC, K.FLOAT, K.ENUM64)
NO_SIZE = _kind_set(K.UNKN, K.FWD, K.FUNC, K.FUNC_PROTO, K.DECL_TAG)  # UNKN is void
SOURCE_ONLY = _kind_set(K.VAR, K.DECL_TAG, K.DATASEC)
DECL_TAG_TARGET = _kind_set(K.FUNC, K.STRUCT, K.UNION, K.VAR, K.TYPEDEF)
IS_STRUCT = _kind_set(K.STRUCT, K.UNION)
SINGLE_REF = _kind_set(K.PTR, K.TYPEDEF, K.VOLATILE, K.CONST, K.RESTRICT, K.FUNC, K.VAR,
                       K.DECL_TAG, K.TYPE_TAG)
MULTI_REF = _kind_set(K.ARRAY, K.STRUCT, K.UNION, K.FUNC_PROTO, K.DATASEC)

# Resolve modes (env->resolve_mode): what ends a walk.
_TBD, _PTR, _AGGR = 0, 1, 2
# Visit states.
_NEW, _VISITED, _RESOLVED = 0, 1, 2
# Why a push failed.
_E2BIG, _EEXIST = 1, 2

U32 = 0xFFFFFFFF
BTF_INFO_MASK = 0x9F00FFFF
BTF_INT_MASK = 0x0FFFFFFF
INT_ENCODINGS = (0, 1, 2, 4)

# Names, as the kernel's ctype sees bytes (Latin-1 letters are letters,
# bytes 0x80-0x9f are control characters).
_ALPHA = rb"A-Za-z_\xc0-\xd6\xd8-\xff"
_IDENT = re.compile(rb"[%s][%s0-9]*" % (_ALPHA, _ALPHA))
_IDENT_DOT = re.compile(rb"[%s.][%s0-9.]*" % (_ALPHA, _ALPHA))
_PRINTABLE = re.compile(rb"[\x20-\x7e\xa0-\xff]+")


def _roundup_bytes(bits: int) -> int:
    return (bits + 7) >> 3


def _s32(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


def _section_order(x: tuple, y: tuple) -> int:
    """btf_sec_info_cmp: by offset, then length, each as a signed 32-bit
    difference, so an offset near 4 GiB sorts first as in the kernel."""
    return _s32((x[0] - y[0]) & U32) or _s32((x[1] - y[1]) & U32)


class _Header(NamedTuple):
    endian: str
    hdr_len: int
    type_off: int
    type_len: int
    str_off: int
    str_len: int
    layout_off: int
    layout_len: int


# --- the verifier -------------------------------------------------------------

class _Verifier:
    """One run over one blob; state lives here so each pass is a method.

    Types are kept in flat per-id lists (`kind`, `info`, `st` for size/type,
    `tail` for the index of the record's trailing words in `words`, `rec` for
    the record's offset in the blob), base types first, so the passes work on
    ids as the kernel does.
    """

    def __init__(self, data: bytes, base, profile: Profile, resolve: bool, ptr_size: int):
        self.data = data
        self.p = profile
        self.resolve = resolve
        self.ptr_size = ptr_size
        self.vmask = profile.max_vlen
        self.kmask = 0x7F if profile.wide_info else 0x1F
        self.ksym = profile.ksym_name_len
        self.ident_re = _IDENT_DOT if profile.dotted_names else _IDENT
        self.split = base is not None
        words, strings, columns = _base_columns(base) if base is not None else (
            array.array("I"), b"", ([0], [0], [0], [0], [0], [-1]))
        # the type words and per-id columns, base types first: split types
        # are appended to them
        self._base = (words, columns)
        self.words, (self.kind, self.name, self.info, self.st, self.tail, self.rec) = \
            _lend(words, columns)
        self.start_id = len(self.kind) if self.split else 1
        self.strs = strings
        self._names: dict[tuple[int, int], bool] = {}
        self._idents: set[int] | None = None
        self.own_strs = 0

    # -- reporting ---------------------------------------------------------

    def fail(self, reason: str, offset: int | None) -> BtfInvalid:
        return BtfInvalid(reason, offset=offset)

    def where(self, tid: int) -> str:
        """`[id] KIND name`, as the kernel's log starts a line about a type."""
        k = self.kind[tid]
        kind = KIND_NAMES[k] if k < len(KIND_NAMES) else f"kind {k}"
        return f"[{tid}] {kind} {self.display(self.name[tid])}"

    def type_fail(self, tid: int, reason: str) -> BtfInvalid:
        return self.fail(f"{self.where(tid)}: {reason}", self.rec_offset(tid))

    def rec_offset(self, tid: int) -> int | None:
        off = self.rec[tid] if tid < len(self.rec) else -1
        return off if off >= 0 else None

    def display(self, off: int) -> str:
        if not off:
            return "(anon)"
        if not self.offset_ok(off):
            return "(invalid-name-offset)"
        name = self.string(off).decode("utf-8", "backslashreplace")
        if not name.isprintable():      # the message must stay one line
            name = "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)
        return name if len(name) <= 64 else name[:61] + "..."

    # -- strings -----------------------------------------------------------

    def offset_ok(self, off: int) -> bool:
        return off <= MAX_NAME_OFFSET and off < len(self.strs)

    def string(self, off: int) -> bytes:
        end = self.strs.find(b"\0", off)
        return self.strs[off:end] if end >= 0 else self.strs[off:]

    def name_ok(self, off: int, rule: int) -> bool:
        """Identifier (rule 0), variable (1) or section (2) name at `off`."""
        key = (off, rule)
        ok = self._names.get(key)
        if ok is None:
            s = self.string(off)
            if rule == 2 and self.p.printable_sections:
                pattern = _PRINTABLE
            elif rule == 0:
                pattern = self.ident_re
            else:
                pattern = _IDENT_DOT
            ok = self._names[key] = len(s) <= self.ksym and pattern.fullmatch(s) is not None
        return ok

    def ident_ok(self, off: int) -> bool:
        idents = self._idents
        if idents is None:
            idents = self._idents = self._ident_offsets()
        return off in idents or self.name_ok(off, 0)

    def _ident_offsets(self) -> set[int]:
        """The offsets of the whole strings that are valid identifiers, by
        one regex pass over the section (a name per type and member is
        most of the checks); any other offset, a base's included, takes
        name_ok's way."""
        token = re.compile(rb"(?:(%s)|[^\0]*)\0" % self.ident_re.pattern)
        ksym = self.ksym
        return {m.start() for m in token.finditer(self.strs, self.own_strs)
                if m.end(1) >= 0 and m.end() - m.start() <= ksym + 1}

    # -- the passes ----------------------------------------------------------

    def run(self) -> Summary:
        data = self.data
        if self.resolve and len(data) > MAX_SIZE:
            raise self.fail(f"BTF of {len(data)} bytes is larger than BTF_MAX_SIZE "
                            f"({MAX_SIZE} bytes)", 0)
        h = self.check_header()
        self.check_strings(h)
        if self.p.layout:
            self.check_layout(h)
        if not self.resolve:
            n = self.accept_compiled(h)
            if n >= 0:
                return Summary(self.p.name, n, self.start_id, False)
        self.check_metas(h)
        if self.resolve:
            self.check_all_types()
        else:
            self.check_references()
        self.check_type_tags()
        _give_back(self._base, self.words,
                   (self.kind, self.name, self.info, self.st, self.tail, self.rec))
        return Summary(self.p.name, len(self.kind) - self.start_id, self.start_id, self.resolve)

    def check_header(self) -> _Header:
        """btf_parse_hdr and btf_check_sec_info: the sections tile the data."""
        data = self.data
        size = len(data)
        known = HEADER_LEN_LAYOUT if self.p.layout else HEADER_LEN
        if size < 8:
            raise self.fail("hdr_len not found", 0)
        endian = endian_of(data) or "<"
        hdr_len = struct.unpack_from(endian + "I", data, 4)[0]
        if size < hdr_len:
            raise self.fail("btf_header not found", 4)
        if hdr_len > known:
            extra = data[known:hdr_len]
            if any(extra):
                first = next(i for i, b in enumerate(extra) if b)
                raise self.fail("Unsupported btf_header", known + first)
        raw = data[:min(hdr_len, known)].ljust(HEADER_LEN_LAYOUT, b"\0")
        magic, version, flags, hdr_len, type_off, type_len, str_off, str_len, \
            layout_off, layout_len = struct.unpack(endian + "HBBIIIIIII", raw)
        if magic != MAGIC:
            raise self.fail("Invalid magic", 0)
        if version != VERSION:
            raise self.fail("Unsupported version", 2)
        if flags:
            raise self.fail("Unsupported flags", 3)
        if not self.split and size == hdr_len:
            raise self.fail("No data", 4)
        h = _Header(endian, hdr_len, type_off, type_len, str_off, str_len,
                    layout_off, layout_len)
        self.check_sections(h)
        return h

    def check_sections(self, h: _Header) -> None:
        """The sections must follow each other from the header to the end."""
        secs = [(h.type_off, h.type_len, 8), (h.str_off, h.str_len, 16)]
        if self.p.layout and h.hdr_len >= HEADER_LEN_LAYOUT and h.layout_len:
            secs.append((h.layout_off, h.layout_len, 24))
        secs.sort(key=functools.cmp_to_key(_section_order))
        expected = len(self.data) - h.hdr_len
        total = 0
        for off, length, field in secs:
            if expected < off:
                raise self.fail("Invalid section offset", field)
            if total < off:
                raise self.fail("Unsupported section found", field)
            if total > off:
                raise self.fail("Section overlap found", field)
            if expected - total < length:
                raise self.fail("Total section length too long", field + 4)
            total += length
        if expected != total:
            raise self.fail("Unsupported section found", h.hdr_len + total)

    def check_strings(self, h: _Header) -> None:
        """btf_parse_str_sec: NUL first (base) and last, strings at the end."""
        start = h.hdr_len + h.str_off
        end = start + h.str_len
        strings_last = h.hdr_len < HEADER_LEN_LAYOUT or not self.p.layout
        if strings_last and end != len(self.data):
            raise self.fail("String section is not at the end", 16)
        raw = self.data[start:end]
        if not (self.split and not h.str_len):
            if not h.str_len or h.str_len - 1 > MAX_NAME_OFFSET or raw[-1]:
                raise self.fail("Invalid string section", start)
            if not self.split and raw[0]:
                raise self.fail("Invalid string section", start)
        self.own_strs = len(self.strs)      # a split's own strings start here
        self.strs = self.strs + bytes(raw)

    def check_layout(self, h: _Header) -> None:
        """btf_parse_layout_sec: the kernel checks the section's shape only."""
        if h.hdr_len < HEADER_LEN_LAYOUT or not h.layout_len:
            return
        if h.layout_off & 3:
            raise self.fail("Unaligned layout_off", 24)
        if h.layout_len < 4:
            raise self.fail("Layout section is too small", 28)
        if h.layout_len % 4:
            raise self.fail("layout_len is not multiple of 4", 28)
        if h.hdr_len + h.layout_off + h.layout_len > len(self.data):
            raise self.fail("Layout section is too big", 28)

    def accept_compiled(self, h: _Header) -> int:
        """Passes 3-5 of module and vmlinux BTF by _cverify.c: the number of
        own types if it finds every rule kept, else -1 (and these passes,
        run next, say which rule is broken)."""
        if _cverify is None or h.type_off & 3 or (not self.split and not h.type_len):
            return -1
        p = self.p
        n = _cverify.accept(words_of(self.data, h.hdr_len + h.type_off, h.type_len, h.endian),
                            self.strs, self.start_id, self.kind, h.type_len,
                            (p.max_kind, p.max_vlen, p.tag_kflag, p.ksym_name_len,
                             p.wide_info, p.dotted_names, p.printable_sections,
                             p.func_global))
        if n >= 0:
            _give_back(self._base, self.words,
                       (self.kind, self.name, self.info, self.st, self.tail, self.rec))
        return n

    # -- pass 3: each record on its own --------------------------------------

    def check_metas(self, h: _Header) -> None:
        """btf_check_all_metas: walk the records, each checked by its kind."""
        if h.type_off & 3:
            raise self.fail("Unaligned type_off", 8)
        if not self.split and not h.type_len:
            raise self.fail("No type found", 12)
        base_words = len(self.words)
        self.words.extend(words_of(self.data, h.hdr_len + h.type_off, h.type_len, h.endian))
        w = self.words
        sec_start = h.hdr_len + h.type_off
        left_bytes = h.type_len
        kind_l, name_l, info_l, st_l, tail_l, rec_l = (
            self.kind, self.name, self.info, self.st, self.tail, self.rec)
        vmask, kmask, wide, max_kind = self.vmask, self.kmask, self.p.wide_info, self.p.max_kind
        checks = self._meta_checks()
        i = base_words
        tid = self.start_id
        while left_bytes > 0:
            rec = sec_start + (i - base_words) * 4
            if left_bytes < TYPE_HEADER_LEN:
                raise self.fail(f"[{tid}] meta_left:{left_bytes} meta_needed:"
                                f"{TYPE_HEADER_LEN}", rec)
            name_off, info, st = w[i], w[i + 1], w[i + 2]
            if not wide and info & ~BTF_INFO_MASK & U32:
                raise self.fail(f"[{tid}] Invalid btf_info:{info:x}", rec)
            kind = (info >> 24) & kmask
            if kind > max_kind or kind == 0:
                raise self.fail(f"[{tid}] Invalid kind:{kind}", rec)
            if not self.offset_ok(name_off):
                raise self.fail(f"[{tid}] Invalid name_offset:{name_off}", rec)
            kind_l.append(kind)
            name_l.append(name_off)
            info_l.append(info)
            st_l.append(st)
            tail_l.append(i + 3)
            rec_l.append(rec)
            left_bytes -= TYPE_HEADER_LEN
            n = checks[kind](tid, i + 3, info & vmask, info >> 31, st, left_bytes)
            if tid >= MAX_TYPE:
                raise self.fail("Exceeded max num of types", rec)
            left_bytes -= 4 * n
            i += 3 + n
            tid += 1

    def _meta_checks(self):
        """The check_meta of each kind, by kind number.

        Each is called as `check(tid, at, vlen, kflag, size_or_type, left)`
        with `at` the index of the record's trailing words and `left` the
        bytes after its struct btf_type, and returns how many words it has.
        """
        table = [None] * _NKINDS
        for kinds, fn in (((K.INT,), self.meta_int),
                          ((K.PTR, K.TYPEDEF, K.VOLATILE, K.CONST, K.RESTRICT,
                            K.TYPE_TAG), self.meta_ref),
                          ((K.ARRAY,), self.meta_array),
                          ((K.STRUCT, K.UNION), self.meta_struct),
                          ((K.ENUM,), self.meta_enum),
                          ((K.ENUM64,), self.meta_enum64),
                          ((K.FWD,), self.meta_fwd),
                          ((K.FUNC,), self.meta_func),
                          ((K.FUNC_PROTO,), self.meta_func_proto),
                          ((K.VAR,), self.meta_var),
                          ((K.DATASEC,), self.meta_datasec),
                          ((K.FLOAT,), self.meta_float),
                          ((K.DECL_TAG,), self.meta_decl_tag)):
            for k in kinds:
                table[k] = fn
        return table

    def need(self, tid: int, left: int, needed: int) -> None:
        """The record's trailing data must fit in the type section."""
        if left < needed:
            raise self.type_fail(tid, f"meta_left:{left} meta_needed:{needed}")

    def no_vlen(self, tid: int, vlen: int) -> None:
        if vlen:
            raise self.type_fail(tid, "vlen != 0")

    def no_kflag(self, tid: int, kflag: int) -> None:
        if kflag:
            raise self.type_fail(tid, "Invalid btf_info kind_flag")

    def meta_int(self, tid, at, vlen, kflag, size, left) -> int:
        self.need(tid, left, 4)
        self.no_vlen(tid, vlen)
        self.no_kflag(tid, kflag)
        data = self.words[at]
        if data & ~BTF_INT_MASK & U32:
            raise self.type_fail(tid, f"Invalid int_data:{data:x}")
        nr_bits = (data & 0xFF) + ((data >> 16) & 0xFF)
        if nr_bits > 128:
            raise self.type_fail(tid, "nr_bits exceeds 128")
        if _roundup_bytes(nr_bits) > size:
            raise self.type_fail(tid, "nr_bits exceeds type_size")
        if (data >> 24) & 0x0F not in INT_ENCODINGS:
            raise self.type_fail(tid, "Unsupported encoding")
        return 1

    def meta_ref(self, tid, at, vlen, kflag, ref, left) -> int:
        """PTR, TYPEDEF, the qualifiers and TYPE_TAG: one reference, no data."""
        kind = self.kind[tid]
        self.no_vlen(tid, vlen)
        if kflag and not (kind == K.TYPE_TAG and self.p.tag_kflag):
            raise self.type_fail(tid, "Invalid btf_info kind_flag")
        if ref > MAX_TYPE:
            raise self.type_fail(tid, "Invalid type_id")
        name = self.name[tid]
        if kind == K.TYPEDEF:
            ok = name and self.ident_ok(name)
        elif kind == K.TYPE_TAG:
            ok = bool(self.string(name))
        else:
            ok = not name
        if not ok:
            raise self.type_fail(tid, "Invalid name")
        return 0

    def meta_array(self, tid, at, vlen, kflag, size, left) -> int:
        self.need(tid, left, 12)
        if self.name[tid]:
            raise self.type_fail(tid, "Invalid name")
        self.no_vlen(tid, vlen)
        self.no_kflag(tid, kflag)
        if size:
            raise self.type_fail(tid, "size != 0")
        elem, index = self.words[at], self.words[at + 1]
        if not elem or elem > MAX_TYPE:
            raise self.type_fail(tid, "Invalid elem")
        if not index or index > MAX_TYPE:
            raise self.type_fail(tid, "Invalid index")
        return 3

    def meta_struct(self, tid, at, vlen, kflag, size, left) -> int:
        """Members: valid names and types, offsets in order and in the struct."""
        self.need(tid, left, 12 * vlen)
        name = self.name[tid]
        if name and not self.ident_ok(name):
            raise self.type_fail(tid, "Invalid name")
        is_union = self.kind[tid] == K.UNION
        w = self.words
        last = 0
        for j in range(vlen):
            m = at + 3 * j
            m_name, m_type, m_off = w[m], w[m + 1], w[m + 2]
            if not self.offset_ok(m_name):
                raise self.member_fail(tid, j, f"Invalid member name_offset:{m_name}")
            if m_name and not self.ident_ok(m_name):
                raise self.member_fail(tid, j, "Invalid name")
            if not m_type or m_type > MAX_TYPE:
                raise self.member_fail(tid, j, "Invalid type_id")
            off = m_off & 0xFFFFFF if kflag else m_off
            if (is_union and off) or last > off:
                raise self.member_fail(tid, j, "Invalid member bits_offset")
            if _roundup_bytes(off) > size:
                raise self.member_fail(tid, j, "Member bits_offset exceeds its struct size")
            last = off
        return 3 * vlen

    def member_fail(self, tid: int, j: int, reason: str) -> BtfInvalid:
        m = self.tail[tid] + 3 * j
        w = self.words
        name = self.display(w[m])
        return self.type_fail(tid, f"member #{j} {name} type_id={w[m + 1]}: {reason}")

    def meta_enum(self, tid, at, vlen, kflag, size, left) -> int:
        return self._meta_enum(tid, at, vlen, kflag, size, left, 2)

    def meta_enum64(self, tid, at, vlen, kflag, size, left) -> int:
        return self._meta_enum(tid, at, vlen, kflag, size, left, 3)

    def _meta_enum(self, tid, at, vlen, kflag, size, left, step) -> int:
        self.need(tid, left, 4 * step * vlen)
        if self.p.max_kind < K.ENUM64:
            self.no_kflag(tid, kflag)  # signed enums came with ENUM64
        if size > 8 or size & (size - 1) or not size:
            raise self.type_fail(tid, "Unexpected size")
        name = self.name[tid]
        if name and not self.ident_ok(name):
            raise self.type_fail(tid, "Invalid name")
        w = self.words
        for j in range(vlen):
            e_name = w[at + step * j]
            if not self.offset_ok(e_name):
                raise self.type_fail(tid, f"enumerator #{j}: Invalid name_offset:{e_name}")
            if not e_name or not self.ident_ok(e_name):
                raise self.type_fail(tid, f"enumerator #{j} {self.display(e_name)}: "
                                          f"Invalid name")
        return step * vlen

    def meta_fwd(self, tid, at, vlen, kflag, ref, left) -> int:
        self.no_vlen(tid, vlen)
        if ref:
            raise self.type_fail(tid, "type != 0")
        name = self.name[tid]
        if not name or not self.ident_ok(name):
            raise self.type_fail(tid, "Invalid name")
        return 0

    def meta_func(self, tid, at, linkage, kflag, ref, left) -> int:
        name = self.name[tid]
        if not name or not self.ident_ok(name):
            raise self.type_fail(tid, "Invalid name")
        if not self.p.func_global:
            self.no_vlen(tid, linkage)
        elif linkage > 1:
            raise self.type_fail(tid, "Invalid func linkage")
        self.no_kflag(tid, kflag)
        return 0

    def meta_func_proto(self, tid, at, vlen, kflag, ret, left) -> int:
        """Parameters are checked by the resolve pass, not here."""
        self.need(tid, left, 8 * vlen)
        if self.name[tid]:
            raise self.type_fail(tid, "Invalid name")
        self.no_kflag(tid, kflag)
        return 2 * vlen

    def meta_var(self, tid, at, vlen, kflag, ref, left) -> int:
        self.need(tid, left, 4)
        self.no_vlen(tid, vlen)
        self.no_kflag(tid, kflag)
        name = self.name[tid]
        if not name or not self.name_ok(name, 1):
            raise self.type_fail(tid, "Invalid name")
        if not ref or ref > MAX_TYPE:
            raise self.type_fail(tid, "Invalid type_id")
        if self.words[at] > 1:
            raise self.type_fail(tid, "Linkage not supported")
        return 1

    def meta_datasec(self, tid, at, vlen, kflag, size, left) -> int:
        """Entries sorted, not overlapping, inside the section."""
        self.need(tid, left, 12 * vlen)
        if not size:
            raise self.type_fail(tid, "size == 0")
        self.no_kflag(tid, kflag)
        name = self.name[tid]
        if not name or not self.name_ok(name, 2):
            raise self.type_fail(tid, "Invalid name")
        w = self.words
        last_end = total = 0
        for j in range(vlen):
            v = at + 3 * j
            v_type, v_off, v_size = w[v], w[v + 1], w[v + 2]
            if not v_type or v_type > MAX_TYPE:
                raise self.vsi_fail(tid, j, "Invalid type_id")
            if v_off < last_end or v_off >= size:
                raise self.vsi_fail(tid, j, "Invalid offset")
            if not v_size or v_size > size:
                raise self.vsi_fail(tid, j, "Invalid size")
            last_end = v_off + v_size
            if last_end > size:
                raise self.vsi_fail(tid, j, "Invalid offset+size")
            total += v_size
        if size < total:
            raise self.type_fail(tid, "Invalid btf_info size")
        return 3 * vlen

    def vsi_fail(self, tid: int, j: int, reason: str) -> BtfInvalid:
        v = self.tail[tid] + 3 * j
        w = self.words
        return self.type_fail(tid, f"entry #{j} type_id={w[v]} offset={w[v + 1]} "
                                   f"size={w[v + 2]}: {reason}")

    def meta_float(self, tid, at, vlen, kflag, size, left) -> int:
        self.no_vlen(tid, vlen)
        self.no_kflag(tid, kflag)
        if size not in (2, 4, 8, 12, 16):
            raise self.type_fail(tid, "Invalid type_size")
        return 0

    def meta_decl_tag(self, tid, at, vlen, kflag, ref, left) -> int:
        self.need(tid, left, 4)
        if not self.string(self.name[tid]):
            raise self.type_fail(tid, "Invalid value")
        self.no_vlen(tid, vlen)
        if not self.p.tag_kflag:
            self.no_kflag(tid, kflag)
        if _s32(self.words[at]) < -1:
            raise self.type_fail(tid, "Invalid component_idx")
        return 1

    # -- pass 4 (module and vmlinux BTF): references exist ---------------------

    def refs(self, tid: int):
        """(what, type id) for each reference of a type with several."""
        k = self.kind[tid]
        w, at = self.words, self.tail[tid]
        vlen = self.info[tid] & self.vmask
        if k == K.ARRAY:
            yield "element", w[at]
            yield "index", w[at + 1]
        elif IS_STRUCT[k]:
            for j in range(vlen):
                yield f"member #{j}", w[at + 3 * j + 1]
        elif k == K.FUNC_PROTO:
            yield "return type", self.st[tid]
            for j in range(vlen):
                yield f"arg#{j + 1}", w[at + 2 * j + 1]
        elif k == K.DATASEC:
            for j in range(vlen):
                yield f"entry #{j}", w[at + 3 * j]

    def check_references(self) -> None:
        """Every reference names an existing type (the kernel does not check)."""
        total = len(self.kind)
        st, kinds = self.st, self.kind
        for tid in range(self.start_id, total):
            k = kinds[tid]
            if SINGLE_REF[k]:
                refs = (("type", st[tid]),) if st[tid] >= total else ()
            elif MULTI_REF[k]:
                refs = self.refs(tid)
            else:
                continue
            for what, ref in refs:
                if ref >= total:
                    raise self.type_fail(tid, f"{what} is type {ref} but the last type "
                                              f"is {total - 1}: Invalid type_id")

    # -- pass 5: type tags come first -------------------------------------------

    def check_type_tags(self) -> None:
        """btf_check_type_tags: in a modifier chain, tags precede the rest."""
        kinds, st = self.kind, self.st
        total = len(kinds)
        good = self.start_id - 1
        for tid in range(self.start_id, total):
            k = kinds[tid]
            if not IS_MODIFIER[k]:
                continue
            in_tags = k == K.TYPE_TAG
            cur = tid
            limit = 32
            while IS_MODIFIER[k]:
                if not limit:
                    raise self.type_fail(tid, "Max chain length or cycle detected")
                limit -= 1
                if k == K.TYPE_TAG:
                    if not in_tags:
                        raise self.type_fail(tid, "Type tags don't precede modifiers")
                else:
                    in_tags = False
                if cur <= good:
                    break
                cur = st[cur]
                if cur >= total:
                    raise self.type_fail(tid, f"type {cur} does not exist: Invalid type_id")
                k = kinds[cur]
            good = tid

    # -- pass 4 (BPF_BTF_LOAD): the resolve pass ---------------------------------

    def check_all_types(self) -> None:
        """btf_check_all_types: resolve every type that refers to others."""
        n = len(self.kind) - self.start_id
        self.state = bytearray(n)
        self.rid = [0] * n
        self.rsize = [0] * n
        self.stack: list[list[int]] = []
        self._base_rid: dict[int, int] = {}
        self._base_rsize: dict[int, int] = {}
        self.resolvers = self._resolvers()
        kinds = self.kind
        state = self.state
        start = self.start_id
        for tid in range(start, len(kinds)):
            k = kinds[tid]
            if NEEDS_RESOLVE[k] and state[tid - start] != _RESOLVED:
                self.btf_resolve(tid)
            if k == K.FUNC_PROTO:
                self.func_proto_check(tid)

    def _resolvers(self):
        table = [None] * _NKINDS
        for k in (K.TYPEDEF, K.VOLATILE, K.CONST, K.RESTRICT, K.TYPE_TAG):
            table[k] = self.resolve_modifier
        table[K.PTR] = self.resolve_ptr
        table[K.ARRAY] = self.resolve_array
        table[K.STRUCT] = table[K.UNION] = self.resolve_struct
        table[K.VAR] = self.resolve_var
        table[K.DATASEC] = self.resolve_datasec
        table[K.FUNC] = self.resolve_func
        table[K.DECL_TAG] = self.resolve_decl_tag
        return table

    def btf_resolve(self, tid: int) -> None:
        """Walk from `tid` until everything it needs is resolved."""
        self.mode = _TBD
        self.push(tid)
        stack, resolvers, kinds = self.stack, self.resolvers, self.kind
        err = 0
        while not err and stack:
            v = stack[-1]
            err = resolvers[kinds[v[0]]](v)
        if err == _E2BIG:
            del stack[:]
            raise self.type_fail(tid, f"Exceeded max resolving depth:{MAX_RESOLVE_DEPTH}")
        if err == _EEXIST:
            del stack[:]
            raise self.type_fail(tid, "Loop detected")
        if not self.resolve_valid(tid):
            raise self.type_fail(tid, "Invalid resolve state")

    def push(self, tid: int) -> int:
        """env_stack_push: 0, or why the walk cannot go on."""
        if len(self.stack) == MAX_RESOLVE_DEPTH:
            return _E2BIG
        local = tid - self.start_id
        if local < 0 or self.state[local] != _NEW:
            return _EEXIST
        self.state[local] = _VISITED
        self.stack.append([tid, 0])
        if self.mode == _TBD:
            k = self.kind[tid]
            if k == K.PTR:
                self.mode = _PTR
            elif IS_STRUCT[k] or k == K.ARRAY:
                self.mode = _AGGR
        return 0

    def pop_resolved(self, rid: int, rsize: int) -> int:
        tid = self.stack.pop()[0]
        local = tid - self.start_id
        self.rid[local] = rid
        self.rsize[local] = rsize
        self.state[local] = _RESOLVED
        return 0

    def is_sink(self, tid: int) -> bool:
        """Whether the walk in the current mode stops at `tid`."""
        k = self.kind[tid]
        if self.mode == _TBD:
            return not NEEDS_RESOLVE[k]
        if self.mode == _PTR:
            return not IS_MODIFIER[k] and k != K.PTR
        return not IS_MODIFIER[k] and k != K.ARRAY and not IS_STRUCT[k]

    def is_resolved(self, tid: int) -> bool:
        local = tid - self.start_id
        return local < 0 or self.state[local] == _RESOLVED

    def exists(self, tid: int) -> bool:
        return tid < len(self.kind)

    def resolved_id(self, tid: int) -> int:
        local = tid - self.start_id
        return self.rid[local] if local >= 0 else self.base_resolved_id(tid)

    def resolved_size(self, tid: int) -> int:
        local = tid - self.start_id
        return self.rsize[local] if local >= 0 else self.base_resolved_size(tid)

    def base_resolved_id(self, tid: int) -> int:
        """What the kernel would have recorded for a base type, worked out now."""
        rid = self._base_rid.get(tid)
        if rid is None:
            k = self.kind[tid]
            if IS_MODIFIER[k] or k in (K.PTR, K.VAR):
                rid = self.st[tid]
                for _ in range(MAX_RESOLVE_DEPTH):
                    if not self.exists(rid) or not IS_MODIFIER[self.kind[rid]]:
                        break
                    rid = self.st[rid]
            elif k in (K.FUNC, K.DECL_TAG):
                rid = self.st[tid]
            else:
                rid = 0
            self._base_rid[tid] = rid
        return rid

    def base_resolved_size(self, tid: int) -> int:
        size = self._base_rsize.get(tid)
        if size is None:
            size = 0
            if self.kind[tid] == K.ARRAY:
                self._base_rsize[tid] = 0  # a loop in the base sizes nothing
                at = self.tail[tid]
                r = self.id_size(self.words[at])
                if r is not None:
                    size = (r[1] * self.words[at + 2]) & U32
            self._base_rsize[tid] = size
        return size

    def id_size(self, tid: int) -> tuple[int, int] | None:
        """btf_type_id_size: (id of the sized type, its size), or None.

        Modifiers and VARs are sized by what they resolve to."""
        if tid < len(self.kind) and (IS_MODIFIER[self.kind[tid]] or self.kind[tid] == K.VAR):
            tid = self.resolved_id(tid)
        return self.direct_size(tid)

    def direct_size(self, tid: int) -> tuple[int, int] | None:
        """(tid, size) for a type that carries its own size, else None."""
        if tid >= len(self.kind):
            return None
        k = self.kind[tid]
        if NO_SIZE[k]:
            return None
        if HAS_SIZE[k]:
            return tid, self.st[tid]
        if k == K.ARRAY:
            return tid, self.resolved_size(tid)
        if k == K.PTR:
            return tid, self.ptr_size
        return None

    def int_regular(self, tid: int) -> bool:
        """Not a bitfield, and as wide as u8, u16, u32, u64 or u128."""
        data = self.words[self.tail[tid]]
        bits = data & 0xFF
        return not bits & 7 and not (data >> 16) & 0xFF and (bits >> 3) in (1, 2, 4, 8, 16)

    def resolve_valid(self, tid: int) -> bool:
        """btf_resolve_valid: the final sanity check of one walk."""
        if not self.is_resolved(tid):
            return False
        k = self.kind[tid]
        rid, rsize = self.resolved_id(tid), self.resolved_size(tid)
        if IS_STRUCT[k] or k == K.DATASEC:
            return not rid and not rsize
        if k in (K.DECL_TAG, K.FUNC):
            return bool(rid) and not rsize
        if IS_MODIFIER[k] or k in (K.PTR, K.VAR):
            if not self.exists(rid):
                return False
            rk = self.kind[rid]
            return not IS_MODIFIER[rk] and rk not in (K.VAR, K.DATASEC)
        if k == K.ARRAY:
            at = self.tail[tid]
            r = self.id_size(self.words[at])
            return (r is not None and not IS_MODIFIER[self.kind[r[0]]]
                    and (self.words[at + 2] * r[1]) & U32 == rsize)
        return False

    def next_of(self, tid: int, ref: int) -> int | None:
        """Shared start of the one-reference resolvers: push `ref` if the walk
        must go through it first (returns the push's result), else None."""
        if not self.exists(ref) or SOURCE_ONLY[self.kind[ref]]:
            raise self.type_fail(tid, "Invalid type_id")
        if not self.is_sink(ref) and not self.is_resolved(ref):
            return self.push(ref)
        return None

    def through_modifier_to_ptr(self, ref: int) -> int | None:
        """If `ref` is a modifier that stopped at a pointer not yet walked,
        push that pointer so a pointer loop cannot hide behind a typedef."""
        if IS_MODIFIER[self.kind[ref]]:
            rid = self.resolved_id(ref)
            if (self.exists(rid) and self.kind[rid] == K.PTR and not self.is_sink(rid)
                    and not self.is_resolved(rid)):
                return self.push(rid)
        return None

    def sized_or_void(self, tid: int, ref: int) -> int:
        """The end of a modifier or pointer: a sized type, or void, a FWD or a
        FUNC_PROTO (`void *`, `struct s *`, function pointers)."""
        r = self.id_size(ref)
        if r is not None:
            return r[0]
        if self.is_resolved(ref):
            ref = self.resolved_id(ref)
        k = self.kind[ref] if self.exists(ref) else -1
        if k not in (K.UNKN, K.FWD, K.FUNC_PROTO):
            raise self.type_fail(tid, "Invalid type_id")
        return ref

    def resolve_modifier(self, v: list[int]) -> int:
        tid = v[0]
        ref = self.st[tid]
        err = self.next_of(tid, ref)
        if err is not None:
            return err
        return self.pop_resolved(self.sized_or_void(tid, ref), 0)

    def pending_through_ptr(self, tid: int, ref: int) -> int | None:
        """What a PTR or VAR must wait for: its target, and a modifier chain's end."""
        err = self.next_of(tid, ref)
        return err if err is not None else self.through_modifier_to_ptr(ref)

    def resolve_ptr(self, v: list[int]) -> int:
        tid = v[0]
        ref = self.st[tid]
        err = self.pending_through_ptr(tid, ref)
        if err is not None:
            return err
        return self.pop_resolved(self.sized_or_void(tid, ref), 0)

    def resolve_var(self, v: list[int]) -> int:
        tid = v[0]
        ref = self.st[tid]
        err = self.pending_through_ptr(tid, ref)
        if err is not None:
            return err
        r = self.id_size(ref)
        if r is None:
            raise self.type_fail(tid, "Invalid type_id")
        return self.pop_resolved(r[0], 0)

    def resolve_array(self, v: list[int]) -> int:
        """Index a regular int, element sized, total size within u32."""
        tid = v[0]
        w, at = self.words, self.tail[tid]
        index = w[at + 1]
        if not self.exists(index) or NO_SIZE[self.kind[index]] or \
                SOURCE_ONLY[self.kind[index]]:
            raise self.type_fail(tid, "Invalid index")
        if not self.is_sink(index) and not self.is_resolved(index):
            return self.push(index)
        r = self.id_size(index)
        if r is None or self.kind[r[0]] != K.INT or not self.int_regular(r[0]):
            raise self.type_fail(tid, "Invalid index")
        elem = w[at]
        if not self.exists(elem) or NO_SIZE[self.kind[elem]] or SOURCE_ONLY[self.kind[elem]]:
            raise self.type_fail(tid, "Invalid elem")
        if not self.is_sink(elem) and not self.is_resolved(elem):
            return self.push(elem)
        r = self.id_size(elem)
        if r is None:
            raise self.type_fail(tid, "Invalid elem")
        elem, elem_size = r
        if self.kind[elem] == K.INT and not self.int_regular(elem):
            raise self.type_fail(tid, "Invalid array of int")
        nelems = w[at + 2]
        if nelems and elem_size > U32 // nelems:
            raise self.type_fail(tid, "Array size overflows U32_MAX")
        return self.pop_resolved(elem, elem_size * nelems)

    def resolve_struct(self, v: list[int]) -> int:
        """Each member sized, then checked against the struct's size."""
        tid, nxt = v
        w, at = self.words, self.tail[tid]
        kflag = self.info[tid] >> 31
        if nxt:
            m_type = w[at + 3 * (nxt - 1) + 1]
            if not self.is_resolved(m_type):
                raise self.member_fail(tid, nxt - 1, "Invalid resolve state")
            self.check_member(tid, nxt - 1, m_type, kflag)
        vlen = self.info[tid] & self.vmask
        kinds = self.kind
        for j in range(nxt, vlen):
            m_type = w[at + 3 * j + 1]
            if not self.exists(m_type) or NO_SIZE[kinds[m_type]] or \
                    SOURCE_ONLY[kinds[m_type]]:
                raise self.member_fail(tid, j, "Invalid member")
            if not self.is_sink(m_type) and not self.is_resolved(m_type):
                v[1] = j + 1
                return self.push(m_type)
            self.check_member(tid, j, m_type, kflag)
        return self.pop_resolved(0, 0)

    def resolve_datasec(self, v: list[int]) -> int:
        """Each entry a VAR whose type fits the entry's size."""
        tid, nxt = v
        self.mode = _TBD
        w, at = self.words, self.tail[tid]
        for j in range(nxt, self.info[tid] & self.vmask):
            var = w[at + 3 * j]
            if not self.exists(var) or self.kind[var] != K.VAR:
                raise self.vsi_fail(tid, j, "Not a VAR kind member")
            if not self.is_sink(var) and not self.is_resolved(var):
                v[1] = j + 1
                return self.push(var)
            r = self.id_size(self.st[var])
            if r is None:
                raise self.vsi_fail(tid, j, "Invalid type")
            if w[at + 3 * j + 2] < r[1]:
                raise self.vsi_fail(tid, j, "Invalid size")
        return self.pop_resolved(0, 0)

    def resolve_func(self, v: list[int]) -> int:
        """btf_func_check: a FUNC_PROTO whose parameters all have names."""
        tid = v[0]
        proto = self.st[tid]
        if not self.exists(proto) or self.kind[proto] != K.FUNC_PROTO:
            raise self.type_fail(tid, "Invalid type_id")
        w, at = self.words, self.tail[proto]
        for j in range(self.info[proto] & self.vmask):
            if not w[at + 2 * j] and w[at + 2 * j + 1]:
                raise self.type_fail(tid, f"Invalid arg#{j + 1}")
        return self.pop_resolved(proto, 0)

    def resolve_decl_tag(self, v: list[int]) -> int:
        """A tag on a FUNC, struct, union, VAR or TYPEDEF, or one of its parts."""
        tid = v[0]
        target = self.st[tid]
        if not self.exists(target) or not DECL_TAG_TARGET[self.kind[target]]:
            raise self.type_fail(tid, "Invalid type_id")
        if not self.is_sink(target) and not self.is_resolved(target):
            return self.push(target)
        idx = _s32(self.words[self.tail[tid]])
        if idx != -1:
            k = self.kind[target]
            if k in (K.VAR, K.TYPEDEF):
                raise self.type_fail(tid, "Invalid component_idx")
            if k == K.FUNC:
                target = self.st[target]
                if not self.exists(target):
                    raise self.type_fail(tid, "Invalid component_idx")
            if idx & U32 >= self.info[target] & self.vmask:
                raise self.type_fail(tid, "Invalid component_idx")
        return self.pop_resolved(self.st[tid], 0)

    def func_proto_check(self, tid: int) -> None:
        """btf_func_proto_check: return and parameter types are sized."""
        ret = self.st[tid]
        if ret:
            if not self.exists(ret) or SOURCE_ONLY[self.kind[ret]]:
                raise self.type_fail(tid, "Invalid return type")
            if NEEDS_RESOLVE[self.kind[ret]] and not self.is_resolved(ret):
                self.btf_resolve(ret)
            if self.id_size(ret) is None:
                raise self.type_fail(tid, "Invalid return type")
        w, at = self.words, self.tail[tid]
        nargs = self.info[tid] & self.vmask
        if not nargs:
            return
        if not w[at + 2 * (nargs - 1) + 1]:
            if w[at + 2 * (nargs - 1)]:
                raise self.type_fail(tid, f"Invalid arg#{nargs}")
            nargs -= 1
        for j in range(nargs):
            a_name, a_type = w[at + 2 * j], w[at + 2 * j + 1]
            if not self.exists(a_type) or SOURCE_ONLY[self.kind[a_type]]:
                raise self.type_fail(tid, f"Invalid arg#{j + 1}")
            if a_name and (not self.offset_ok(a_name) or not self.ident_ok(a_name)):
                raise self.type_fail(tid, f"Invalid arg#{j + 1}")
            if NEEDS_RESOLVE[self.kind[a_type]] and not self.is_resolved(a_type):
                self.btf_resolve(a_type)
            if self.id_size(a_type) is None:
                raise self.type_fail(tid, f"Invalid arg#{j + 1}")

    # -- members: does each fit where the struct puts it? ---------------------

    def check_member(self, sid: int, j: int, m_type: int, kflag: int) -> None:
        """Dispatch on the member's type, through modifiers, as the kernel's
        check_member / check_kflag_member operations do."""
        k = self.kind[m_type]
        if IS_MODIFIER[k]:
            r = self.id_size(m_type)
            if r is None:
                raise self.member_fail(sid, j, "Invalid member")
            m_type = r[0]
            k = self.kind[m_type]
        off = self.words[self.tail[sid] + 3 * j + 2]
        if kflag:
            if k == K.INT:
                return self.int_kflag_member(sid, j, m_type, off)
            if k in (K.ENUM, K.ENUM64):
                return self.enum_kflag_member(sid, j, off)
            if k not in (K.PTR, K.ARRAY, K.STRUCT, K.UNION, K.FLOAT):
                raise self.member_fail(sid, j, "Unsupported check_kflag_member")
            if off >> 24:
                raise self.member_fail(sid, j, "Invalid member bitfield_size")
        if k == K.INT:
            return self.int_member(sid, j, m_type, off)
        if k == K.FLOAT:
            return self.float_member(sid, j, m_type, off)
        if k == K.PTR:
            size = self.ptr_size
        elif k == K.ARRAY:
            r = self.id_size(m_type)
            size = r[1] if r is not None else 0
        elif k in (K.STRUCT, K.UNION, K.ENUM, K.ENUM64):
            size = self.st[m_type]
        else:
            raise self.member_fail(sid, j, "Unsupported check_member")
        if off & 7:
            raise self.member_fail(sid, j, "Member is not byte aligned")
        if (self.st[sid] - (off >> 3)) & U32 < size:
            raise self.member_fail(sid, j, "Member exceeds struct_size")

    def int_member(self, sid: int, j: int, m_type: int, off: int) -> None:
        data = self.words[self.tail[m_type]]
        int_off = (data >> 16) & 0xFF
        if U32 - off < int_off:
            raise self.member_fail(sid, j, "bits_offset exceeds U32_MAX")
        off += int_off
        self.fits(sid, j, off >> 3, (data & 0xFF) + (off & 7))

    def int_kflag_member(self, sid: int, j: int, m_type: int, off: int) -> None:
        if not self.int_regular(m_type):
            raise self.member_fail(sid, j, "Invalid member base type")
        nr_bits = off >> 24
        bit_off = off & 0xFFFFFF
        int_bits = self.words[self.tail[m_type]] & 0xFF
        if not nr_bits:
            if bit_off & 7:
                raise self.member_fail(sid, j, "Invalid member offset")
            nr_bits = int_bits
        elif nr_bits > int_bits:
            raise self.member_fail(sid, j, "Invalid member bitfield_size")
        self.fits(sid, j, bit_off >> 3, nr_bits + (bit_off & 7))

    def fits(self, sid: int, j: int, byte_off: int, copy_bits: int) -> None:
        if copy_bits > 128:
            raise self.member_fail(sid, j, "nr_copy_bits exceeds 128")
        size = self.st[sid]
        if size < byte_off or size - byte_off < _roundup_bytes(copy_bits):
            raise self.member_fail(sid, j, "Member exceeds struct_size")

    def enum_kflag_member(self, sid: int, j: int, off: int) -> None:
        """The kernel measures every enum bitfield against 32 bits."""
        nr_bits = off >> 24
        bit_off = off & 0xFFFFFF
        if not nr_bits:
            if bit_off & 7:
                raise self.member_fail(sid, j, "Member is not byte aligned")
            nr_bits = 32
        elif nr_bits > 32:
            raise self.member_fail(sid, j, "Invalid member bitfield_size")
        if self.st[sid] < _roundup_bytes(bit_off + nr_bits):
            raise self.member_fail(sid, j, "Member exceeds struct_size")

    def float_member(self, sid: int, j: int, m_type: int, off: int) -> None:
        size = self.st[m_type]
        if off % (min(self.ptr_size, size) * 8):
            raise self.member_fail(sid, j, "Member is not properly aligned")
        if off // 8 + size > self.st[sid]:
            raise self.member_fail(sid, j, "Member exceeds struct_size")


def _levels(base) -> list[bytes]:
    """The blobs of `base` and its own bases, base-most first."""
    return [_blob(b) for b in base.levels()]


def _blob(btf) -> bytes:
    """`btf` as bytes: the blob it was read from if it has not grown since,
    else written anew."""
    source = getattr(btf, "source", None)
    if source is not None and source[1:] == (len(btf.types), btf.strings.end):
        return source[0]
    from .writer import encode
    return encode(btf)


def _columns(levels: list[bytes]) -> tuple[array.array, bytes, tuple[list, ...]]:
    """The base's words, strings, and its per-id columns (kind, name, info,
    size/type, tail, record offset) from id 0."""
    words, types, strings = _index_levels(levels)
    columns = ([0], [0], [0], [0], [0], [-1])
    kind, name, info, st, tail, rec = columns
    for r in types:
        kind.append((r.info >> 24) & 0x7F)
        name.append(r.name_off)
        info.append(r.info)
        st.append(r.size_type)
        tail.append(r.offset // 4 + 3)
        rec.append(-1)
    return words, strings, columns


def _save_columns(got) -> tuple[bytes, ...]:
    return tuple(array.array("q", c).tobytes() for c in got[2])


def _adopt_columns(saved: tuple[bytes, ...], base) -> tuple[array.array, bytes, tuple]:
    """The columns back as arrays (a copy of bytes, not 95 k ints each)."""
    words, _, strings = _index_levels(_levels(base), records=False)
    columns = tuple(array.array("q") for _ in saved)
    for column, packed in zip(columns, saved):
        column.frombytes(packed)
    return words, strings, columns


# A `Btf` base is written back to bytes (its own records, exactly as read) so
# base and split types are seen through the same words; checking many modules
# indexes vmlinux once.
_BASE_COLUMNS = PerBase("verifier", lambda base: _columns(_levels(base)),
                        save=_save_columns, load=_adopt_columns)


# The lists the last verification over a base gave back: a batch verifies
# module after module over one vmlinux, and copying (then freeing) its
# words and six columns cost each module a millisecond.
_spare: list = [None, None]       # (base words, base columns), (words, columns)


def _lend(words: array.array, columns: tuple) -> tuple[array.array, tuple]:
    """Copies of a base's words and columns to append to."""
    base, lists = _spare
    if base is not None and base[0] is words and base[1] is columns:
        _spare[:] = [None, None]
        own_words, own_columns = lists
        del own_words[len(words):]
        for own, c in zip(own_columns, columns):
            del own[len(c):]
        return own_words, own_columns
    return array.array("I", words), tuple(c[:] for c in columns)


def _give_back(base: tuple, words: array.array, columns: tuple) -> None:
    """A finished verification's lists, for the next over the same base."""
    _spare[:] = [base, (words, columns)]


def _base_columns(base) -> tuple[array.array, bytes, tuple[list, ...]]:
    if isinstance(base, (bytes, bytearray, memoryview)):
        return _columns([bytes(base)])
    return _BASE_COLUMNS(base)


def _index_levels(levels: list[bytes], records: bool = True
                  ) -> tuple[array.array, list, bytes]:
    """The levels' type words and strings end to end, and (unless
    `records` is false) their records with offsets into those words."""
    words = array.array("I")
    out = []
    strings = b""
    for blob in levels:
        h = parse_header(blob)
        level_words = words_of(blob, h.hdr_len + h.type_off, h.type_len, h.endian)
        shift = len(words) * 4
        for r in split_records(level_words, parse_layout(blob, h)) if records else ():
            out.append(r._replace(offset=r.offset + shift))
        words.extend(level_words)
        start = h.hdr_len + h.str_off
        strings += blob[start:start + h.str_len]
    return words, out, strings
