"""`dwarf2btf header` writes what `bpftool btf dump file X format c` writes.

Oracles: the installed bpftool (Debian 12's 7.1.0) for the default rules;
Debian 12's libbpf.so.1 (1.1.2, through ctypes) for the enum sizes of
`--rules libbpf-1.6` (libbpf 1.1 prints mode(byte) but not yet `(void)`,
which bpftool 7.1 vouches for); and for `--tp-structs` clang: a BPF program
that includes the header is compiled, and the offsets of its loads from the
context (llvm-objdump) and the member offsets in its own BTF must be 8 * i
for argument i.
"""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

from encoder.btf.cdump import RULES, Rules, all_types, dump_c, file_pointer_size, header
from encoder.btf.kinds import IntEncoding
from encoder.btf.model import (Array, Btf, Const, Enum, Enum64, EnumValue, Func, FuncProto,
                               Fwd, Int, Member, Param, Ptr, Struct, Typedef, TypeTag, Union,
                               Volatile)
from encoder.btf.reader import load, parse
from encoder.btf.tpstructs import emit as tp_structs
from encoder.btf.tpstructs import tracepoints
from encoder.btf.writer import encode

from badblobs import good_btf
from util import EXTERNAL, REPO, bpftool, external

FIXTURES = sorted((REPO / "fixtures" / "obj").glob("*.btf"))
BPF_DIR = Path(__file__).resolve().parent / "bpf"


def ours(path, base=None, *, rules="bpftool-7.1", extra=None) -> bytes:
    """Our header of a file, as `dwarf2btf header` makes it, without a subprocess."""
    btf = load(path, base=load(base) if base else None)
    ptr = file_pointer_size(path) or (file_pointer_size(base) if base else None)
    text = "".join(header(btf, pointer_size=ptr, rules=RULES[rules], extra=extra))
    return text.encode("utf-8", "surrogateescape")


def theirs(path, base=None) -> subprocess.CompletedProcess:
    """bpftool's header; the caller looks at returncode (bpftool can crash)."""
    exe = shutil.which("bpftool")
    if exe is None:
        pytest.skip("bpftool is not installed (apt-get install bpftool)")
    cmd = [exe, *(["-B", str(base)] if base else []), "btf", "dump", "file", str(path),
           "format", "c"]
    return subprocess.run(cmd, capture_output=True)


def assert_same_header(path, base=None):
    ref = theirs(path, base)
    assert ref.returncode == 0, ref.stderr.decode()
    assert ours(path, base) == ref.stdout


# --- libbpf 1.1's btf_dump, through ctypes --------------------------------------

# What Debian 12's libbpf.so.1 (1.1.2) prints: the enum sizes, not yet `(void)`.
LIBBPF_1_1 = Rules(enum_mode=True, void_params=False, tag_attributes=False)


@lru_cache(maxsize=None)
def _libbpf():
    import libbpf
    lib = libbpf.require()
    vp, u32 = ctypes.c_void_p, ctypes.c_uint32
    for name, res, args in (("btf_dump__new", vp, [vp, vp, vp, vp]),
                            ("btf_dump__dump_type", ctypes.c_int, [vp, u32]),
                            ("btf_dump__free", None, [vp])):
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    libc = ctypes.CDLL(None)
    libc.open_memstream.restype = vp
    libc.open_memstream.argtypes = [ctypes.POINTER(ctypes.c_void_p),
                                    ctypes.POINTER(ctypes.c_size_t)]
    libc.fclose.argtypes = [vp]
    libc.free.argtypes = [vp]
    return lib, libc


