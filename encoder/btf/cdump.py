"""BTF as a C header: `bpftool btf dump file X format c` (vmlinux.h), byte for byte.

vmlinux.h is what BPF programs include, and bpftool's output is its
reference form, so we follow the rules of libbpf's btf_dump rather than
invent nicer ones; `Rules` says which libbpf's (bpftool 7.1's by default):

* Order.  Types are visited in id order; each pulls in first what C needs
  complete before it (a struct embeds its members' types, a typedef needs
  its target).  A named struct or typedef reached only through a pointer
  needs nothing but a forward declaration, emitted when the first user is.
* Names.  Structs, unions and enums share one namespace, typedefs and
  enumerators another; the n-th definition of a name becomes `name___n`.
  Forward declarations and empty 32-bit enums keep their names.
* Layout.  Members carry no offsets in C, so gaps become unnamed bitfields
  (`long: 64;`), a struct whose members or size break natural alignment gets
  `__attribute__((packed))`, and (libbpf 1.6) enums of one or eight bytes
  get a mode().
* Anonymous types are written inline where used; an anonymous enum nothing
  refers to is a top-level list of constants.
* Pointer size: the ELF class when the BTF came from ELF, else the size of
  a `long` INT, else 8; alignments are libbpf's (at most a pointer's size).
"""

from __future__ import annotations

from typing import Callable, Iterator

from ..errors import BtfError
from ..record import record
from .kinds import Kind
from .model import Btf, Type, type_refs

_STRUCT, _UNION, _ENUM, _ENUM64 = Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64
_INT, _FLOAT, _PTR, _ARRAY, _FWD = Kind.INT, Kind.FLOAT, Kind.PTR, Kind.ARRAY, Kind.FWD
_TYPEDEF, _PROTO, _TYPE_TAG = Kind.TYPEDEF, Kind.FUNC_PROTO, Kind.TYPE_TAG
_VOLATILE, _CONST, _RESTRICT = Kind.VOLATILE, Kind.CONST, Kind.RESTRICT
_COMPOSITE = (_STRUCT, _UNION)
_MODS = frozenset({_VOLATILE, _CONST, _RESTRICT, _TYPE_TAG})     # libbpf's btf_is_mod
_QUALIFIER = {_VOLATILE: "volatile", _CONST: "const", _RESTRICT: "restrict"}
_SIZED = frozenset({_INT, _STRUCT, _UNION, _ENUM, _ENUM64, Kind.DATASEC, _FLOAT})
_SEE_THROUGH = frozenset({_TYPEDEF, _VOLATILE, _CONST, _RESTRICT, Kind.VAR,
                          Kind.DECL_TAG, _TYPE_TAG})
_ALIGN_THROUGH = frozenset({_TYPEDEF, _VOLATILE, _CONST, _RESTRICT, _TYPE_TAG})

# What a declaration's chain of types goes through to its named or basic end.
_CHAINING = frozenset({_PTR, _VOLATILE, _CONST, _RESTRICT, _PROTO, _TYPE_TAG})

# Kinds that name other types, for the "referenced" mark of anonymous enums.
_KNOWN = frozenset(Kind) - {Kind.UNKN}

# libbpf's determine_ptr_size(): an INT of 4 or 8 bytes with one of these names.
_LONG_NAMES = frozenset({
    "long", "long int", "int long", "unsigned long", "long unsigned",
    "unsigned long int", "unsigned int long", "long unsigned int",
    "long int unsigned", "int unsigned long", "int long unsigned"})

# GCC's Arm SIMD polynomial types, which C compilers do not know by these names.
_MISSING_BASE_TYPES = {"__Poly8_t": "unsigned char", "__Poly16_t": "unsigned short",
                       "__Poly64_t": "unsigned long long",
                       "__Poly128_t": "unsigned __int128"}

PROLOGUE = ("#ifndef __VMLINUX_H__\n"
            "#define __VMLINUX_H__\n"
            "\n"
            "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n"
            "#pragma clang attribute push (__attribute__((preserve_access_index)), "
            "apply_to = record)\n"
            "#endif\n\n")
