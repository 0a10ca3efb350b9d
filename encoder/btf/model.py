"""The BTF type model: one small class per kind, and the container `Btf`.

Types refer to each other by type id (0 is void), exactly as on the wire, so
a model read from bytes writes back to the same bytes and a split BTF can
point into its base.  Names are Python strings; the string table lives in
the container, not in the types.

Every class carries the kind_flag meaning of its kind as a named field
(`Struct.kflag` for packed bitfield offsets, `Enum.signed`, `Fwd.union`,
`DeclTag.attr`/`TypeTag.attr` for arbitrary attributes); the FUNC linkage
lives in the vlen bits on the wire and in `Func.linkage` here.
"""

from __future__ import annotations

from typing import ClassVar, Iterator, Union as _U

from ..record import factory, record
from .kinds import FuncLinkage, IntEncoding, Kind, VarLinkage
from .strings import StringTable


@record
class Int:
    kind: ClassVar[Kind] = Kind.INT
    name: str
    size: int
    bits: int
    encoding: IntEncoding = IntEncoding.NONE
    offset: int = 0


@record
class Ptr:
    kind: ClassVar[Kind] = Kind.PTR
    type: int
    name: str = ""


@record
class Array:
    kind: ClassVar[Kind] = Kind.ARRAY
    type: int
    index_type: int
    nelems: int
    name: str = ""


@record
class Member:
    name: str
    type: int
    offset: int            # bits from the start of the aggregate
    bitfield_size: int = 0


@record
class Struct:
    """A struct; with `kflag` set, member offsets carry bitfield sizes."""
    kind: ClassVar[Kind] = Kind.STRUCT
    name: str
    size: int
    members: list[Member] = factory(list)
    kflag: bool = False


@record
class Union:
    kind: ClassVar[Kind] = Kind.UNION
    name: str
    size: int
    members: list[Member] = factory(list)
    kflag: bool = False


@record
class EnumValue:
    name: str
    value: int             # as the source meant it: negative only when signed


@record
class Enum:
    """An enum with 32-bit values; `signed` is the kind_flag."""
    kind: ClassVar[Kind] = Kind.ENUM
    name: str
    size: int
    values: list[EnumValue] = factory(list)
    signed: bool = False


@record
class Enum64:
    kind: ClassVar[Kind] = Kind.ENUM64
    name: str
    size: int
    values: list[EnumValue] = factory(list)
    signed: bool = False


@record
class Fwd:
    kind: ClassVar[Kind] = Kind.FWD
    name: str
    union: bool = False


@record
class Typedef:
    kind: ClassVar[Kind] = Kind.TYPEDEF
    name: str
    type: int


@record
class Volatile:
    kind: ClassVar[Kind] = Kind.VOLATILE
    type: int
    name: str = ""


@record
class Const:
    kind: ClassVar[Kind] = Kind.CONST
    type: int
    name: str = ""


@record
class Restrict:
    kind: ClassVar[Kind] = Kind.RESTRICT
    type: int
    name: str = ""


@record
class Func:
    kind: ClassVar[Kind] = Kind.FUNC
    name: str
    type: int              # the FUNC_PROTO
    linkage: FuncLinkage = FuncLinkage.STATIC


@record
class Param:
    name: str
    type: int


@record
class FuncProto:
    """A prototype; a trailing Param('', 0) marks varargs, as on the wire."""
    kind: ClassVar[Kind] = Kind.FUNC_PROTO
    ret: int
    params: list[Param] = factory(list)
    name: str = ""


@record
class Var:
    kind: ClassVar[Kind] = Kind.VAR
    name: str
    type: int
    linkage: VarLinkage = VarLinkage.STATIC


@record
class VarSecinfo:
    type: int
    offset: int
    size: int


@record
class Datasec:
    kind: ClassVar[Kind] = Kind.DATASEC
    name: str
    size: int
    vars: list[VarSecinfo] = factory(list)


@record
class Float:
    kind: ClassVar[Kind] = Kind.FLOAT
    name: str
    size: int


@record
class DeclTag:
    """A tag on a declaration; component_idx -1 tags the whole target."""
    kind: ClassVar[Kind] = Kind.DECL_TAG
    name: str
    type: int
    component_idx: int = -1
    attr: bool = False


@record
class TypeTag:
    kind: ClassVar[Kind] = Kind.TYPE_TAG
    name: str
    type: int
    attr: bool = False


@record
class Unknown:
    """A kind this reader does not know, kept as it was thanks to the layout
    section; its references and strings beyond `name` are not interpreted."""
    kind: int
    name: str
    vlen: int
    kflag: bool
    size_or_type: int
    data: bytes