def libbpf_types_c(data: bytes) -> bytes:
    """What libbpf's btf_dump__dump_type() prints for every type, in id order
    (bpftool's loop), written by libc's vfprintf into a memory stream."""
    lib, libc = _libbpf()
    keep = ctypes.create_string_buffer(data, len(data))
    btf = lib.btf__new(keep, len(data))
    assert btf and not lib.libbpf_get_error(btf)
    buf, size = ctypes.c_void_p(), ctypes.c_size_t()
    stream = libc.open_memstream(ctypes.byref(buf), ctypes.byref(size))
    vfprintf = ctypes.cast(libc.vfprintf, ctypes.c_void_p)
    d = lib.btf_dump__new(btf, vfprintf, stream, None)
    try:
        for type_id in range(1, lib.btf__type_cnt(btf)):
            assert lib.btf_dump__dump_type(d, type_id) == 0
    finally:
        lib.btf_dump__free(d)
        libc.fclose(stream)
        lib.btf__free(btf)
    text = ctypes.string_at(buf, size.value)
    libc.free(buf)
    return text


def ours_types_c(btf: Btf, rules: Rules) -> bytes:
    d = dump_c(btf, rules=rules)
    return d.text().encode("utf-8", "surrogateescape")


# --- corners no fixture has ---------------------------------------------------

def corners_btf() -> Btf:
    """Names that clash, enums of odd sizes, attribute type tags, nested empty
    structs, function pointers returning function pointers, builtin names."""
    b = Btf()
    i32 = b.add(Int("int", 4, 32, IntEncoding.SIGNED))
    u8 = b.add(Int("unsigned char", 1, 8))
    b.add(Int("long", 8, 64, IntEncoding.SIGNED))
    b.add(Int("__Poly8_t", 1, 8))
    small = b.add(Enum("small", 1, [EnumValue("S_A", 1), EnumValue("S_B", 2)]))
    wide = b.add(Enum("wide", 8, [EnumValue("W_A", 1)]))
    wide64 = b.add(Enum64("wide64", 8, [EnumValue("W64_A", 1)]))
    b.add(Enum64("big64", 8, [EnumValue("B64_A", 1 << 33)]))
    b.add(Enum("", 4, [EnumValue("S_A", 3)]))                 # clashes with small's S_A
    first = b.add(Struct("dup", 4, [Member("a", i32, 0)]))
    second = b.add(Struct("dup", 8, [Member("a", i32, 0), Member("b", i32, 32)]))
    long_name = "n" * 260
    b.add(Struct(long_name, 1, [Member("c", u8, 0)]))
    b.add(Struct(long_name, 2, [Member("c", u8, 0), Member("d", u8, 8)]))
    empty = b.add(Struct("", 0, []))
    b.add(Struct("holder", 16, [Member("e", empty, 0), Member("s", small, 0),
                                Member("w", wide, 64)]))
    b.add(Union("uses", 8, [Member("x", first, 0), Member("y", second, 0),
                            Member("z", wide64, 0)]))
    user = b.add(TypeTag("user", i32))
    attr = b.add(TypeTag("aligned(8)", i32, attr=True))
    b.add(Struct("tagged", 16, [Member("p", b.add(Ptr(user)), 0),
                                Member("q", b.add(Ptr(attr)), 64)]))
    inner = b.add(FuncProto(i32, [Param("", i32)]))
    outer = b.add(FuncProto(b.add(Ptr(inner)), [Param("", 0)]))
    b.add(Typedef("fnfn_t", b.add(Ptr(outer))))
    b.add(Typedef("noargs_t", b.add(FuncProto(i32, []))))
    b.add(Typedef("__builtin_va_list", b.add(Ptr(0))))
    b.add(Typedef("__gnuc_va_list", 0))
    cv = b.add(Const(b.add(Volatile(u8))))
    b.add(Typedef("grid_t", b.add(Array(b.add(Array(cv, i32, 3)), i32, 2))))
    b.add(Struct("packed_one", 5, [Member("c", u8, 0), Member("i", i32, 8)]))
    b.add(Fwd("opaque"))
    b.add(Fwd("opaque_u", union=True))
    return b


@pytest.mark.parametrize("name,build", [("every_kind", good_btf), ("corners", corners_btf)])
def test_built_btf_equals_bpftool(tmp_path, name, build):
    path = tmp_path / f"{name}.btf"
    path.write_bytes(encode(build()))
    assert_same_header(path)