ACCESS_INDEX_POP = ("#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n"
                    "#pragma clang attribute pop\n"
                    "#endif\n"
                    "\n")
EPILOGUE = "#endif /* __VMLINUX_H__ */\n"

_MAX_RESOLVE_DEPTH = 32
_MAX_NAME = 255             # libbpf formats `name___n` into 256 bytes
_TABS = 13                  # libbpf's deepest indentation

@record(frozen=True)
class Rules:
    """Where the btf_dump of one libbpf differs from another's text.

    Linux 6.1.y took back the 2022 padding and packing fixes and the 2024
    `(void)` one, but not the enum sizes, so bpftool 7.1 sits between
    libbpf releases.
    """
    enum_mode: bool              # 2022-12 (e6e0e3fd): mode(byte)/mode(word) enums
    void_params: bool            # 2024-07 (205e86de): `f(void)`, not `f()`
    tag_attributes: bool         # 2025-01 (cc278ff7): kflag TYPE_TAG as __attribute__


# What each reference prints; the tests hold each to its reference.
RULES = {
    # Debian 12's bpftool 7.1.0 (Linux 6.1.y's libbpf).
    "bpftool-7.1": Rules(enum_mode=False, void_params=True, tag_attributes=False),
    # libbpf 1.6 and later, and the bpftool built with it.
    "libbpf-1.6": Rules(enum_mode=True, void_params=True, tag_attributes=True),
}
BPFTOOL_7_1 = RULES["bpftool-7.1"]

# Order and emit states (btf_dump's per-type aux state).
_NOT, _BUSY, _DONE = 0, 1, 2


def all_types(btf: Btf) -> list:
    """Every type by id, base included; index 0 (void) is None."""
    if btf.base is not None:
        return all_types(btf.base) + list(btf.types)
    return [None, *btf.types]


def guess_pointer_size(types: list) -> int:
    """libbpf's guess for BTF without an ELF class: the size of `long`, else 8."""
    for t in types:
        if t is not None and t.kind == _INT and t.size in (4, 8) and t.name in _LONG_NAMES:
            return t.size
    return 8


