"""The contract between the DIE walk and its users: which DIEs, which fields.

`walk_unit` (walk.py, and any compiled twin of it) returns, per unit, the
DIEs BTF needs as plain tuples with the fields of `DIE_FIELDS`, in this
order.  The tuple layout, the value conventions below and the keep policy
at the bottom are the whole contract; nothing else about the walk is.

Value conventions
-----------------
offset      absolute offset of the DIE in .debug_info.
tag         DW_TAG_* (int).
parent      index (in the same list) of the nearest kept ancestor; -1 for
            a DIE directly under the unit DIE, which itself is not listed.
            DIEs found inside function bodies (a struct declared in a
            lexical block) get the enclosing subprogram as parent.
name, linkage_name
            str (DW_AT_linkage_name, or DW_AT_MIPS_linkage_name).
type, specification, abstract_origin, annotation
            references as absolute .debug_info offsets (int); a
            DW_FORM_ref_sig8 is a `TypeSig` (never seen: type units are
            refused).  `annotation` is GCC's DW_AT_GNU_annotation.
byte_size, bit_size, data_bit_offset, bit_offset, encoding, alignment,
inline, calling_convention
            int.
data_member_location
            int for a constant form; bytes (a DWARF expression, e.g.
            DW_OP_plus_uconst N) for exprloc/block.
upper_bound, count
            int for a constant form; bytes for an expression; `DieRef`
            (an int subclass, absolute offset) when the bound is another
            DIE (a VLA's artificial variable).
const_value int (data1/2/4/8 and udata unsigned, sdata and implicit_const
            signed), bytes for a block, str for a string form (the value
            of a btf_decl_tag/btf_type_tag annotation).
const_form  the DW_FORM_* const_value was stored with, so a consumer can
            sign-extend data1/2/4/8 by the enumeration's signedness.
external, declaration, prototyped, artificial
            bool (True/False when present, None when absent).
low_pc      int, DW_FORM_addrx already resolved through .debug_addr.
location    bytes: a DWARF expression (exprloc/block); int: the offset of
            a location list in .debug_loclists (DWARF 5, loclistx already
            resolved) or .debug_loc (DWARF 2-4).
Every field of an absent attribute is None.

Strings are decoded once per string offset per walk (UTF-8, invalid bytes
replaced).
"""

from __future__ import annotations

from typing import NamedTuple

from .constants import At, Tag

DIE_FIELDS = (
    "offset", "tag", "parent", "name", "type",
    "byte_size", "bit_size", "data_member_location", "data_bit_offset", "bit_offset",
    "encoding", "upper_bound", "count", "const_value", "const_form",
    "external", "declaration", "specification", "abstract_origin", "low_pc",
    "location", "linkage_name", "inline", "alignment", "prototyped",
    "artificial", "calling_convention", "annotation",
)

(F_OFFSET, F_TAG, F_PARENT, F_NAME, F_TYPE,
 F_BYTE_SIZE, F_BIT_SIZE, F_DATA_MEMBER_LOCATION, F_DATA_BIT_OFFSET, F_BIT_OFFSET,
 F_ENCODING, F_UPPER_BOUND, F_COUNT, F_CONST_VALUE, F_CONST_FORM,
 F_EXTERNAL, F_DECLARATION, F_SPECIFICATION, F_ABSTRACT_ORIGIN, F_LOW_PC,
 F_LOCATION, F_LINKAGE_NAME, F_INLINE, F_ALIGNMENT, F_PROTOTYPED,
 F_ARTIFICIAL, F_CALLING_CONVENTION, F_ANNOTATION) = range(len(DIE_FIELDS))

NFIELDS = len(DIE_FIELDS)


class Die(NamedTuple):
    """One record of the walk with names for its fields: `Die._make(t)`.

    The walk itself returns plain tuples (cheaper); wrap at the edges."""
    offset: int
    tag: int
    parent: int
    name: str | None
    type: int | None
    byte_size: int | None
    bit_size: int | None
    data_member_location: int | bytes | None
    data_bit_offset: int | None
    bit_offset: int | None
    encoding: int | None
    upper_bound: int | bytes | None
    count: int | bytes | None
    const_value: int | bytes | str | None
    const_form: int | None
    external: bool | None
    declaration: bool | None
    specification: int | None
    abstract_origin: int | None
    low_pc: int | None
    location: bytes | int | None
    linkage_name: str | None
    inline: int | None
    alignment: int | None
    prototyped: bool | None
    artificial: bool | None
    calling_convention: int | None
    annotation: int | None


assert Die._fields == DIE_FIELDS