Type = _U[Int, Ptr, Array, Struct, Union, Enum, Enum64, Fwd, Typedef, Volatile,
          Const, Restrict, Func, FuncProto, Var, Datasec, Float, DeclTag,
          TypeTag, Unknown]

CLASS_OF_KIND: dict[Kind, type] = {
    cls.kind: cls for cls in (Int, Ptr, Array, Struct, Union, Enum, Enum64, Fwd,
                              Typedef, Volatile, Const, Restrict, Func, FuncProto,
                              Var, Datasec, Float, DeclTag, TypeTag)
}

# Kinds whose single `type` field is their only reference.
REF_KINDS = frozenset({Kind.PTR, Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST,
                       Kind.RESTRICT, Kind.FUNC, Kind.VAR, Kind.DECL_TAG,
                       Kind.TYPE_TAG})


def type_refs(t: Type) -> Iterator[int]:
    """Yield every type id `t` refers to, in wire order (void included)."""
    k = t.kind
    if k in REF_KINDS:
        yield t.type
    elif k == Kind.ARRAY:
        yield t.type
        yield t.index_type
    elif k in (Kind.STRUCT, Kind.UNION):
        for m in t.members:
            yield m.type
    elif k == Kind.FUNC_PROTO:
        yield t.ret
        for p in t.params:
            yield p.type
    elif k == Kind.DATASEC:
        for v in t.vars:
            yield v.type


class Btf:
    """A BTF: its types in id order, its strings, and the base it splits from.

    For base BTF the first type has id 1; for split BTF, ids and string
    offsets continue after the base's (`start_id`, `strings.start`).
    `hdr_len` and `layout` say how it was, or will be, written.
    """

    def __init__(self, types: list[Type] | None = None, *,
                 strings: StringTable | None = None, base: "Btf | None" = None,
                 hdr_len: int = 24, layout: list[tuple[int, int, int]] | None = None,
                 endian: str = "<"):
        self.types: list[Type] = types if types is not None else []
        self.base = base
        self.strings = strings if strings is not None else StringTable(
            base=base.strings if base is not None else None)
        self.hdr_len = hdr_len
        self.layout = layout
        self.endian = endian

    @property
    def start_id(self) -> int:
        """The id of this BTF's first own type."""
        return self.base.type_count if self.base is not None else 1

    @property
    def type_count(self) -> int:
        """One past the last id, void and base included (btf__type_cnt)."""
        return self.start_id + len(self.types)

    def __getitem__(self, type_id: int) -> Type:
        start = self.start_id
        if type_id >= start:
            return self.types[type_id - start]
        if self.base is not None:
            return self.base[type_id]
        raise IndexError(f"type id {type_id} is void or out of range")

    def has(self, type_id: int) -> bool:
        """True for ids of real types (not void) in this BTF or its bases."""
        return 0 < type_id < self.type_count

    def add(self, t: Type) -> int:
        """Append a type and return its id."""
        self.types.append(t)
        return self.type_count - 1

    def levels(self) -> list["Btf"]:
        """This BTF and the bases below it, base-most first (id order)."""
        out = []
        level = self
        while level is not None:
            out.append(level)
            level = level.base
        return out[::-1]

    def own_ids(self) -> range:
        return range(self.start_id, self.type_count)

    # The Python API's conveniences (encoder/api.py); the work is elsewhere.
    def to_bytes(self) -> bytes:
        """The BTF blob (writer.encode)."""
        from .writer import encode
        return encode(self)

    def dump(self, format: str = "raw") -> str:
        """`bpftool btf dump file` text, or with format="json" its `-j` document."""
        from .dump import dump_json, dump_text
        return dump_json(self) if format == "json" else "".join(dump_text(self))

    def write(self, path) -> None:
        """Write the blob to `path` as a raw BTF file, atomically."""
        from ..output import write_btf_file
        write_btf_file(path, self.to_bytes())

    def size_of(self, type_id: int, pointer_size: int = 8) -> int:
        """Bytes of a type, through typedefs, modifiers and tags (0: unsized)."""
        for _ in range(64):
            if type_id == 0:
                return 0
            t = self[type_id]
            k = t.kind
            if k in _SIZED:
                return t.size
            if k == Kind.PTR:
                return pointer_size
            if k == Kind.ARRAY:
                return self.size_of(t.type, pointer_size) * t.nelems
            if k not in _SEE_THROUGH:
                return 0
            type_id = t.type
        return 0


_SIZED = frozenset({Kind.INT, Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64, Kind.FLOAT,
                    Kind.DATASEC})
_SEE_THROUGH = frozenset({Kind.TYPEDEF, Kind.VOLATILE, Kind.CONST, Kind.RESTRICT,
                          Kind.TYPE_TAG, Kind.VAR})
