"""One unit's DIE records -> BTF types, function and variable candidates.

The rules are pahole's (btf_encoder.c, dwarf_loader.c): base types by
DW_AT_encoding with odd sizes sanitized, flattened arrays indexed by the
unit's `int`, bitfield offsets from the low-order bit, FWD for declared
aggregates, ENUM of size 4 for declared enums, ENUM64 above 4 bytes,
`unspecified_type` as void.  Where pahole 1.24 drops information by accident
(an `_Atomic` qualifier turning the type into void) we keep the underlying
type; docs/DIFFERENCES.md lists each such choice.

Types come out in DIE order, numbered from `first_id` as a split BTF over
the dedup base would be, so `dedup.Deduper.add_unit` takes them as they are.
Functions and variables are not types yet: whether one becomes a FUNC or a
VAR depends on the ELF symbols and on every other unit, so they leave as
candidates holding unit-local type ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..btf.kinds import IntEncoding
from ..btf.model import (Array, Const, DeclTag, Enum, Enum64, EnumValue, Float,
                         FuncProto, Fwd, Int, Member, Param, Ptr, Restrict, Struct,
                         Type, Typedef, TypeTag, Union, Volatile)
from ..dwarf.constants import Ate, Op, Tag
from ..dwarf.forms import read_uleb
from ..dwarf.dies import (F_ABSTRACT_ORIGIN, F_BIT_OFFSET, F_BIT_SIZE, F_BYTE_SIZE,
                          F_CONST_VALUE, F_COUNT, F_DATA_BIT_OFFSET,
                          F_DATA_MEMBER_LOCATION, F_DECLARATION, F_ENCODING, F_EXTERNAL,
                          F_LOCATION, F_LOW_PC, F_NAME, F_OFFSET, F_PARENT,
                          F_SPECIFICATION, F_TAG, F_TYPE, F_UPPER_BOUND)

SANITIZED_INT = "__SANITIZED_FAKE_INT__"
ANNOTATION_TAGS = (Tag.LLVM_annotation,)
SIGNED_ATE = (Ate.signed, Ate.signed_char)
# Qualifiers BTF has no kind for: the type they qualify stands in for them.
TRANSPARENT_TAGS = (Tag.atomic_type, Tag.immutable_type, Tag.packed_type, Tag.shared_type)


@dataclass(slots=True)
class FuncCandidate:
    """A DW_TAG_subprogram that may become a FUNC."""
    name: str | None
    proto: FuncProto            # unit-local type ids
    declaration: bool
    external: bool
    low_pc: int | None
    named_params: bool          # every parameter has a name (pahole requires it)
    tags: list[tuple[str, int]] = field(default_factory=list)   # (value, component_idx)
    offset: int = 0             # of the DIE, for messages


@dataclass(slots=True)
class VarCandidate:
    """A unit-level DW_TAG_variable that may become a VAR."""
    name: str | None
    type: int                   # unit-local; 0 = void
    address: int | None         # from a DW_OP_addr location
    external: bool
    declaration: bool
    has_spec: bool
    tags: list[tuple[str, int]] = field(default_factory=list)
    offset: int = 0


@dataclass(slots=True)
class UnitTypes:
    """What one unit contributes: its types and its candidates."""
    name: str | None
    types: list[Type]
    funcs: list[FuncCandidate]
    vars: list[VarCandidate]
    warnings: list[str]


@dataclass(slots=True)
class Options:
    """The encoding choices that change how one unit converts."""
    float: bool = True          # FLOAT kind (else floats become INT, as pahole without it)
    type_tag: bool = True
    decl_tag: bool = True
    enum64: bool = True
    little_endian: bool = True
    pointer_size: int = 8


def _location_address(loc, pointer_size: int, addrx) -> int | None:
    """The address of a `DW_OP_addr A` / `DW_OP_addrx I` location, else None.

    Only the first operation counts, as in pahole: a global's location
    starts with its address.
    """
    if not isinstance(loc, (bytes, bytearray)) or not loc:
        return None
    if loc[0] == Op.addr and len(loc) > pointer_size:
        return int.from_bytes(loc[1:1 + pointer_size], "little")
    if loc[0] in (Op.addrx, Op.GNU_addr_index) and addrx is not None:
        return addrx(read_uleb(loc, 1)[0])
    return None


def _member_offset(loc) -> int:
    """Byte offset from DW_AT_data_member_location: a constant or DW_OP_plus_uconst."""
    if loc is None:
        return 0
    if isinstance(loc, int):
        return loc
    if len(loc) >= 2 and loc[0] == Op.plus_uconst:
        return read_uleb(loc, 1)[0]
    return 0


class _Unit:
    """The state of converting one unit; `convert()` is the entry point."""

    def __init__(self, dies: list[tuple], index: dict[int, int], first_id: int,
                 opts: Options, addrx):
        self.dies = dies
        self.addrx = addrx
        self.index = index
        self.first_id = first_id
        self.opts = opts
        self.types: list[Type] = []
        self.ids: dict[int, int] = {}           # DIE index -> type id (0 = void)
        self.children: dict[int, list[int]] = {}
        self.warnings: list[str] = []
        self.int_id: int | None = None
        self.needs_int = False

    # -- small helpers -------------------------------------------------------

    def die_of(self, offset: int | None) -> int | None:
        """Index of the DIE at a reference, or None if not in this unit."""
        if offset is None:
            return None
        return self.index.get(offset)

    def new_id(self) -> int:
        """Reserve the next type id (filled in by `put`)."""
        self.types.append(None)
        return self.first_id + len(self.types) - 1

    def put(self, type_id: int, t: Type) -> None:
        self.types[type_id - self.first_id] = t

    def add(self, t: Type) -> int:
        type_id = self.new_id()
        self.put(type_id, t)
        return type_id

    def ref(self, offset: int | None) -> int:
        """The type id a DW_AT_type reference stands for (0 = void)."""
        if offset is None:
            return 0
        i = self.die_of(offset)
        if i is None:
            self.warnings.append(f"type reference {offset:#x} is not in this unit: void")
            return 0
        return self.type_of(i)

    def type_of(self, i: int, depth: int = 0) -> int:
        """The id of DIE `i` as a type, seeing through transparent qualifiers."""
        got = self.ids.get(i)
        if got is not None:
            return got
        d = self.dies[i]
        if d[F_TAG] in TRANSPARENT_TAGS and depth < 64:
            j = self.die_of(d[F_TYPE])
            got = 0 if j is None else self.type_of(j, depth + 1)
        else:
            self.warnings.append(f"DIE {d[F_OFFSET]:#x} ({Tag(d[F_TAG]).name}) is not a "
                                 f"type BTF has: void")
            got = 0
        self.ids[i] = got
        return got

    def size_of(self, i: int | None, depth: int = 0) -> int:
        """Byte size of a type DIE, through typedefs and qualifiers."""
        while i is not None and depth < 64:
            d = self.dies[i]
            if d[F_BYTE_SIZE] is not None:
                return d[F_BYTE_SIZE]
            if d[F_TAG] == Tag.pointer_type:
                return self.opts.pointer_size
            if d[F_TAG] not in (Tag.typedef, Tag.const_type, Tag.volatile_type,
                                Tag.restrict_type, *TRANSPARENT_TAGS):
                return 0
            i = self.die_of(d[F_TYPE])
            depth += 1
        return 0

    def annotations(self, i: int, kind: str) -> list[str]:
        """Values of `btf_decl_tag`/`btf_type_tag` annotations under DIE `i`."""
        out = []
        for c in self.children.get(i, ()):
            d = self.dies[c]
            if d[F_TAG] in ANNOTATION_TAGS and d[F_NAME] == kind and \
                    isinstance(d[F_CONST_VALUE], str):
                out.append(d[F_CONST_VALUE])
        return out

    # -- the passes ----------------------------------------------------------

    def convert(self) -> tuple[list[FuncCandidate], list[VarCandidate]]:
        dies = self.dies
        for i, d in enumerate(dies):
            p = d[F_PARENT]
            if p >= 0:
                self.children.setdefault(p, []).append(i)
        # Ids first, so references can point forward; then the types.
        for i, d in enumerate(dies):
            tag = d[F_TAG]
            if tag in _MAKERS:
                self.ids[i] = self.new_id()
            elif tag == Tag.unspecified_type:
                self.ids[i] = 0
            if tag == Tag.base_type and d[F_NAME] == "int" and self.int_id is None:
                self.int_id = self.ids[i]
        for i, d in enumerate(dies):
            make = _MAKERS.get(d[F_TAG])
            if make is not None:
                make(self, i, d)
        if self.needs_int and self.int_id is None:
            self.int_id = self.add(Int("int", 4, 32, IntEncoding.SIGNED))
            for t in self.types:
                if isinstance(t, Array) and t.index_type == -1:
                    t.index_type = self.int_id
        funcs, vars_ = [], []
        for i, d in enumerate(dies):
            if d[F_TAG] == Tag.subprogram:
                funcs.append(self.function(i, d))
            elif d[F_TAG] == Tag.variable and d[F_PARENT] == -1:
                vars_.append(self.variable(i, d))
        if self.opts.decl_tag:
            self.aggregate_decl_tags()
        return funcs, vars_

    # -- one maker per DWARF tag -------------------------------------------

    def base_type(self, i: int, d: tuple) -> None:
        name, size, ate = d[F_NAME] or "", d[F_BYTE_SIZE] or 0, d[F_ENCODING]
        if ate in (Ate.float, Ate.complex_float, Ate.imaginary_float) and self.opts.float:
            if ate == Ate.float:
                self.put(self.ids[i], Float(name, size))
                return
            self.warnings.append(f"DIE {d[F_OFFSET]:#x}: {name}: complex and imaginary "
                                 f"floats have no BTF kind: encoded as INT")
        encoding = IntEncoding.NONE
        if ate in SIGNED_ATE:
            encoding = IntEncoding.SIGNED
        elif ate == Ate.boolean:
            encoding = IntEncoding.BOOL
        if size == 0 or size & (size - 1) or size > 16:
            name, size = SANITIZED_INT, 4
        self.put(self.ids[i], Int(name, size, size * 8, encoding))

    def modifier(self, i: int, d: tuple) -> None:
        cls = _MODIFIER_CLASS[d[F_TAG]]
        self.put(self.ids[i], cls(self.ref(d[F_TYPE])))

    def pointer(self, i: int, d: tuple) -> None:
        """PTR; with btf_type_tag annotations, PTR -> TYPE_TAG(last) .. (first) -> pointee."""
        target = self.ref(d[F_TYPE])
        if self.opts.type_tag:
            for value in self.annotations(i, "btf_type_tag"):
                target = self.add(TypeTag(value, target))
        self.put(self.ids[i], Ptr(target))

    def typedef(self, i: int, d: tuple) -> None:
        self.put(self.ids[i], Typedef(d[F_NAME] or "", self.ref(d[F_TYPE])))

    def aggregate(self, i: int, d: tuple) -> None:
        name = d[F_NAME] or ""
        union = d[F_TAG] == Tag.union_type
        if d[F_DECLARATION]:
            self.put(self.ids[i], Fwd(name, union))
            return
        members, kflag = [], False
        for c in self.children.get(i, ()):
            m = self.dies[c]
            if m[F_TAG] != Tag.member:
                continue
            if not union and m[F_DATA_MEMBER_LOCATION] is None and \
                    m[F_DATA_BIT_OFFSET] is None:
                continue    # a static member (C++)
            bits = m[F_BIT_SIZE] or 0
            offset = self.member_bit_offset(m, bits)
            kflag = kflag or bits != 0 or offset % 8 != 0
            members.append(Member(m[F_NAME] or "", self.ref(m[F_TYPE]), offset, bits))
        cls = Union if union else Struct
        self.put(self.ids[i], cls(name, d[F_BYTE_SIZE] or 0, members, kflag))

    def member_bit_offset(self, m: tuple, bits: int) -> int:
        """Bits from the aggregate's start to the member's lowest-order bit."""
        if m[F_DATA_BIT_OFFSET] is not None:
            return m[F_DATA_BIT_OFFSET]
        byte_offset = _member_offset(m[F_DATA_MEMBER_LOCATION])
        if not bits:
            return byte_offset * 8
        # DWARF 4 DW_AT_bit_offset counts from the storage unit's high-order
        # bit; on little-endian machines turn it around.
        unit_bytes = m[F_BYTE_SIZE] or self.size_of(self.die_of(m[F_TYPE]))
        # Packed bitfields straddling their unit get a negative DW_AT_bit_offset,
        # stored in an unsigned data form.
        high = _signed((m[F_BIT_OFFSET] or 0) & ((1 << 64) - 1), 64)
        if self.opts.little_endian and unit_bytes:
            return byte_offset * 8 + unit_bytes * 8 - high - bits
        return byte_offset * 8 + high

    def enumeration(self, i: int, d: tuple) -> None:
        name = d[F_NAME] or ""
        size = d[F_BYTE_SIZE] or 4
        raw = []
        for c in self.children.get(i, ()):
            e = self.dies[c]
            if e[F_TAG] == Tag.enumerator:
                v = e[F_CONST_VALUE]
                raw.append((e[F_NAME] or "", v if isinstance(v, int) else 0))
        if size > 4 and self.opts.enum64:
            base = self.die_of(d[F_TYPE])
            signed = base is not None and self.dies[base][F_ENCODING] in SIGNED_ATE
            mask = (1 << 64) - 1
            values = [EnumValue(n, _signed(v & mask, 64) if signed else v & mask)
                      for n, v in raw]
            self.put(self.ids[i], Enum64(name, size, values, signed))
            return
        # Without enum64 (kernels before 6.0) there are no signed enums and a
        # wide enum keeps its size with values cut to u32, as pahole does.
        signed = self.opts.enum64 and any(v < 0 for _, v in raw)
        values = [EnumValue(n, _signed(v & 0xFFFFFFFF, 32) if signed else v & 0xFFFFFFFF)
                  for n, v in raw]
        self.put(self.ids[i], Enum(name, size, values, signed))

    def array(self, i: int, d: tuple) -> None:
        nelems = 1
        for c in self.children.get(i, ()):
            s = self.dies[c]
            if s[F_TAG] != Tag.subrange_type:
                continue
            ub, count = s[F_UPPER_BOUND], s[F_COUNT]
            if isinstance(ub, int) and not _is_ref(ub):
                n = ub + 1
            elif isinstance(count, int) and not _is_ref(count):
                n = count
            else:
                n = 0
            nelems = (nelems * n) & 0xFFFFFFFF
        self.needs_int = True
        index = self.int_id if self.int_id is not None else -1
        self.put(self.ids[i], Array(self.ref(d[F_TYPE]), index, nelems))

    def subroutine(self, i: int, d: tuple) -> None:
        self.put(self.ids[i], self.proto(i, d[F_TYPE])[0])

    def proto(self, i: int, ret: int | None) -> tuple[FuncProto, bool, list[int]]:
        """FUNC_PROTO of a subroutine type or subprogram DIE `i`.

        Also says whether every parameter is named, and the DIE index of each
        parameter (for its decl tags).  Names and types missing on a concrete
        instance come from its DW_AT_abstract_origin, as pahole does.
        """
        params, named, where = [], True, []
        vararg = False
        for c in self.children.get(i, ()):
            p = self.dies[c]
            if p[F_TAG] == Tag.formal_parameter:
                name, ptype = p[F_NAME], p[F_TYPE]
                origin = self.die_of(p[F_ABSTRACT_ORIGIN])
                if origin is not None:
                    o = self.dies[origin]
                    name = name if name is not None else o[F_NAME]
                    ptype = ptype if ptype is not None else o[F_TYPE]
                named = named and bool(name)
                params.append(Param(name or "", self.ref(ptype)))
                where.append(c)
            elif p[F_TAG] == Tag.unspecified_parameters:
                vararg = True
        if vararg:
            params.append(Param("", 0))
        return FuncProto(self.ref(ret), params), named, where

    # -- candidates ----------------------------------------------------------

    def origin_chain(self, d: tuple, field_index: int):
        """A field of the DIE, else of its abstract origin, else of its specification."""
        seen = 0
        while d is not None and seen < 8:
            v = d[field_index]
            if v is not None:
                return v
            nxt = self.die_of(d[F_ABSTRACT_ORIGIN])
            if nxt is None:
                nxt = self.die_of(d[F_SPECIFICATION])
            d = self.dies[nxt] if nxt is not None else None
            seen += 1
        return None

    def function(self, i: int, d: tuple) -> FuncCandidate:
        ret = self.origin_chain(d, F_TYPE)
        proto, named, where = self.proto(i, ret)
        if not where and d[F_ABSTRACT_ORIGIN] is not None:
            # A concrete instance that lists no parameters: take the origin's.
            o = self.die_of(d[F_ABSTRACT_ORIGIN])
            if o is not None:
                proto, named, where = self.proto(o, ret)
        tags = []
        if self.opts.decl_tag:
            tags = [(v, -1) for v in self.annotations(i, "btf_decl_tag")]
            for idx, c in enumerate(where):
                tags += [(v, idx) for v in self.annotations(c, "btf_decl_tag")]
        return FuncCandidate(
            name=self.origin_chain(d, F_NAME), proto=proto,
            declaration=bool(d[F_DECLARATION]),
            external=bool(self.origin_chain(d, F_EXTERNAL)),
            low_pc=d[F_LOW_PC], named_params=named, tags=tags, offset=d[F_OFFSET])

    def variable(self, i: int, d: tuple) -> VarCandidate:
        spec = self.die_of(d[F_SPECIFICATION])
        s = self.dies[spec] if spec is not None else d
        tags = [(v, -1) for v in self.annotations(i, "btf_decl_tag")] \
            if self.opts.decl_tag else []
        if spec is not None and self.opts.decl_tag:
            tags += [(v, -1) for v in self.annotations(spec, "btf_decl_tag")]
        return VarCandidate(
            name=d[F_NAME] if d[F_NAME] is not None else s[F_NAME],
            type=self.ref(d[F_TYPE] if d[F_TYPE] is not None else s[F_TYPE]),
            address=_location_address(d[F_LOCATION], self.opts.pointer_size, self.addrx),
            external=bool(s[F_EXTERNAL] or d[F_EXTERNAL]),
            declaration=bool(d[F_DECLARATION]), has_spec=spec is not None,
            tags=tags, offset=d[F_OFFSET])

    def aggregate_decl_tags(self) -> None:
        """DECL_TAGs on structs, unions, their members, and typedefs."""
        for i, d in enumerate(self.dies):
            tag = d[F_TAG]
            if tag not in (Tag.structure_type, Tag.union_type, Tag.class_type, Tag.typedef):
                continue
            target = self.ids[i]
            for v in self.annotations(i, "btf_decl_tag"):
                self.add(DeclTag(v, target, -1))
            if tag == Tag.typedef or d[F_DECLARATION]:
                continue
            idx = 0
            for c in self.children.get(i, ()):
                m = self.dies[c]
                if m[F_TAG] != Tag.member:
                    continue
                for v in self.annotations(c, "btf_decl_tag"):
                    self.add(DeclTag(v, target, idx))
                idx += 1


def _signed(v: int, bits: int) -> int:
    return v - (1 << bits) if v >> (bits - 1) else v


def _is_ref(v) -> bool:
    """True for a DieRef (a bound given by another DIE: a VLA)."""
    return type(v) is not int and isinstance(v, int)


_MODIFIER_CLASS = {Tag.const_type: Const, Tag.volatile_type: Volatile,
                   Tag.restrict_type: Restrict}
_MAKERS = {
    Tag.base_type: _Unit.base_type,
    Tag.pointer_type: _Unit.pointer,
    Tag.const_type: _Unit.modifier,
    Tag.volatile_type: _Unit.modifier,
    Tag.restrict_type: _Unit.modifier,
    Tag.typedef: _Unit.typedef,
    Tag.structure_type: _Unit.aggregate,
    Tag.class_type: _Unit.aggregate,
    Tag.union_type: _Unit.aggregate,
    Tag.enumeration_type: _Unit.enumeration,
    Tag.array_type: _Unit.array,
    Tag.subroutine_type: _Unit.subroutine,
}


def convert(dies: list[tuple], index: dict[int, int], *, first_id: int = 1,
            opts: Options | None = None, name: str | None = None,
            addrx=None) -> UnitTypes:
    """Convert one unit's DIE records.

    `index` maps DIE offsets to positions in `dies`; `addrx` resolves a
    DW_OP_addrx index through the unit's .debug_addr.
    """
    u = _Unit(dies, index, first_id, opts or Options(), addrx)
    funcs, vars_ = u.convert()
    return UnitTypes(name, u.types, funcs, vars_, u.warnings)