@pytest.mark.parametrize("name,build", [("every_kind", good_btf), ("corners", corners_btf)])
def test_built_btf_equals_libbpf_1_1(name, build):
    data = encode(build())
    assert ours_types_c(parse(data), LIBBPF_1_1) == libbpf_types_c(data)


# --- every committed fixture --------------------------------------------------

# pahole 1.24 turns _Atomic members into members of type void; libbpf's padding
# then divides by their alignment, 0, and bpftool dies of SIGFPE.
BPFTOOL_CRASHES = {"atomic.clang.dwarf5", "atomic.gcc.dwarf5"}


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_fixture_btf_equals_bpftool(path):
    ref = theirs(path)
    if path.stem in BPFTOOL_CRASHES:
        assert ref.returncode < 0, "bpftool no longer crashes here: compare instead"
        assert b"\tvoid refs;\n" in ours(path)
        return
    assert ref.returncode == 0, ref.stderr.decode()
    assert ours(path) == ref.stdout


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_fixture_elf_equals_bpftool(tmp_path, path):
    """The fixture's object with its BTF put in as .BTF: the ELF reader's path,
    and the pointer size libbpf takes from the ELF class."""
    if path.stem in BPFTOOL_CRASHES:
        pytest.skip("bpftool crashes on this BTF (see above)")
    obj = path.with_suffix(".o")
    elf = tmp_path / obj.name
    objcopy(obj, elf, path)
    assert_same_header(elf)


def objcopy(src: Path, dst: Path, btf: Path, *extra: str) -> None:
    exe = shutil.which("objcopy")
    if exe is None:
        pytest.skip("objcopy is not installed (binutils)")
    subprocess.run([exe, *extra, "--add-section", f".BTF={btf}", str(src), str(dst)],
                   check=True, capture_output=True)


def test_elf32_takes_4_byte_pointers(tmp_path):
    """libbpf sizes pointers (and `long:` padding) by the ELF class: a 32-bit
    ELF holding 64-bit BTF prints other padding than the raw file does."""
    src = REPO / "fixtures" / "obj" / "bitfields.gcc.dwarf5.btf"
    elf = tmp_path / "bitfields32.o"
    blob = tmp_path / "one.bin"
    blob.write_bytes(b"x")                  # objcopy wants some input
    objcopy(blob, elf, src, "-I", "binary", "-O", "elf32-i386")
    assert file_pointer_size(elf) == 4
    assert_same_header(elf)
    assert ours(elf) != ours(src)


@pytest.mark.parametrize("path", FIXTURES[::8], ids=lambda p: p.stem)
def test_fixture_equals_libbpf_1_1(path):
    if path.stem in BPFTOOL_CRASHES:
        pytest.skip("libbpf divides by zero on this BTF")
    data = path.read_bytes()
    assert ours_types_c(parse(data), LIBBPF_1_1) == libbpf_types_c(data)


# --- Linux 7.1 samples ----------------------------------------------------------

@lru_cache(maxsize=None)
def vmlinux_7_1() -> Btf:
    return parse(external("vmlinux.btf"))


@pytest.fixture(scope="module")
def vmlinux_7_1_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("v71") / "vmlinux.btf"
    path.write_bytes(external("vmlinux.btf"))
    return path


def test_linux_7_1_vmlinux_equals_bpftool(vmlinux_7_1_file):
    assert_same_header(vmlinux_7_1_file)


def test_linux_7_1_vmlinux_equals_libbpf_1_1():
    """libbpf sizes the 1-byte enums of 7.1 with mode(byte); bpftool 7.1 does not."""
    data = external("vmlinux.btf")
    text = ours_types_c(vmlinux_7_1(), LIBBPF_1_1)
    assert text.count(b"__attribute__((mode(byte)))") > 0
    assert text == libbpf_types_c(data)