def _i32(v: int) -> int:
    """What C's int arithmetic leaves of `v` (libbpf computes offsets in int)."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def _tabs(lvl: int) -> str:
    return "\t" * min(lvl, _TABS)


class CDumper:
    """One C rendering of a BTF: the state of libbpf's `struct btf_dump`.

    `dump_type(id)` appends the definitions `id` needs to `out`; names and
    what has been emitted carry over between calls, as in bpftool's loop.
    """

    def __init__(self, btf: Btf, *, pointer_size: int | None = None,
                 rules: Rules = BPFTOOL_7_1):
        self.rules = rules
        self.big_endian = btf.endian == ">"
        types = all_types(btf)
        self.types = types
        n = len(types)
        self.ptr_sz = pointer_size or guess_pointer_size(types)
        self.order = bytearray(n)
        self.emit = bytearray(n)
        self.fwd_emitted = bytearray(n)
        self.name_resolved = bytearray(n)
        self.names: dict[int, str] = {}        # resolved names that differ from BTF's
        self.type_names: dict[str, int] = {}   # struct/union/enum namespace: count
        self.ident_names: dict[str, int] = {}  # typedefs and enumerators
        self._align: dict[int, int] = {}
        self.out: list[str] = []
        self.referenced = self._mark_referenced()
        self.order[0] = _DONE
        self.emit[0] = _DONE

    # ---------------------------------------------------------------- lookup

    def _type(self, type_id: int) -> Type:
        if 0 < type_id < len(self.types):
            return self.types[type_id]
        raise BtfError(f"type id {type_id} is out of range (the BTF has "
                       f"{len(self.types) - 1} types)")

    def _mark_referenced(self) -> bytearray:
        """Which ids some type refers to: an anonymous enum nobody refers to
        is a top-level declaration of constants, one referred to is inline."""
        n = len(self.types)
        ref = bytearray(n)
        try:
            for i, t in enumerate(self.types):
                if t is not None:
                    self._mark(i, t, ref, n)
        except IndexError:
            for i, t in enumerate(self.types[1:], 1):
                for r in type_refs(t):
                    if r >= n:
                        raise BtfError(f"type [{i}] refers to type id {r}, past the last "
                                       f"({n - 1})")
            raise
        return ref

    @staticmethod
    def _mark(i: int, t, ref: bytearray, n: int) -> None:
        k = t.kind
        if k not in _KNOWN:
            raise BtfError(f"type [{i}]: kind {k} has no C form")
        if k in _COMPOSITE:
            for m in t.members:
                ref[m.type] = 1
        elif k == _PROTO:
            if t.ret >= n:
                raise IndexError
            for p in t.params:
                ref[p.type] = 1
        elif k == _ARRAY:
            ref[t.index_type] = 1
            ref[t.type] = 1
        elif k == Kind.DATASEC:
            for v in t.vars:
                ref[v.type] = 1
        elif k not in (_INT, _ENUM, _ENUM64, _FWD, _FLOAT):
            ref[t.type] = 1

    # ---------------------------------------------------------------- names

    def _dups(self, names: dict[str, int], name: str) -> int:
        n = names.get(name, 0) + 1
        names[name] = n
        return n

    def _resolve(self, type_id: int, names: dict[str, int]) -> str:
        t = self.types[type_id]
        name = t.name
        if not name:
            return ""
        if self.name_resolved[type_id]:
            return self.names.get(type_id, name)
        self.name_resolved[type_id] = 1
        if t.kind == _FWD or (t.kind == _ENUM and not t.values):
            return name
        n = self._dups(names, name)
        if n > 1:
            new = f"{name}___{n}"
            raw = new.encode("utf-8", "surrogateescape")
            if len(raw) > _MAX_NAME:
                new = raw[:_MAX_NAME].decode("utf-8", "surrogateescape")
            self.names[type_id] = new
            return new
        return name

    def type_name(self, type_id: int) -> str:
        return self._resolve(type_id, self.type_names)

    def ident_name(self, type_id: int) -> str:
        return self._resolve(type_id, self.ident_names)

    # ---------------------------------------------------------------- sizes

    def resolve_size(self, type_id: int) -> int:
        """btf__resolve_size(), with its errors as -1."""
        nelems = 1
        for _ in range(_MAX_RESOLVE_DEPTH):
            if type_id == 0:
                return -1
            t = self._type(type_id)
            k = t.kind
            if k in _SIZED:
                size = t.size
                break
            if k == _PTR:
                size = self.ptr_sz
                break
            if k == _ARRAY:
                if nelems and t.nelems > 0xFFFFFFFF // nelems:
                    return -1
                nelems *= t.nelems
                type_id = t.type
            elif k in _SEE_THROUGH:
                type_id = t.type
            else:
                return -1
        else:
            return -1
        if nelems and size > 0xFFFFFFFF // nelems:
            return -1
        return nelems * size

    def declared_size(self, type_id: int) -> int:
        """The size C gives `type_id` as this header declares it: BTF's, but an
        enum no mode() attribute sizes is an int unless a value needs more."""
        e = type_id
        for _ in range(_MAX_RESOLVE_DEPTH):
            t = self.types[e] if e else None
            if t is None or t.kind not in _ALIGN_THROUGH:
                break
            e = t.type
        if t is not None and t.kind in (_ENUM, _ENUM64):
            if self.rules.enum_mode and (t.size == 1 or (t.size == 8 and self.ptr_sz == 8)):
                return t.size
            wide = t.kind == _ENUM64 and any(v.value & ~0xFFFFFFFF for v in t.values)
            return 8 if wide else 4
        return self.resolve_size(type_id)

    def align_of(self, type_id: int) -> int:
        """btf__align_of(): 0 for what has no alignment (void, FWD, protos)."""
        a = self._align.get(type_id)
        if a is None:
            a = self._align[type_id] = self._compute_align(type_id)
        return a

    def _compute_align(self, type_id: int) -> int:
        if type_id == 0:
            return 0
        t = self._type(type_id)
        k = t.kind
        if k in (_INT, _ENUM, _ENUM64, _FLOAT):
            return min(self.ptr_sz, t.size)
        if k == _PTR:
            return self.ptr_sz
        if k in _ALIGN_THROUGH or k == _ARRAY:
            return self.align_of(t.type)
        if k in _COMPOSITE:
            max_align = 1
            for m in t.members:
                a = self.align_of(m.type)
                if a <= 0:
                    return a
                max_align = max(max_align, a)
                if not m.bitfield_size and m.offset % (8 * a):
                    return 1
            return 1 if t.size % max_align else max_align
        return 0

    def _is_packed(self, t) -> bool:
        """A struct whose member offsets or size break natural alignment."""
        max_align = 1
        for m in t.members:
            a = self.align_of(m.type)
            if a and not m.bitfield_size and m.offset % (8 * a):
                return True
            max_align = max(a, max_align)
        return bool(t.size % max_align)

    # ---------------------------------------------------------------- ordering

    def dump_type(self, type_id: int) -> None:
        """Append `type_id` and what it needs first, unless already written."""
        queue: list[int] = []
        try:
            self._order_type(type_id, False, queue)
            for q in queue:
                self._emit_type(q, 0)
        except RecursionError:
            raise BtfError(f"type [{type_id}]: type graph too deep to write as C")

    def _order_type(self, type_id: int, through_ptr: bool, queue: list[int]) -> int:
        """Topological order for C: 1 if `type_id` must be complete where it
        is used (a strong link), 0 if a forward declaration will do."""
        order = self.order
        state = order[type_id]
        if state == _DONE:
            return 1
        t = self._type(type_id)
        k = t.kind
        if state == _BUSY:
            if k in _COMPOSITE and through_ptr and t.name:
                return 0
            raise BtfError(f"type [{type_id}]: unsatisfiable type cycle")
        if k in (_INT, _FLOAT):
            order[type_id] = _DONE
            return 0
        if k == _PTR:
            strong = self._order_type(t.type, True, queue)
            order[type_id] = _DONE
            return strong
        if k == _ARRAY:
            return self._order_type(t.type, False, queue)
        if k in _COMPOSITE:
            if through_ptr and t.name:
                return 0
            order[type_id] = _BUSY
            for m in t.members:
                self._order_type(m.type, False, queue)
            if t.name:
                queue.append(type_id)
            order[type_id] = _DONE
            return 1
        if k in (_ENUM, _ENUM64, _FWD):
            if t.name or not self.referenced[type_id]:
                queue.append(type_id)
            order[type_id] = _DONE
            return 1
        if k == _TYPEDEF:
            strong = self._order_type(t.type, through_ptr, queue)
            if through_ptr and not strong:
                return 0
            queue.append(type_id)
            order[type_id] = _DONE
            return 1
        if k in _MODS:
            return self._order_type(t.type, through_ptr, queue)
        if k == _PROTO:
            strong = self._order_type(t.ret, through_ptr, queue)
            for p in t.params:
                if self._order_type(p.type, through_ptr, queue):
                    strong = 1
            return strong
        order[type_id] = _DONE      # FUNC, VAR, DATASEC, DECL_TAG: no C of their own
        return 0

    # ---------------------------------------------------------------- emitting

    def _emit_type(self, type_id: int, cont_id: int) -> None:
        """Write the definition of `type_id` (top level when cont_id is 0),
        first declaring forward whatever it refers to and is not yet out."""
        emit = self.emit
        state = emit[type_id]
        if state == _DONE:
            return
        t = self.types[type_id]
        k = t.kind
        out = self.out
        if state == _BUSY:
            if self.fwd_emitted[type_id]:
                return
            if k in _COMPOSITE:
                if type_id == cont_id or not t.name:
                    return            # a struct referring to itself; an anon loop
                out.append(self._struct_fwd(type_id, t))
                out.append(";\n\n")
                self.fwd_emitted[type_id] = 1
            elif k == _TYPEDEF:
                # The typedef doubles as its own forward declaration for uses
                # through pointers while its target is still being written.
                if t.name != "__builtin_va_list":
                    self._typedef_def(type_id, t, 0)
                    out.append(";\n\n")
                self.fwd_emitted[type_id] = 1
            return

        if k == _INT:
            alias = _MISSING_BASE_TYPES.get(self.type_name(type_id))
            if alias is not None:
                out.append(f"typedef {alias} {self.type_name(type_id)};\n\n")
            emit[type_id] = _DONE
        elif k in (_ENUM, _ENUM64):
            if cont_id == 0:
                self._enum_def(type_id, t, 0)
                out.append(";\n\n")
            emit[type_id] = _DONE
        elif k == _PTR or k in _MODS or k == _ARRAY:
            self._emit_type(t.type, cont_id)
        elif k == _FWD:
            out.append(self._fwd_def(type_id, t))
            out.append(";\n\n")
            emit[type_id] = _DONE
        elif k == _TYPEDEF:
            emit[type_id] = _BUSY
            self._emit_type(t.type, type_id)
            if not self.fwd_emitted[type_id] and t.name != "__builtin_va_list":
                self._typedef_def(type_id, t, 0)
                out.append(";\n\n")
            emit[type_id] = _DONE
        elif k in _COMPOSITE:
            emit[type_id] = _BUSY
            top = cont_id == 0
            if top or not t.name:
                inner = type_id if t.name else cont_id
                for m in t.members:
                    self._emit_type(m.type, inner)
            elif not self.fwd_emitted[type_id] and type_id != cont_id:
                out.append(self._struct_fwd(type_id, t))
                out.append(";\n\n")
                self.fwd_emitted[type_id] = 1
            if top:
                self._struct_def(type_id, t, 0)
                out.append(";\n\n")
                emit[type_id] = _DONE
            else:
                emit[type_id] = _NOT
        elif k == _PROTO:
            self._emit_type(t.ret, cont_id)
            for p in t.params:
                self._emit_type(p.type, cont_id)

    def _struct_fwd(self, type_id: int, t) -> str:
        kw = "struct" if t.kind == _STRUCT else "union"
        return f"{kw} {self.type_name(type_id)}" if t.name else kw

    def _fwd_def(self, type_id: int, t) -> str:
        return f"{'union' if t.union else 'struct'} {self.type_name(type_id)}"

    def _padding(self, cur: int, nxt: int, next_align: int, in_bitfield: bool,
                 lvl: int) -> None:
        """Unnamed bitfields that move the next member from bit `cur` to
        bit `nxt`, leaning on natural alignment where the compiler will."""
        if cur >= nxt:
            return
        out = self.out
        pfx = _tabs(lvl)
        pads = (("long", self.ptr_sz * 8), ("int", 32), ("short", 16), ("char", 8))
        for pad in pads:         # the widest type whose next boundary is in the gap
            new_off = -(-cur // pad[1]) * pad[1]
            if new_off <= nxt:
                break
        pad_type, pad_bits = pad
        if cur < new_off <= nxt:
            # An explicit `<type>: 0` when the compiler would not align there
            # by itself, or when `<type>: N` would fit in the remaining hole.
            align_bits = next_align * 8 or 1
            if (in_bitfield
                    or (new_off == nxt and -(-cur // align_bits) * align_bits != new_off)
                    or (new_off != nxt and nxt - new_off <= new_off - cur)):
                out.append(f"\n{pfx}{pad_type}: {new_off - cur if in_bitfield else 0};")
            cur = new_off
        while cur != nxt:
            bits = min(nxt - cur, pad_bits)
            if bits == pad_bits:
                out.append(f"\n{pfx}{pad_type}: {pad_bits};")
                cur += bits
                continue
            for pad_type, pad_bits in reversed(pads):   # the smallest that holds it
                if pad_bits >= bits:
                    out.append(f"\n{pfx}{pad_type}: {bits};")
                    cur += bits
                    break

    def _struct_def(self, type_id: int, t, lvl: int) -> None:
        out = self.out
        is_struct = t.kind == _STRUCT
        packed = is_struct and self._is_packed(t)
        kw = "struct" if is_struct else "union"
        out.append(f"{kw} {self.type_name(type_id)} {{" if t.name else f"{kw} {{")
        pfx = _tabs(lvl + 1)
        off = 0
        prev_bitfield = False
        for m in t.members:
            m_sz = m.bitfield_size
            m_off = m.offset
            self._padding(off, m_off, 1 if packed else self.align_of(m.type),
                          prev_bitfield and m_sz != 0, lvl + 1)
            out.append("\n" + pfx)
            self.type_decl(m.type, m.name, lvl + 1)
            if m_sz:
                out.append(f": {m_sz}")
                off = _i32(m_off + m_sz)
                prev_bitfield = True
            else:
                size = _i32(max(0, self.resolve_size(m.type)))
                off = _i32(m_off + _i32(size * 8))
                prev_bitfield = False
            out.append(";")
        if is_struct:
            self._padding(off, _i32(t.size * 8), self.align_of(type_id), False, lvl + 1)
        out.append(f"\n{_tabs(lvl)}}}" if t.members or t.size else "}")
        if packed:
            out.append(" __attribute__((packed))")

    def _enum_def(self, type_id: int, t, lvl: int) -> None:
        out = self.out
        out.append(f"enum {self.type_name(type_id)}" if t.name else "enum")
        if not t.values:
            return
        out.append(" {")
        pfx = _tabs(lvl + 1)
        suffix = "" if t.kind == _ENUM else ("LL" if t.signed else "ULL")
        dups, idents = self._dups, self.ident_names
        for v in t.values:
            n = dups(idents, v.name)
            name = f"{v.name}___{n}" if n > 1 else v.name
            out.append(f"\n{pfx}{name} = {v.value}{suffix},")
        out.append(f"\n{_tabs(lvl)}}}")
        if not self.rules.enum_mode:
            return
        if t.size == 1:
            out.append(" __attribute__((mode(byte)))")
        elif t.size == 8 and self.ptr_sz == 8:
            # An 8-byte ENUM needs mode(word); an ENUM64 only when no value
            # needs more than 32 bits to make the compiler widen it.
            if t.kind == _ENUM or not any(v.value & ~0xFFFFFFFF for v in t.values):
                out.append(" __attribute__((mode(word)))")

    def _typedef_def(self, type_id: int, t, lvl: int) -> None:
        name = self.ident_name(type_id)
        if t.type == 0 and name == "__gnuc_va_list":
            # Old GCC wrote this typedef to void; C wants the builtin.
            self.out.append("typedef __builtin_va_list __gnuc_va_list")
            return
        self.out.append("typedef ")
        self.type_decl(t.type, name, lvl)

    # ---------------------------------------------------------------- declarations

    def type_decl(self, type_id: int, fname: str, lvl: int) -> None:
        """Declare `fname` of type `type_id` in C syntax.

        The chain of types from `type_id` to a named or basic type is taken
        as a stack: C writes the innermost type first, qualifiers of
        non-pointers to the left, and wraps arrays and function pointers
        around the name.
        """
        stack = []
        limit = len(self.types)
        while True:
            stack.append(type_id)
            if len(stack) > limit:
                raise BtfError(f"type [{type_id}]: a loop of modifiers or pointers")
            if type_id == 0:
                break
            t = self._type(type_id)
            k = t.kind
            if k in _CHAINING:
                type_id = t.ret if k == _PROTO else t.type
            elif k == _ARRAY:
                type_id = t.type
            else:
                break                       # terminal, or a kind with no C form
        self._chain(stack, fname, lvl)

    def _emit_mods(self, stack: list[int]) -> None:
        types, out = self.types, self.out
        while stack:
            q = _QUALIFIER.get(types[stack[-1]].kind)
            if q is None:
                return
            out.append(q + " ")
            stack.pop()

    def _drop_mods(self, stack: list[int]) -> None:
        types = self.types
        while stack and types[stack[-1]].kind in _MODS:
            stack.pop()

    def _name(self, fname: str, last_was_ptr: bool) -> None:
        if fname:
            self.out.append(fname if last_was_ptr else " " + fname)

    def _chain(self, stack: list[int], fname: str, lvl: int) -> None:
        out, types = self.out, self.types
        last_was_ptr = True
        while stack:
            type_id = stack.pop()
            if type_id == 0:
                self._emit_mods(stack)
                out.append("void")
                last_was_ptr = False
                continue
            t = types[type_id]
            k = t.kind
            if k in (_INT, _FLOAT):
                self._emit_mods(stack)
                out.append(t.name)
            elif k in _COMPOSITE:
                self._emit_mods(stack)
                if t.name:
                    out.append(self._struct_fwd(type_id, t))
                else:
                    self._struct_def(type_id, t, lvl)
            elif k in (_ENUM, _ENUM64):
                self._emit_mods(stack)
                if t.name:
                    out.append("enum " + self.type_name(type_id))
                else:
                    self._enum_def(type_id, t, lvl)
            elif k == _FWD:
                self._emit_mods(stack)
                out.append(self._fwd_def(type_id, t))
            elif k == _TYPEDEF:
                self._emit_mods(stack)
                out.append(self.ident_name(type_id))
            elif k == _PTR:
                out.append("*" if last_was_ptr else " *")
            elif k in _QUALIFIER:
                out.append(" " + _QUALIFIER[k])
            elif k == _TYPE_TAG:
                self._emit_mods(stack)
                if t.attr and self.rules.tag_attributes:
                    out.append(f" __attribute__(({t.name}))")
                else:
                    out.append(f' __attribute__((btf_type_tag("{t.name}")))')
            elif k == _ARRAY:
                # Qualifiers on an array (GCC copies the element's) mean nothing.
                self._drop_mods(stack)
                if not stack:
                    self._name(fname, last_was_ptr)
                    out.append(f"[{t.nelems}]")
                    return
                multidim = types[stack[-1]].kind == _ARRAY
                if fname and not last_was_ptr:
                    out.append(" ")
                if not multidim:
                    out.append("(")
                self._chain(stack, fname, lvl)
                if not multidim:
                    out.append(")")
                out.append(f"[{t.nelems}]")
                return
            elif k == _PROTO:
                # GCC marks noreturn function pointers volatile; drop that too.
                self._drop_mods(stack)
                if stack:
                    out.append(" (")
                    self._chain(stack, fname, lvl)
                    out.append(")")
                else:
                    self._name(fname, last_was_ptr)
                out.append("(")
                params = t.params
                if not params and self.rules.void_params:
                    out.append("void)")
                    return
                if len(params) == 1 and params[0].type == 0:      # clang's (void) for BPF
                    out.append("void)" if self.rules.void_params else ")")
                    return
                last = len(params) - 1
                for i, p in enumerate(params):
                    if i:
                        out.append(", ")
                    if i == last and p.type == 0:
                        out.append("...")
                        break
                    self.type_decl(p.type, p.name, lvl)
                out.append(")")
                return
            else:
                return                      # FUNC, VAR, ... inside a declaration
            last_was_ptr = k == _PTR
        self._name(fname, last_was_ptr)

    def text(self) -> str:
        return "".join(self.out)


def file_pointer_size(path) -> int | None:
    """The pointer size libbpf takes from an ELF file's class; None for raw BTF."""
    with open(path, "rb") as f:
        ident = f.read(5)
    if ident[:4] != b"\x7fELF":
        return None
    return {1: 4, 2: 8}.get(ident[4])


def dump_c(btf: Btf, *, pointer_size: int | None = None,
           rules: Rules = BPFTOOL_7_1) -> CDumper:
    """Every type of `btf` (base included for split BTF), as bpftool walks them."""
    d = CDumper(btf, pointer_size=pointer_size, rules=rules)
    for type_id in range(1, len(d.types)):
        d.dump_type(type_id)      # kernels nest < 150 deep; a loop ends in BtfError
    return d


def header(btf: Btf, *, pointer_size: int | None = None, rules: Rules = BPFTOOL_7_1,
           extra: Callable[[CDumper], None] | None = None) -> Iterator[str]:
    """The whole vmlinux.h of `btf`, in pieces.  `extra(dumper)` may append
    text after the preserve_access_index region, before the final #endif."""
    d = dump_c(btf, pointer_size=pointer_size, rules=rules)
    yield PROLOGUE
    yield d.text()
    yield ACCESS_INDEX_POP
    if extra is not None:
        d.out.clear()
        extra(d)
        yield d.text()
    yield EPILOGUE
