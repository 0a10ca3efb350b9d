"""DWARF expressions (DW_OP_*): split into operations with their operands.

The walk hands out expressions as raw bytes (DW_AT_location,
DW_AT_data_member_location in DWARF 2/3, VLA bounds).  The few consumers
that look inside one (a variable's address, a parameter's register, a
member offset) use `operations()`; nothing here evaluates anything.
"""

from __future__ import annotations

import struct
from typing import Iterator

from ..errors import DwarfError
from .constants import Op
from .forms import read_sleb, read_uleb

# Operand layouts: a tuple of codes, read in order.
#   "1" "2" "4" "8": unsigned of that many bytes; "s1".."s8": signed;
#   "u": ULEB128; "s": SLEB128; "a": address; "o": offset (4 or 8);
#   "b": ULEB128 length + that many bytes; "B": 1-byte length + bytes.
_OPERANDS: dict[int, tuple[str, ...]] = {
    Op.addr: ("a",), Op.const1u: ("1",), Op.const1s: ("s1",), Op.const2u: ("2",),
    Op.const2s: ("s2",), Op.const4u: ("4",), Op.const4s: ("s4",), Op.const8u: ("8",),
    Op.const8s: ("s8",), Op.constu: ("u",), Op.consts: ("s",), Op.pick: ("1",),
    Op.plus_uconst: ("u",), Op.skip: ("s2",), Op.bra: ("s2",), Op.regx: ("u",),
    Op.fbreg: ("s",), Op.bregx: ("u", "s"), Op.piece: ("u",), Op.deref_size: ("1",),
    Op.xderef_size: ("1",), Op.call2: ("2",), Op.call4: ("4",), Op.call_ref: ("o",),
    Op.bit_piece: ("u", "u"), Op.implicit_value: ("b",), Op.implicit_pointer: ("o", "s"),
    Op.addrx: ("u",), Op.constx: ("u",), Op.entry_value: ("b",),
    Op.const_type: ("u", "B"), Op.regval_type: ("u", "u"), Op.deref_type: ("1", "u"),
    Op.xderef_type: ("1", "u"), Op.convert: ("u",), Op.reinterpret: ("u",),
    Op.GNU_implicit_pointer: ("o", "s"), Op.GNU_entry_value: ("b",),
    Op.GNU_const_type: ("u", "B"), Op.GNU_regval_type: ("u", "u"),
    Op.GNU_deref_type: ("1", "u"), Op.GNU_convert: ("u",), Op.GNU_reinterpret: ("u",),
    Op.GNU_parameter_ref: ("4",), Op.GNU_addr_index: ("u",), Op.GNU_const_index: ("u",),
    Op.GNU_variable_value: ("o",),
}
for _i in range(32):
    _OPERANDS[Op.breg0 + _i] = ("s",)
del _i

_FIXED = {"1": (1, False), "2": (2, False), "4": (4, False), "8": (8, False),
          "s1": (1, True), "s2": (2, True), "s4": (4, True), "s8": (8, True)}

# Opcodes without operands: everything DWARF 5 defines that is not above.
_KNOWN = frozenset(int(o) for o in Op) - {Op.GNU_encoded_addr}


def operations(expr: bytes, address_size: int = 8,
               offset_size: int = 4) -> Iterator[tuple[int, tuple]]:
    """(opcode, operands) for each operation of `expr`, in order.

    Operands are ints, or bytes for the length-prefixed ones (implicit_value,
    entry_value's sub-expression, const_type's constant).  Raises DwarfError
    for an unknown operation or a truncated expression.
    """
    pos = 0
    n = len(expr)
    while pos < n:
        at = pos
        op = expr[pos]
        pos += 1
        layout = _OPERANDS.get(op)
        if layout is None:
            if op not in _KNOWN:
                raise DwarfError(f"unknown DWARF operation {op:#x} at byte {at} of an "
                                 "expression")
            yield op, ()
            continue
        vals = []
        try:
            for code in layout:
                if code == "u":
                    v, pos = read_uleb(expr, pos)
                elif code == "s":
                    v, pos = read_sleb(expr, pos)
                elif code in ("a", "o"):
                    w = address_size if code == "a" else offset_size
                    if pos + w > n:
                        raise IndexError
                    v = int.from_bytes(expr[pos:pos + w], "little")
                    pos += w
                elif code in ("b", "B"):
                    if code == "b":
                        ln, pos = read_uleb(expr, pos)
                    else:
                        ln = expr[pos]
                        pos += 1
                    if pos + ln > n:
                        raise IndexError
                    v = bytes(expr[pos:pos + ln])
                    pos += ln
                else:
                    w, signed = _FIXED[code]
                    if pos + w > n:
                        raise IndexError
                    v = int.from_bytes(expr[pos:pos + w], "little", signed=signed)
                    pos += w
                vals.append(v)
        except (IndexError, struct.error):
            raise DwarfError(f"truncated operands of {Op(op).name} at byte {at} of an "
                             "expression") from None
        yield op, tuple(vals)


def member_offset(value) -> int | None:
    """A DW_AT_data_member_location as a byte offset: the int itself, or the
    N of an expression `DW_OP_plus_uconst N` / `DW_OP_constu N` (DWARF 2/3);
    None for anything more complicated (virtual bases)."""
    if value is None or isinstance(value, int):
        return value
    ops = list(operations(value))
    if len(ops) == 1 and ops[0][0] in (Op.plus_uconst, Op.constu):
        return ops[0][1][0]
    return None