def test_split_over_distilled_base_equals_bpftool():
    external("btf_testmod.btf")
    assert_same_header(EXTERNAL / "btf_testmod.btf", EXTERNAL / "btf_testmod.btf.base")


def test_cli_header(tmp_path):
    """The command line: stdout and -o give bpftool's bytes; bad input is one line, exit 2."""
    external("btf_testmod.btf")
    split, base = EXTERNAL / "btf_testmod.btf", EXTERNAL / "btf_testmod.btf.base"
    want = bpftool("-B", str(base), "btf", "dump", "file", str(split), "format", "c")
    run = [sys.executable, "-m", "encoder", "header"]
    got = subprocess.run([*run, str(split), "-B", str(base)], capture_output=True, check=True)
    assert got.stdout == want
    out = tmp_path / "testmod.h"
    subprocess.run([*run, str(split), "--base", str(base), "-o", str(out)], check=True)
    assert out.read_bytes() == want
    bad = tmp_path / "bad.btf"
    bad.write_bytes(b"\x9f\xeb\x01\x00" + b"\xff" * 20)
    r = subprocess.run([*run, str(bad)], capture_output=True, text=True)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and str(bad) in r.stderr


@pytest.mark.parametrize("types,what", [
    ([Ptr(7)], r"type \[1\] refers to type id 7"),
    ([Ptr(1)], "too deep"),                                     # bpftool: SIGSEGV
    ([Typedef("t", 1)], "too deep"),                            # bpftool: SIGSEGV
    ([Int("int", 4, 32), Const(3), Const(2),
      Struct("s", 8, [Member("a", 2, 0)])], "too deep"),        # bpftool: never ends
    ([Struct("a", 4, [Member("b", 2, 0)]),
      Struct("b", 4, [Member("a", 1, 0)])], "unsatisfiable type cycle"),
], ids=["dangling", "ptr-loop", "typedef-loop", "const-loop", "embedding-loop"])
def test_bad_graphs_are_errors(types, what):
    """BTF no C can express: an error naming the type (exit 2), not a crash."""
    from encoder.errors import BtfError
    with pytest.raises(BtfError, match=what):
        dump_c(Btf(types))


# --- --tp-structs ---------------------------------------------------------------

def tp_btf(*, with_func: bool, endian: str = "<") -> Btf:
    """A raw tracepoint `demo(bool on, unsigned int state, struct task_struct
    *task, long when)`, as the kernel's macros leave it in BTF; C alone would
    put `state` at offset 4."""
    b = Btf(endian=endian)
    boolean = b.add(Typedef("bool", b.add(Int("_Bool", 1, 8, IntEncoding.BOOL))))
    i32 = b.add(Int("int", 4, 32, IntEncoding.SIGNED))
    u32 = b.add(Int("unsigned int", 4, 32))
    i64 = b.add(Int("long", 8, 64, IntEncoding.SIGNED))
    task = b.add(Struct("task_struct", 8, [Member("pid", i32, 0), Member("tgid", i32, 32)]))
    args = [Param("__data", b.add(Ptr(0))), Param("on", boolean), Param("state", u32),
            Param("task", b.add(Ptr(task))), Param("when", i64)]
    proto = b.add(FuncProto(0, [Param("", p.type) for p in args]))
    b.add(Typedef("btf_trace_demo", b.add(Ptr(proto))))
    if with_func:
        b.add(Func("__bpf_trace_demo", b.add(FuncProto(0, args))))
    return b


def tp_header(btf: Btf) -> str:
    return "".join(header(btf, extra=tp_structs))


def test_tp_struct_names_come_from_bpf_trace_func():
    text = tp_header(tp_btf(with_func=True))
    assert ("struct tp_args_demo {\n"
            "\tbool on __attribute__((aligned(8)));\n"
            "\tunsigned int state __attribute__((aligned(8)));\n"
            "\tstruct task_struct *task;\n"
            "\tlong when;\n"
            "};\n") in text
    # after the preserve_access_index region: plain loads, not CO-RE relocations
    assert text.index("#pragma clang attribute pop") < text.index("struct tp_args_demo")
    assert text.endswith("};\n\n#endif /* __VMLINUX_H__ */\n")