class DieRef(int):
    """An absolute .debug_info offset found in an attribute that is not a
    type reference (e.g. DW_AT_upper_bound of a VLA pointing at a variable)."""

    def __repr__(self) -> str:
        return f"DieRef({int(self):#x})"


class TypeSig(int):
    """A DW_FORM_ref_sig8 type signature (type units are refused, so only a
    malformed or unusual file shows one)."""

    def __repr__(self) -> str:
        return f"TypeSig({int(self):#018x})"


# ---------------------------------------------------------------------------
# Which attribute fills which field (what is not here is skipped undecoded).

ATTR_FIELD = {
    At.name: F_NAME, At.type: F_TYPE, At.byte_size: F_BYTE_SIZE,
    At.bit_size: F_BIT_SIZE, At.data_member_location: F_DATA_MEMBER_LOCATION,
    At.data_bit_offset: F_DATA_BIT_OFFSET, At.bit_offset: F_BIT_OFFSET,
    At.encoding: F_ENCODING, At.upper_bound: F_UPPER_BOUND, At.count: F_COUNT,
    At.const_value: F_CONST_VALUE, At.external: F_EXTERNAL,
    At.declaration: F_DECLARATION, At.specification: F_SPECIFICATION,
    At.abstract_origin: F_ABSTRACT_ORIGIN, At.low_pc: F_LOW_PC,
    At.location: F_LOCATION, At.linkage_name: F_LINKAGE_NAME,
    At.MIPS_linkage_name: F_LINKAGE_NAME, At.inline: F_INLINE,
    At.alignment: F_ALIGNMENT, At.prototyped: F_PROTOTYPED,
    At.artificial: F_ARTIFICIAL, At.calling_convention: F_CALLING_CONVENTION,
    At.GNU_annotation: F_ANNOTATION,
}

REFERENCE_FIELDS = frozenset({F_TYPE, F_SPECIFICATION, F_ABSTRACT_ORIGIN, F_ANNOTATION})
FLAG_FIELDS = frozenset({F_EXTERNAL, F_DECLARATION, F_PROTOTYPED, F_ARTIFICIAL})


# ---------------------------------------------------------------------------
# Which DIEs are kept.  The walk is in one of four contexts; a DIE's tag and
# the context decide whether it is kept and the context of its children.

CTX_ALL = 0    # under the unit DIE, and anywhere inside a kept type: keep all
CTX_FUNC = 1   # direct children of a kept subprogram
CTX_BODY = 2   # inside a lexical block or an inlined subroutine
CTX_SKIP = 3   # inside a subtree being skipped
NCTX = 4

# Actions: 0..3 keep the DIE, its children in that context; 4..7 do not keep
# it, walk its children in context (action - 4); JUMP: skip it and its
# subtree (through DW_AT_sibling when it has one).
PASS = 4
JUMP = 8

# Types can be declared anywhere, also inside function bodies, and pahole
# emits them (e.g. the anonymous packed struct of get_unaligned()).
TYPE_TAGS = frozenset({
    Tag.base_type, Tag.unspecified_type, Tag.pointer_type, Tag.reference_type,
    Tag.rvalue_reference_type, Tag.ptr_to_member_type, Tag.const_type,
    Tag.volatile_type, Tag.restrict_type, Tag.atomic_type, Tag.immutable_type,
    Tag.packed_type, Tag.shared_type, Tag.typedef, Tag.structure_type,
    Tag.union_type, Tag.class_type, Tag.interface_type, Tag.enumeration_type,
    Tag.array_type, Tag.subroutine_type, Tag.string_type, Tag.set_type,
    Tag.file_type, Tag.subrange_type, Tag.generic_subrange, Tag.coarray_type,
    Tag.dynamic_type, Tag.template_alias, Tag.constant,
})
BODY_TAGS = frozenset({Tag.lexical_block, Tag.inlined_subroutine})
FUNC_CHILD_TAGS = frozenset({
    Tag.formal_parameter, Tag.unspecified_parameters,
    Tag.LLVM_annotation, Tag.GNU_annotation,
})


def actions_for(tag: int) -> tuple[int, int, int, int]:
    """The action for a DIE with `tag` in each context (CTX_ALL..CTX_SKIP)."""
    if tag == Tag.subprogram:
        return (CTX_FUNC, CTX_FUNC, CTX_FUNC, JUMP)
    if tag in BODY_TAGS:
        return (PASS + CTX_BODY, PASS + CTX_BODY, PASS + CTX_BODY, JUMP)
    in_func = CTX_ALL if tag in TYPE_TAGS or tag in FUNC_CHILD_TAGS else JUMP
    in_body = CTX_ALL if tag in TYPE_TAGS else JUMP
    return (CTX_ALL, in_func, in_body, JUMP)
