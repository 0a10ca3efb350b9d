"""Raw tracepoint context structs for vmlinux.h (`dwarf2btf header --tp-structs`).

A raw_tp or tp_btf program gets its tracepoint's arguments as an array of
u64, one slot per argument of `btf_trace_<call>` after the leading
`void *__data`.  BTF keeps no argument names in that typedef's prototype
(https://lore.kernel.org/bpf/CAEf4BzbOw3=NAMA4GJq9s6KvDHfh9a3_vTHM940P+jYWfoty2Q@mail.gmail.com),
but the functions the kernel builds from the same TP_PROTO do:
`__bpf_trace_<class>` (one per event class, so named after the call only
when the class has the call's name) and `__traceiter_<call>` (one per
tracepoint).  From those we write, for every tracepoint,

    struct tp_args_<call> {
            bool preempt __attribute__((aligned(8)));
            struct task_struct *prev;
            ...
    };

so a program reads `ctx->prev` instead of unpacking the array with BPF_PROG().

Why `tp_args_`: it is the name Andrii Nakryiko proposed for exactly these
structs in the thread above, after Alexei Starovoitov pointed out that
`raw_tp_` would be wrong since tp_btf programs use them too; it sits beside
the UAPI's `struct bpf_raw_tracepoint_args` (the same context as a bare
array); and it cannot be mistaken for `trace_event_raw_<call>`, the ring
buffer record of the classic tracepoint, whose layout is different.

Layout: member i at byte 8*i.  A member narrower than 8 bytes, or aligned
to less, is `aligned(8)` (the form proposed in the same thread); the kernel
stores the value in the low bytes of its slot, which is the slot's start on
a little-endian machine.  On big-endian BTF the low bytes are the slot's end,
so there an unnamed bitfield fills the slot's start instead (sized by what
C makes of the type: an enum the header cannot size is an int, and the
zero-extended slot gives the same value in its low four bytes).

The kernel's BTF has no such structs, so they go after the
preserve_access_index region: their fields are plain loads at fixed
offsets, never CO-RE relocations that could not be resolved.
"""

from __future__ import annotations

from ..record import record
from .cdump import CDumper
from .kinds import Kind

TYPEDEF_PREFIX = "btf_trace_"
STRUCT_PREFIX = "tp_args_"
NAME_SOURCES = ("__bpf_trace_", "__traceiter_")
SLOT = 8

PREAMBLE = """\
/*
 * Raw tracepoint arguments (dwarf2btf header --tp-structs).
 *
 * A raw_tp or tp_btf program's context is an array of u64, one per argument
 * of the tracepoint: btf_trace_<call> without its leading void *__data.
 * struct tp_args_<call> is that array with the arguments' names and types,
 * member i at offset 8 * i, so a program reads ctx->prev instead of using
 * BPF_PROG():
 *
 *	SEC("tp_btf/sched_switch")
 *	int on_switch(struct tp_args_sched_switch *ctx)
 *	{
 *		return ctx->prev->pid;
 *	}
 *
 * Names come from __bpf_trace_<call> or __traceiter_<call>.  The kernel's
 * BTF has no tp_args_ structs, so they are outside preserve_access_index:
 * their fields are plain loads, not CO-RE relocations.
 */

"""


@record
class Tracepoint:
    """One `btf_trace_<call>`: its arguments (name, type id) after `__data`,
    the FUNC the names came from (None: generated), or why it has no struct."""
    call: str
    args: list[tuple[str, int]]
    names_from: str | None = None
    problem: str | None = None


def _proto_of(types: list, typedef) -> object | None:
    """The FUNC_PROTO a btf_trace_ typedef points to, if it has that shape."""
    ptr = types[typedef.type] if 0 < typedef.type < len(types) else None
    if ptr is None or ptr.kind != Kind.PTR or not 0 < ptr.type < len(types):
        return None
    proto = types[ptr.type]
    return proto if proto.kind == Kind.FUNC_PROTO and proto.params else None


def tracepoints(types: list) -> list[Tracepoint]:
    """Every raw tracepoint of the BTF (`all_types` order: by type id)."""
    funcs = {t.name: t for t in types[1:]
             if t.kind == Kind.FUNC and t.name.startswith(NAME_SOURCES)}
    found = []
    for t in types[1:]:
        if t.kind != Kind.TYPEDEF or not t.name.startswith(TYPEDEF_PREFIX):
            continue
        call = t.name[len(TYPEDEF_PREFIX):]
        proto = _proto_of(types, t)
        if proto is None:
            found.append(Tracepoint(call, [], problem=f"{t.name} is not a pointer to a "
                                    "function taking void *__data"))
            continue
        params = proto.params[1:]
        kinds = [p.type for p in proto.params]
        tp = Tracepoint(call, [(f"arg{i}", p.type) for i, p in enumerate(params)])
        for prefix in NAME_SOURCES:
            f = funcs.get(prefix + call)
            fp = types[f.type] if f is not None and 0 < f.type < len(types) else None
            if fp is None or fp.kind != Kind.FUNC_PROTO or [p.type for p in fp.params] != kinds:
                continue
            named = [p.name or f"arg{i}" for i, p in enumerate(fp.params[1:])]
            if len(set(named)) == len(named):
                tp.args = [(n, p.type) for n, p in zip(named, params)]
                tp.names_from = prefix + call
                break
        found.append(tp)
    return found


def _taken_names(d: CDumper) -> set[str]:
    """Struct, union and forward names the header already declares."""
    return {t.name for t in d.types[1:]
            if t.kind in (Kind.STRUCT, Kind.UNION, Kind.FWD) and t.name}


def emit(d: CDumper) -> None:
    """Append the tp_args_ structs of every tracepoint to the dumper's text."""
    out = d.out
    tps = tracepoints(d.types)
    if not tps:
        return
    out.append(PREAMBLE)
    taken = _taken_names(d)
    for tp in tps:
        name = STRUCT_PREFIX + tp.call
        problem = tp.problem
        if problem is None and name in taken:
            problem = f"the BTF already has a struct {name}"
        if problem is None:
            problem = _slot_problem(d, tp)
        if problem is not None:
            out.append(f"/* {tp.call}: no struct: {problem} */\n\n")
            continue
        if tp.names_from is None:
            out.append(f"/* {tp.call}: no {NAME_SOURCES[0]}{tp.call} or "
                       f"{NAME_SOURCES[1]}{tp.call} FUNC with its argument types "
                       "in this BTF: names are generated */\n")
        out.append(f"struct {name} {{")
        for arg_name, type_id in tp.args:
            _member(d, arg_name, type_id)
        out.append("\n}" if tp.args else "}")
        out.append(";\n\n")


def _slot_problem(d: CDumper, tp: Tracepoint) -> str | None:
    for arg_name, type_id in tp.args:
        size = d.resolve_size(type_id)
        if not 0 < size <= SLOT:
            return f"argument {arg_name} has no size of 1 to {SLOT} bytes ({size})"
    return None


def _member(d: CDumper, name: str, type_id: int) -> None:
    """One argument's slot: the member, placed where the kernel put the value."""
    out = d.out
    size = d.declared_size(type_id)
    out.append("\n\t")
    if d.big_endian and size < SLOT:
        # The slot holds the value zero-extended: its low `size` bytes, at
        # the slot's end, are the value whatever size the kernel gave it.
        out.append(f"unsigned long long: {(SLOT - size) * 8};\n\t")
        d.type_decl(type_id, name, 1)
    else:
        d.type_decl(type_id, name, 1)
        if size < SLOT or d.align_of(type_id) < SLOT:
            out.append(" __attribute__((aligned(8)))")
    out.append(";")
