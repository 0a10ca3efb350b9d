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

With `Options.func_facts` (pahole's newer function rules, select.py) each
function candidate also carries what newer pahole's DWARF loader learns from
the parameters' locations (dwarf_loader.c): optimized-out parameters,
parameters in registers the ABI does not put them in, parameters a clone
reorders, clang's `DW_CC_nocall`, packed structs passed on the stack.  See
`_FuncFacts`.
"""

from __future__ import annotations


from ..btf.kinds import MAX_VLEN_WIDE, IntEncoding
from ..btf.model import (Array, Const, DeclTag, Enum, Enum64, EnumValue, Float,
                         FuncProto, Fwd, Int, Member, Param, Ptr, Restrict, Struct,
                         Type, Typedef, TypeTag, Union, Volatile)
from ..dwarf.constants import Ate, Cc, Op, Tag, name_of
from ..dwarf.expr import operations
from ..dwarf.forms import read_uleb
from ..errors import DwarfError
from ..record import factory, record
try:
    from ._cconvert import types as _compiled_types
except ImportError:          # pragma: no cover - depends on the installation
    _compiled_types = None
from ..dwarf.dies import (F_ABSTRACT_ORIGIN, F_BIT_OFFSET, F_BIT_SIZE, F_BYTE_SIZE,
                          F_CALLING_CONVENTION, F_CONST_VALUE, F_COUNT,
                          F_DATA_BIT_OFFSET, F_DATA_MEMBER_LOCATION, F_DECLARATION,
                          F_ENCODING, F_EXTERNAL, F_INLINE, F_LOCATION, F_LOW_PC, F_NAME,
                          F_OFFSET, F_PARENT, F_SPECIFICATION, F_TAG, F_TYPE,
                          F_UPPER_BOUND)

SANITIZED_INT = "__SANITIZED_FAKE_INT__"
ANNOTATION_TAGS = (Tag.LLVM_annotation,)
SIGNED_ATE = (Ate.signed, Ate.signed_char)
# Qualifiers BTF has no kind for: the type they qualify stands in for them.
TRANSPARENT_TAGS = (Tag.atomic_type, Tag.immutable_type, Tag.packed_type, Tag.shared_type)


# What newer pahole's DWARF loader marks on a function (FuncCandidate.flags;
# pahole's struct ftype bits of the same names).  Only with Options.func_facts.
OPTIMIZED_PARMS = 1         # a parameter has no location, or one that is not where it came in
UNEXPECTED_REG = 2          # a parameter sits in a register the ABI gives another parameter
UNCERTAIN_PARM_LOC = 4      # a packed struct is passed by value on the stack
REORDERED_PARM = 8          # a concrete instance lists its origin's parameters out of order
SIGNATURE_CHANGED = 16      # clang: DW_CC_nocall (the compiler changed the calling convention)


@record
class FuncCandidate:
    """A DW_TAG_subprogram that may become a FUNC."""
    name: str | None
    proto: FuncProto            # unit-local type ids
    declaration: bool
    external: bool
    low_pc: int | None
    named_params: bool          # every parameter has a name (pahole requires it)
    tags: list[tuple[str, int]] = factory(list)   # (value, component_idx)
    offset: int = 0             # of the DIE, for messages
    flags: int = 0              # OPTIMIZED_PARMS | ... (with Options.func_facts)
    # A concrete instance listing no parameters has `proto` built from its
    # origin's (pahole 1.24 in effect emits that one); newer pahole takes the
    # DIE's own parameter list, kept here when it differs.
    own_proto: FuncProto | None = None


@record
class VarCandidate:
    """A unit-level DW_TAG_variable that may become a VAR."""
    name: str | None
    type: int                   # unit-local; 0 = void
    address: int | None         # from a DW_OP_addr location
    external: bool
    declaration: bool
    has_spec: bool
    tags: list[tuple[str, int]] = factory(list)
    offset: int = 0


@record
class UnitTypes:
    """What one unit contributes: its types and its candidates.

    With signatures (`convert(known=...)`): `known[k]` is the signature of
    the earlier type that id `known_first + k` stands for, and `signed`
    pairs each signature this unit described first with its id here."""
    name: str | None
    types: list[Type]
    funcs: list[FuncCandidate]
    vars: list[VarCandidate]
    warnings: list[str]
    known: list[bytes] = factory(list)
    signed: list[tuple[bytes, int]] = factory(list)
    # With `convert(compact=True)`: the types as dedup's (label, refs)
    # pairs, and `types` None when the compiled makers built them.
    labels: list | None = None
    refs: list | None = None


@record
class Options:
    """The encoding choices that change how one unit converts."""
    float: bool = True          # FLOAT kind (else floats become INT, as pahole without it)
    type_tag: bool = True
    decl_tag: bool = True
    enum64: bool = True
    little_endian: bool = True
    pointer_size: int = 8
    func_facts: bool = False    # FuncCandidate.flags: parameter locations (newer pahole rules)
    machine: int = 0            # ELF e_machine: which registers carry parameters


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
        index = _uleb_operand(loc)
        return addrx(index) if index is not None else None
    return None


def _uleb_operand(expr: bytes) -> int | None:
    """The ULEB128 operand of the expression's first operation, or None when
    the expression ends inside it."""
    try:
        return read_uleb(expr, 1)[0]
    except IndexError:
        return None


def _member_offset(loc) -> int:
    """Byte offset from DW_AT_data_member_location: a constant or DW_OP_plus_uconst."""
    if loc is None:
        return 0
    if isinstance(loc, int):
        return loc
    if len(loc) >= 2 and loc[0] == Op.plus_uconst:
        return _uleb_operand(loc) or 0
    return 0


class _Unit:
    """The state of converting one unit; `convert()` is the entry point."""

    def __init__(self, dies: list[tuple], index: dict[int, int], first_id: int,
                 opts: Options, addrx, producer: str | None = None, loclist=None,
                 todo=None, known=None, known_first: int = 0, compact: bool = False):
        self.dies = dies
        self.compact = compact
        self.labels = self.refs = None
        # The records to convert (all, unless `known` says some types were
        # described by earlier units: then those become references).
        self.todo = range(len(dies)) if todo is None else todo
        self.partial = todo is not None
        self.known = known
        self.known_first = known_first
        self.new = set(self.todo) if known is not None else None
        self.known_sigs: list[bytes] = []
        self.signed_pairs: list[tuple[bytes, int]] | None = None   # signed(), if C knew it
        self.candidates: tuple[list, list] | None = None   # convert()'s, if C made them
        self.addrx = addrx
        self.producer = producer
        self.loclist = loclist
        self.func_flags: dict[int, int] = {}    # subprogram DIE index -> flags
        self.index = index
        self.first_id = first_id
        self.opts = opts
        self.types: list[Type] = []
        self.ids: dict[int, int] = {}           # DIE index -> type id (0 = void)
        self.children: dict[int, list[int]] = {}
        self.warnings: list[str] = []
        self.int_id: int | None = None
        self.needs_int = False
        # Annotation DIEs (clang's btf_type_tag/btf_decl_tag) are rare:
        # looked for only in a unit that has some.
        has_tag = getattr(dies, "has_tag", None)
        self.annotated = any(has_tag(t) for t in ANNOTATION_TAGS) if has_tag else \
            any(d[F_TAG] in ANNOTATION_TAGS for d in dies)

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
        if self.known is not None and i not in self.new:
            sig = self.known(i)
            if sig is not None:
                got = self.ids[i] = self.known_first + len(self.known_sigs)
                self.known_sigs.append(sig)
                return got
        d = self.dies[i]
        if d[F_TAG] in TRANSPARENT_TAGS and depth < 64:
            j = self.die_of(d[F_TYPE])
            got = 0 if j is None else self.type_of(j, depth + 1)
        else:
            self.warnings.append(f"DIE {d[F_OFFSET]:#x} ({name_of(Tag, d[F_TAG])}) is not "
                                 f"a type BTF has: void")
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
        out: list[str] = []
        if not self.annotated:
            return out
        for c in self.children.get(i, ()):
            d = self.dies[c]
            if d[F_TAG] in ANNOTATION_TAGS and d[F_NAME] == kind and \
                    isinstance(d[F_CONST_VALUE], str):
                out.append(d[F_CONST_VALUE])
        return out

    # -- the passes ----------------------------------------------------------

    def convert(self) -> tuple[list[FuncCandidate], list[VarCandidate]]:
        dies, todo = self.dies, self.todo
        if hasattr(dies, "children"):
            self.children = _Children(dies)
        else:
            for i, d in enumerate(dies):
                p = d[F_PARENT]
                if p >= 0:
                    self.children.setdefault(p, []).append(i)
        if not self.compiled_types():
            self.make_types()
        elif self.candidates is not None:
            return self.candidates      # made with the types (no annotations: no decl tags)
        if self.opts.func_facts:
            self.func_flags = _FuncFacts(self).flags()
        funcs, vars_ = [], []
        tagged = getattr(dies, "tagged", None)
        for i in todo if tagged is None else \
                tagged(todo, (int(Tag.subprogram), int(Tag.variable))):
            d = dies[i]
            if d[F_TAG] == Tag.subprogram:
                funcs.append(self.function(i, d))
            elif d[F_TAG] == Tag.variable and d[F_PARENT] == -1:
                vars_.append(self.variable(i, d))
        if self.opts.decl_tag:
            self.aggregate_decl_tags()
        return funcs, vars_

    def compiled_types(self) -> bool:
        """`make_types` by _cconvert.c, straight to dedup's compact form, when
        asked for it and the unit holds nothing the C makers leave to this
        file (annotations, anything convert.py would warn or raise about)."""
        dies = self.dies
        if not self.compact or _compiled_types is None or self.annotated or \
                not hasattr(dies, "classify") or (self.known is not None) != self.partial:
            return False
        from ..dwarf.fast import Fallback
        o = self.opts
        # the candidates too, unless func_facts wants their flags first
        makers = None if o.func_facts else (FuncCandidate, VarCandidate, FuncProto, Param,
                                            self.addrx)
        try:
            labels, refs, ids, known, int_id, needs_int, signed, self.candidates = \
                _compiled_types(dies, self.todo if self.partial else None, self.first_id,
                                self.known_first, o.float, o.enum64, o.pointer_size,
                                o.little_endian, makers)
        except Fallback:
            return False
        self.labels, self.refs, self.ids = labels, refs, ids
        self.known_sigs, self.signed_pairs = known, signed
        self.int_id, self.needs_int = int_id, needs_int
        self.types = None
        return True

    def make_types(self) -> None:
        """Every type DIE of the unit to a model type, in DIE order."""
        dies, todo = self.dies, self.todo
        # Ids first, so references can point forward; then the types.
        for i in todo:
            tag = dies[i][F_TAG]
            if tag in _MAKERS:
                self.ids[i] = self.new_id()
            elif tag == Tag.unspecified_type:
                self.ids[i] = 0
        first_int = getattr(dies, "first_int", None)
        if first_int is None:
            first_int = next((i for i, d in enumerate(dies) if d[F_TAG] == Tag.base_type
                              and d[F_NAME] == "int"), -1)
        if first_int >= 0:
            self.int_id = self.type_of(first_int)
        for i in todo:
            d = dies[i]
            make = _MAKERS.get(d[F_TAG])
            if make is not None:
                make(self, i, d)
        if self.needs_int and self.int_id is None:
            self.int_id = self.add(Int("int", 4, 32, IntEncoding.SIGNED))
            for t in self.types:
                if isinstance(t, Array) and t.index_type == -1:
                    t.index_type = self.int_id

    # -- one maker per DWARF tag -------------------------------------------

    def base_type(self, i: int, d: tuple) -> None:
        name, size, ate = d[F_NAME] or "", d[F_BYTE_SIZE] or 0, d[F_ENCODING]
        if ate in (Ate.float, Ate.complex_float, Ate.imaginary_float) and self.opts.float:
            if ate == Ate.float:
                self.put(self.ids[i], Float(name, _fits(d, size, 32, "byte size")))
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
        members, kflag, where = [], False, []
        for c in self.children.get(i, ()):
            m = self.dies[c]
            if m[F_TAG] != Tag.member:
                continue
            if not union and m[F_DATA_MEMBER_LOCATION] is None and \
                    m[F_DATA_BIT_OFFSET] is None:
                continue    # a static member (C++)
            bits = _fits(m, m[F_BIT_SIZE] or 0, 8, "bit size")
            offset = _fits(m, self.member_bit_offset(m, bits), 32, "member bit offset")
            kflag = kflag or bits != 0 or offset % 8 != 0
            members.append(Member(m[F_NAME] or "", self.ref(m[F_TYPE]), offset, bits))
            where.append(m)
        if kflag:
            # Beside a bitfield size an offset has 24 bits (libbpf refuses more).
            for m, mem in zip(where, members):
                _fits(m, mem.offset, 24, "member bit offset in a struct with bitfields")
        _vlen(d, len(members))
        cls = Union if union else Struct
        self.put(self.ids[i], cls(name, _fits(d, d[F_BYTE_SIZE] or 0, 32, "byte size"),
                                  members, kflag))

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
        size = _fits(d, d[F_BYTE_SIZE] or 4, 32, "byte size")
        raw = []
        for c in self.children.get(i, ()):
            e = self.dies[c]
            if e[F_TAG] == Tag.enumerator:
                v = e[F_CONST_VALUE]
                raw.append((e[F_NAME] or "", v if isinstance(v, int) else 0))
        _vlen(d, len(raw))
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
        _vlen(self.dies[i], len(params))
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
        own_proto = None
        if not where and d[F_ABSTRACT_ORIGIN] is not None:
            # A concrete instance that lists no parameters: take the origin's.
            o = self.die_of(d[F_ABSTRACT_ORIGIN])
            if o is not None:
                own = proto
                proto, named, where = self.proto(o, ret)
                if len(proto.params) != len(own.params):
                    own_proto = own
        tags = []
        if self.opts.decl_tag:
            tags = [(v, -1) for v in self.annotations(i, "btf_decl_tag")]
            for idx, c in enumerate(where):
                tags += [(v, idx) for v in self.annotations(c, "btf_decl_tag")]
        return FuncCandidate(
            name=self.origin_chain(d, F_NAME), proto=proto,
            declaration=bool(d[F_DECLARATION]),
            external=bool(self.origin_chain(d, F_EXTERNAL)),
            low_pc=d[F_LOW_PC], named_params=named, tags=tags, offset=d[F_OFFSET],
            flags=self.func_flags.get(i, 0), own_proto=own_proto)

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

    def signed(self) -> list[tuple[bytes, int]]:
        """(signature, id) of every type this unit describes first."""
        if self.signed_pairs is not None:
            return self.signed_pairs
        signed = getattr(self.dies, "signed", None)
        if signed is not None:
            return [(sig, self.type_of(i)) for i, sig in signed(self.todo)]
        out = []
        known = self.known
        for i in self.todo:
            sig = known(i)
            if sig is not None:
                out.append((sig, self.type_of(i)))
        return out

    def aggregate_decl_tags(self) -> None:
        """DECL_TAGs on structs, unions, their members, and typedefs."""
        if not self.annotated:
            return
        for i in self.todo:
            d = self.dies[i]
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


# -- what newer pahole learns from parameter locations --------------------------

_REG0, _REG31 = Op.reg0, Op.reg0 + 31
_BREG0, _BREG31 = Op.breg0, Op.breg0 + 31
_CONST_OPS = frozenset([*range(Op.lit0, Op.lit0 + 32), Op.constu, Op.consts])
_ENTRY_VALUE_OPS = (Op.entry_value, Op.GNU_entry_value)
_STRUCT_TAGS = (Tag.structure_type, Tag.class_type, Tag.interface_type)
_UNKNOWN_REG = -1

# e_machine -> (how many parameters go in registers, DW_OP_reg<n> of each
# (None: not checked), whether an aggregate may take two registers).  As
# dwarf_loader.c's arch__nr_register_params / arch__set_register_params;
# other machines: 0 registers, which turns the register checks off.
_X86_64 = (Op.reg5, Op.reg4, Op.reg1, Op.reg2, Op.reg8, Op.reg9)   # rdi rsi rdx rcx r8 r9
_ARM = tuple(Op.reg0 + n for n in range(8))
_ABI = {
    22: (5, (Op.reg2, Op.reg3, Op.reg4, Op.reg5, Op.reg6), False),      # s390: r2-r6
    2: (6, (None,) * 6, True), 43: (6, (None,) * 6, True),              # SPARC, SPARCV9
    62: (6, _X86_64, True),                                             # x86-64
    183: (8, _ARM, True), 40: (8, _ARM, True),                          # arm64, arm
    45: (8, (None,) * 8, True), 8: (8, (None,) * 8, True),              # ARC, MIPS
    20: (8, (None,) * 8, True), 21: (8, (None,) * 8, True),             # PPC, PPC64
    243: (8, (None,) * 8, True),                                        # RISC-V
}


@record
class _Param:
    """One DW_TAG_formal_parameter of a subprogram, as pahole's loader sees it."""
    die: int
    idx: int                    # position among its subprogram's parameters
    type: int | None            # DIE offset of its type (the origin's if it has none)
    size: int                   # bytes of its type (pahole's get_type_byte_size)
    in_memory: bool             # too big for the registers an aggregate may take
    has_loc: bool
    has_const: bool
    loc_reg: int = _UNKNOWN_REG     # DW_OP_reg<n> it arrives in, when known
    loc_stack: bool = False
    loc_const: bool = False
    optimized: bool = False
    unexpected: bool = False


class _FuncFacts:
    """FuncCandidate.flags for every subprogram of one unit.

    Newer pahole (dwarf_loader.c as of 2026-07) reads each parameter's
    location: the first entry of a location list says the register (or
    stack slot, or constant) the parameter arrives in.  A concrete
    instance's parameters share what they know with their abstract origin's,
    so the abstract function learns it too.  Then, per function, it walks
    the parameters against the ABI's argument registers:

    - GCC (and clang when DW_CC_nocall says the signature changed): a
      parameter with a location but no known entry register, or (GCC) with
      a DW_AT_const_value instead of a location, is "optimized"; one in a
      register the ABI gives another parameter is "unexpected";
    - clang otherwise: only "unexpected" (the register must fall in the
      parameter's slots).

    A function is OPTIMIZED_PARMS if any parameter is optimized or has no
    location, UNEXPECTED_REG if any is unexpected and no parameter is a
    struct (a struct may take two registers and shift the rest).
    """

    def __init__(self, unit: "_Unit"):
        self.u = unit
        self.dies = unit.dies
        self.addr_size = unit.opts.pointer_size
        self.nregs, self.regs, self.two_regs = _ABI.get(int(unit.opts.machine), (0, (), True))
        self.clang = "clang" in (unit.producer or "")
        self.packed: dict[int, bool] = {}
        self.align: dict[int, int] = {}

    def flags(self) -> dict[int, int]:
        dies, u = self.dies, self.u
        params: dict[int, _Param] = {}
        funcs: list[tuple[int, list[_Param]]] = []
        for i in u.todo:
            d = dies[i]
            if d[F_TAG] != Tag.subprogram:
                continue
            plist = []
            for c in u.children.get(i, ()):
                if dies[c][F_TAG] == Tag.formal_parameter:
                    p = self.param(c, len(plist))
                    params[c] = p
                    plist.append(p)
            funcs.append((i, plist))
        out: dict[int, int] = {}
        # A concrete instance's parameters tell their origin what they know
        # (pahole: ftype__recode_dwarf_types).
        for i, plist in funcs:
            for p in plist:
                d = dies[p.die]
                if d[F_TYPE] is not None or d[F_ABSTRACT_ORIGIN] is None:
                    continue
                o = params.get(u.die_of(d[F_ABSTRACT_ORIGIN]))
                if o is None:
                    continue
                if o.idx != p.idx:
                    out[i] = out.get(i, 0) | REORDERED_PARM
                o.has_loc |= p.has_loc
                o.has_const |= p.has_const
                o.loc_const |= p.loc_const
                o.loc_stack |= p.loc_stack
                if p.loc_reg != _UNKNOWN_REG:
                    o.loc_reg = p.loc_reg
                if p.size:
                    o.size = p.size
                o.in_memory |= p.in_memory
        for i, plist in funcs:
            f = out.get(i, 0)
            if self.clang and self.signature_changed(dies[i]):
                f |= SIGNATURE_CHANGED
            if self.clang and not f & SIGNATURE_CHANGED:
                self.check_clang(plist)
            else:
                self.check(plist)
            if any(p.optimized or not p.has_loc for p in plist):
                f |= OPTIMIZED_PARMS
            if any(p.unexpected for p in plist) and \
                    not any(self.is_struct(p.type) for p in plist):
                f |= UNEXPECTED_REG
            if self.uncertain_location(plist):
                f |= UNCERTAIN_PARM_LOC
            if f:
                out[i] = f
        return out

    # -- one parameter -----------------------------------------------------------

    def param(self, c: int, idx: int) -> _Param:
        u, d = self.u, self.dies[c]
        origin = u.die_of(d[F_ABSTRACT_ORIGIN])
        o = self.dies[origin] if origin is not None else None
        size = self.type_size((o if o is not None else d)[F_TYPE])
        ptype = d[F_TYPE] if d[F_TYPE] is not None or o is None else o[F_TYPE]
        limit = 2 * self.addr_size if self.two_regs else self.addr_size
        p = _Param(c, idx, ptype, size, size > limit, d[F_LOCATION] is not None,
                   d[F_CONST_VALUE] is not None)
        if p.has_loc:
            self.decode_location(p, d[F_LOCATION])
        return p

    def type_size(self, ref: int | None) -> int:
        """pahole's __get_type_byte_size: a pointer is an address, else the
        first DW_AT_byte_size down the DW_AT_type chain."""
        for _ in range(64):
            i = self.u.die_of(ref)
            if i is None:
                return 0
            t = self.dies[i]
            if t[F_TAG] == Tag.pointer_type:
                return self.addr_size
            if t[F_BYTE_SIZE]:
                return t[F_BYTE_SIZE]
            ref = t[F_TYPE]
        return 0

    def expressions(self, loc) -> list[bytes]:
        if isinstance(loc, (bytes, bytearray)):
            return [bytes(loc)]
        if self.u.loclist is None:
            return []
        try:
            return self.u.loclist(loc) or []
        except DwarfError:
            return []

    def decode_location(self, p: _Param, loc) -> None:
        """Where the parameter arrives, from the first entry of its location
        (pahole's parameter__decode_location; entry values count anywhere)."""
        for n, expr in enumerate(self.expressions(loc)):
            try:
                ops = list(operations(expr, self.addr_size))
            except DwarfError:
                return          # libdw stops at a bad expression
            if not ops:
                continue
            stack_value = ops[-1][0] == Op.stack_value
            if len(ops) == 2 and stack_value:
                ops = ops[:1]
            if len(ops) != 1:
                self.decode_pieces(p, ops, n)
                continue
            op, args = ops[0]
            if _REG0 <= op <= _REG31:
                if n == 0:
                    self.set_reg(p, op)
            elif _BREG0 <= op <= _BREG31:
                if n == 0 and stack_value:
                    self.set_reg(p, op - _BREG0 + _REG0)
            elif op == Op.fbreg:
                if n == 0:
                    p.loc_stack = True
            elif op in _CONST_OPS:
                if n == 0:
                    p.loc_const = True
            elif op in _ENTRY_VALUE_OPS:
                try:
                    sub = list(operations(args[0], self.addr_size))
                except DwarfError:
                    continue
                if len(sub) == 1 and _REG0 <= sub[0][0] <= _REG31:
                    self.set_reg(p, sub[0][0])

    def decode_pieces(self, p: _Param, ops: list, n: int) -> None:
        """A location of several operations (pahole's parameter__multi_exprs)."""
        op = ops[0][0]
        if op in _CONST_OPS:
            if n == 0:
                p.loc_const = True
            return
        if p.size <= self.addr_size or not self.two_regs:
            if n != 0:
                return
            if _REG0 <= op <= _REG31:
                self.set_reg(p, op)
            elif _BREG0 <= op <= _BREG31 and any(o == Op.stack_value for o, _ in ops[1:]):
                self.set_reg(p, op - _BREG0 + _REG0)
            return
        # An aggregate in pieces: the first register named anywhere.
        for o, _ in ops:
            if _REG0 <= o <= _REG31:
                self.set_reg(p, o)

    @staticmethod
    def set_reg(p: _Param, reg: int) -> None:
        if p.loc_reg == _UNKNOWN_REG:
            p.loc_reg = reg

    # -- one function --------------------------------------------------------------

    def slots(self, p: _Param) -> int:
        if not self.two_regs or p.size <= self.addr_size:
            return 1
        return max(1, (p.size + self.addr_size - 1) // self.addr_size)

    def expected(self, reg_idx: int, slots: int) -> tuple:
        return tuple(self.regs[k] for k in range(reg_idx, min(reg_idx + slots, self.nregs)))

    def check_clang(self, plist: list[_Param]) -> None:
        """clang, signature unchanged: each known register must be one of the
        parameter's ABI slots."""
        reg_idx = 0
        for p in plist:
            slots = self.slots(p)
            if p.in_memory:
                continue
            if reg_idx >= self.nregs:
                break
            if p.loc_reg != _UNKNOWN_REG and p.loc_reg not in self.expected(reg_idx, slots):
                p.unexpected = True
            reg_idx += slots

    def check(self, plist: list[_Param]) -> None:
        """GCC (or clang with a changed signature): optimized and unexpected."""
        reg_idx = 0
        for p in plist:
            consumes = True
            if p.has_loc:
                if reg_idx >= self.nregs:
                    consumes = False
                elif p.loc_reg == _UNKNOWN_REG:
                    p.optimized = True
                else:
                    expected = self.regs[reg_idx]
                    if expected is not None and expected != p.loc_reg:
                        p.unexpected = True
            elif p.has_const and not self.clang:
                p.optimized = True
            if consumes:
                reg_idx += 1 if p.in_memory else self.slots(p)

    def signature_changed(self, d: tuple) -> bool:
        """clang's DW_CC_nocall on the function, or on its abstract origin."""
        if d[F_INLINE]:
            return False
        if d[F_ABSTRACT_ORIGIN] is None:
            return d[F_CALLING_CONVENTION] == Cc.nocall
        o = self.u.die_of(d[F_ABSTRACT_ORIGIN])
        return o is not None and self.dies[o][F_CALLING_CONVENTION] == Cc.nocall

    def is_struct(self, ref: int | None) -> bool:
        """pahole's param__is_struct: a struct, through const and typedef."""
        for _ in range(64):
            i = self.u.die_of(ref)
            if i is None:
                return False
            t = self.dies[i]
            if t[F_TAG] == Tag.structure_type:
                return True
            if t[F_TAG] not in (Tag.const_type, Tag.typedef):
                return False
            ref = t[F_TYPE]
        return False

    # -- packed structs passed on the stack (pahole 1.31: uncertain_parm_loc) ----------

    def uncertain_location(self, plist: list[_Param]) -> bool:
        """A named struct, packed, passed by value after the register
        parameters (pahole's ftype__has_uncertain_arg_loc: the stack slot
        may not be what DWARF says)."""
        if len(plist) < self.nregs:
            return False
        for p in plist[self.nregs:]:
            i = self.u.die_of(p.type)
            if i is None:
                continue
            t = self.dies[i]
            if t[F_TAG] in _STRUCT_TAGS and t[F_NAME] and self.is_packed(i):
                return True
        return False

    def strip(self, ref: int | None) -> int | None:
        """DIE index of a type with typedefs and qualifiers taken off."""
        for _ in range(64):
            i = self.u.die_of(ref)
            if i is None:
                return None
            t = self.dies[i]
            if t[F_TAG] not in (Tag.typedef, Tag.const_type, Tag.volatile_type,
                                Tag.restrict_type, *TRANSPARENT_TAGS):
                return i
            ref = t[F_TYPE]
        return None

    def natural_alignment(self, i: int | None, depth: int = 0) -> int:
        """pahole's tag__natural_alignment (1 for anything unsized)."""
        if i is None or depth > 32:
            return 1
        t = self.dies[i]
        tag = t[F_TAG]
        if tag == Tag.pointer_type:
            a = self.addr_size
        elif tag in (Tag.base_type, Tag.enumeration_type):
            a = t[F_BYTE_SIZE] or 0
        elif tag in _STRUCT_TAGS or tag == Tag.union_type:
            a = self.align.get(i)
            if a is None:
                a = 0
                for m in self.members(i):
                    a = max(a, self.natural_alignment(self.strip(self.dies[m][F_TYPE]),
                                                      depth + 1))
                self.align[i] = a
        elif tag == Tag.array_type:
            a = self.natural_alignment(self.strip(t[F_TYPE]), depth + 1)
        else:
            a = 1
        return a or 1

    def members(self, i: int) -> list[int]:
        return [c for c in self.u.children.get(i, ()) if self.dies[c][F_TAG] == Tag.member
                and (self.dies[c][F_DATA_MEMBER_LOCATION] is not None
                     or self.dies[c][F_DATA_BIT_OFFSET] is not None
                     or self.dies[i][F_TAG] == Tag.union_type)]

    def is_packed(self, i: int) -> bool:
        """pahole's class__infer_packed_attributes, without its hole-finding
        corner cases for bitfields: no holes or tail padding, and a member
        off its natural alignment or a size no multiple of it."""
        got = self.packed.get(i)
        if got is not None:
            return got
        t = self.dies[i]
        size = t[F_BYTE_SIZE] or 0
        packed = False
        seen = 0            # bits covered so far
        holes = False
        placed = []
        for m in self.members(i):
            d = self.dies[m]
            bits = d[F_BIT_SIZE] or 0
            start = self.u.member_bit_offset(d, bits)
            end = start + (bits or 8 * self.type_size(d[F_TYPE]))
            if start // 8 > (seen + 7) // 8:
                holes = True
            seen = max(seen, end)
            placed.append((start // 8, self.strip(d[F_TYPE])))
        if holes or size * 8 > (seen + 7) // 8 * 8:
            packed = False
        else:
            top = 1
            for byte_offset, mt in placed:
                a = self.natural_alignment(mt)
                if a == 1:
                    continue
                top = max(top, a)
                if byte_offset % a:
                    packed = True
                    break
            else:
                packed = bool(size % top)
        self.packed[i] = packed
        return packed


def _fits(d: tuple, v: int, bits: int, what: str) -> int:
    """`v` if it is in [0, 2**bits), else a DwarfError naming the DIE: BTF
    keeps sizes and offsets in unsigned fields of that width."""
    if 0 <= v < 1 << bits:
        return v
    raise DwarfError(f"{name_of(Tag, d[F_TAG])}: {what} {v} does not fit BTF "
                     f"(unsigned, {bits} bits)", section=".debug_info", offset=d[F_OFFSET])


def _vlen(d: tuple, n: int) -> None:
    """Members, values or parameters are counted in 24 bits of a BTF type."""
    if n > MAX_VLEN_WIDE:
        raise DwarfError(f"{name_of(Tag, d[F_TAG])} has {n} entries; BTF counts at most "
                         f"{MAX_VLEN_WIDE}", section=".debug_info", offset=d[F_OFFSET])


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


class _Children:
    """`children.get(i, ())` answered by the compiled walk's records."""

    __slots__ = ("dies", "cache")

    def __init__(self, dies):
        self.dies = dies
        self.cache: dict[int, list[int]] = {}

    def get(self, i: int, default=()):
        got = self.cache.get(i)
        if got is None:
            got = self.cache[i] = self.dies.children(i)
        return got or default


def convert(dies: list[tuple], index: dict[int, int], *, first_id: int = 1,
            opts: Options | None = None, name: str | None = None,
            addrx=None, producer: str | None = None, loclist=None,
            todo=None, known=None, known_first: int = 0,
            compact: bool = False) -> UnitTypes:
    """Convert one unit's DIE records.

    `index` maps DIE offsets to positions in `dies`; `addrx` resolves a
    DW_OP_addrx index through the unit's .debug_addr.  For
    `Options.func_facts`: `producer` is the unit's DW_AT_producer and
    `loclist(offset)` gives the expressions of a location list, in order.

    `todo` (record indexes) and `known(i)` (a type's signature, or None)
    come from the compiled walk's `classify`: only the records in `todo` are
    converted; a type outside it with a signature was described by an
    earlier unit and becomes the reference known_first + k (UnitTypes.known).

    With `compact`, the compiled makers (_cconvert.c) may give the types as
    dedup's (label, refs) pairs instead (UnitTypes.labels and .refs; then
    `types` is None): the same types, without the model in between.
    """
    u = _Unit(dies, index, first_id, opts or Options(), addrx, producer, loclist,
              todo, known, known_first, compact)
    funcs, vars_ = u.convert()
    signed = u.signed() if known is not None else []
    return UnitTypes(name, u.types, funcs, vars_, u.warnings, u.known_sigs, signed,
                     u.labels, u.refs)