def test_tp_struct_without_func_has_generated_names():
    text = tp_header(tp_btf(with_func=False))
    assert "/* demo: no __bpf_trace_demo or __traceiter_demo FUNC" in text
    assert "\tstruct task_struct *arg2;\n" in text


def test_without_tracepoints_the_header_is_bpftool_s():
    """--tp-structs adds nothing to BTF that has no btf_trace_ typedefs."""
    b = good_btf()
    assert tp_header(b) == "".join(header(b))


def test_linux_7_1_tracepoint_names():
    tps = {tp.call: tp for tp in tracepoints(all_types(vmlinux_7_1()))}
    assert len(tps) == 735
    assert all(tp.names_from for tp in tps.values())
    switch = tps["sched_switch"]
    assert switch.names_from == "__bpf_trace_sched_switch"
    assert [n for n, _ in switch.args] == ["preempt", "prev", "next", "prev_state"]
    # an event of a class: __bpf_trace_ is named after the class, __traceiter_ after it
    assert tps["sched_wakeup"].names_from == "__traceiter_sched_wakeup"
    assert [n for n, _ in tps["sched_wakeup"].args] == ["p"]


# --- compiling BPF programs against the header ----------------------------------

def clang() -> str:
    exe = shutil.which("clang")
    if exe is None:
        pytest.skip("clang is not installed (apt-get install clang)")
    return exe


def compile_bpf(source: Path, include: Path, out: Path, target: str = "bpf") -> Path:
    subprocess.run([clang(), "-target", target, "-O2", "-g", "-Wno-missing-declarations",
                    "-I", str(include), "-c", str(source), "-o", str(out)],
                   check=True, capture_output=True)
    return out


LOAD = re.compile(r"= \*\(u(8|16|32|64) \*\)\(r1 \+ (-?\d+)\)")


def ctx_loads(obj: Path) -> dict[str, list[tuple[int, int]]]:
    """(byte offset, width) of the loads through r1 (the context), per function."""
    exe = shutil.which("llvm-objdump")
    if exe is None:
        pytest.skip("llvm-objdump is not installed (apt-get install llvm)")
    text = subprocess.run([exe, "-d", "--no-show-raw-insn", str(obj)], check=True,
                          capture_output=True, text=True).stdout
    loads: dict[str, list[tuple[int, int]]] = {}
    current = None
    for line in text.splitlines():
        m = re.match(r"[0-9a-f]+ <(\w+)>:", line)
        if m:
            current = loads.setdefault(m.group(1), [])
            continue
        m = LOAD.search(line)
        if m and current is not None:
            current.append((int(m.group(2)), int(m.group(1)) // 8))
    return loads


def struct_offsets(obj: Path) -> dict[str, tuple[int, list[tuple[str, int]]]]:
    """(size, [(member, bit offset)]) of each tp_args_ struct in the object's
    own BTF, the layout clang gave it."""
    return {t.name: (t.size, [(m.name, m.offset) for m in t.members])
            for t in load(obj).types
            if t.kind == 4 and t.name.startswith("tp_args_")}


def slot_program(btf: Btf, path: Path) -> dict[str, tuple[str, int, int]]:
    """A BPF C file reading every argument of every tracepoint through its
    tp_args_ struct, one function per argument; {function: (call, i, size)}."""
    funcs = {}
    lines = ['#include "vmlinux.h"\n']
    for tp in tracepoints(all_types(btf)):
        for i, (name, type_id) in enumerate(tp.args):
            fn = f"f{len(funcs)}"
            funcs[fn] = (tp.call, i, btf.size_of(type_id))
            lines.append(f"unsigned long long {fn}(struct tp_args_{tp.call} *ctx)\n{{\n"
                         "\tunsigned long long v = 0;\n"
                         f"\t__builtin_memcpy(&v, &ctx->{name}, sizeof(ctx->{name}));\n"
                         "\treturn v;\n}\n")
    path.write_text("".join(lines))
    return funcs


def check_slots(btf: Btf, workdir: Path, target: str = "bpf") -> int:
    """Compile a reader of every slot against the --tp-structs header of `btf`.
    Each argument's loads must lie in its 8-byte slot and start (little
    endian) or end (big endian) at the slot's edge where the kernel's
    zero-extended u64 keeps the value; as wide as BTF's size, or wider where
    C makes an enum an int.  In clang's BTF, member i of each struct is at
    64 * i.  Returns the number of arguments checked."""
    (workdir / "vmlinux.h").write_text("".join(header(btf, extra=tp_structs)),
                                       encoding="utf-8", errors="surrogateescape")
    funcs = slot_program(btf, workdir / "slots.c")
    obj = compile_bpf(workdir / "slots.c", workdir, workdir / "slots.o", target)
    loads = ctx_loads(obj)
    for fn, (call, i, size) in funcs.items():
        got = loads[fn]
        assert got, f"{call} argument {i}: no load from the context"
        lo, hi = min(off for off, _ in got), max(off + width for off, width in got)
        if target == "bpfeb":
            assert hi == 8 * i + 8 and 8 * i <= lo <= hi - size, (call, i, got)
        else:
            assert lo == 8 * i and lo + size <= hi <= 8 * i + 8, (call, i, got)
    by_call = {}
    for call, i, _ in funcs.values():
        by_call[call] = max(by_call.get(call, 0), i + 1)
    layouts = struct_offsets(obj)
    for call, n in by_call.items():
        size, members = layouts[f"tp_args_{call}"]
        assert size == 8 * n
        named = [off for name, off in members if name]
        if target == "bpfeb":       # in slot i, at its end (the loads say where)
            assert [off // 64 for off in named] == list(range(n))
        else:
            assert named == [64 * i for i in range(n)]
    return len(funcs)


def test_bpf_program_uses_ctx_prev(tmp_path):
    """tests/bpf/tp_args.bpf.c reads sched_switch's arguments through
    struct tp_args_sched_switch, as a user would; each program's first load
    from the context is argument i's slot, 8 * i, as wide as the argument."""
    (tmp_path / "vmlinux.h").write_text("".join(header(vmlinux_7_1(), extra=tp_structs)))
    obj = compile_bpf(BPF_DIR / "tp_args.bpf.c", tmp_path, tmp_path / "tp_args.o")
    loads = ctx_loads(obj)
    assert loads["read_preempt"][0] == (0, 1)          # bool
    assert loads["read_prev"][0] == (8, 8)             # struct task_struct *
    assert loads["read_next"][0] == (16, 8)
    assert loads["read_prev_state"][0] == (24, 4)      # unsigned int
    assert struct_offsets(obj)["tp_args_sched_switch"] == (
        32, [("preempt", 0), ("prev", 64), ("next", 128), ("prev_state", 192)])


def test_every_linux_7_1_slot(tmp_path):
    assert check_slots(vmlinux_7_1(), tmp_path) > 1500


def test_every_linux_7_1_slot_big_endian(tmp_path):
    """Big-endian BTF: a narrow argument sits in its slot's last bytes."""
    big = parse(external("vmlinux.btf"))
    big.endian = ">"
    assert check_slots(big, tmp_path, "bpfeb") > 1500


@pytest.mark.parametrize("with_func", [True, False])
def test_built_tracepoint_slots(tmp_path, with_func):
    assert check_slots(tp_btf(with_func=with_func), tmp_path) == 4


def test_testmod_slots(tmp_path):
    external("btf_testmod.btf")
    btf = load(EXTERNAL / "btf_testmod.btf", base=load(EXTERNAL / "btf_testmod.btf.base"))
    assert check_slots(btf, tmp_path) >= 7
