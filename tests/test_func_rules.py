"""Which functions become FUNCs under newer pahole's rules (`Features.modern_funcs`).

With `--btf_features=default` (what kbuild passes to pahole >= 1.26) the
encoder follows pahole's master of 2026-07 (select.py, convert.py
`_FuncFacts`); with a 1.24-era explicit list it keeps pahole 1.24's rules
(tests/test_encode_fixtures.py).  Here:

- the switch itself;
- every C fixture: the FUNCs under `default` are pahole 1.24's (the
  committed .btf) plus and minus the differences newer pahole makes, which
  `DELTA` lists as pahole-from-source printed them (`pahole -V`);
- the rules one by one on small made-up inputs: the ELF function table,
  merging units, the loose prototype match, and the parameter facts from
  locations;
- beside a newer pahole built from source, when there is one: set
  `DWARF2BTF_PAHOLE_NEW` to its binary (e.g. dwarves master built with
  cmake).  On the fixtures in the default suite; on Debian's vmlinux and 21
  modules under the `corpus` marker.  Without the variable they skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from encoder.btf.compare import Canon
from encoder.btf.kinds import IntEncoding, Kind
from encoder.btf.model import Btf, Const, FuncProto, Fwd, Int, Param, Ptr, Struct
from encoder.btf.reader import parse
from encoder.dwarf.constants import Tag
from encoder.dwarf.dies import DIE_FIELDS
from encoder.encode import Request, encode
from encoder.features import Features
from encoder.graph.convert import (OPTIMIZED_PARMS, REORDERED_PARM, SIGNATURE_CHANGED,
                                   UNCERTAIN_PARM_LOC, UNEXPECTED_REG, FuncCandidate,
                                   Options, convert)
from encoder.select import ElfFunctionTable, protos_mismatch, types_match

from util import REPO

OBJECTS = sorted((REPO / "fixtures" / "obj").glob("*.o"))
PAHOLE_1_24 = "var,float,decl_tag,type_tag,enum64"
PAHOLE_NEW = os.environ.get("DWARF2BTF_PAHOLE_NEW")

# fixture (without .o) -> (FUNCs pahole 1.24 has and newer pahole skips, with
# its reason; FUNCs only newer pahole has).  From dwarves master (2026-07)
# `pahole -J -V --btf_features=default` on each object.
U = "unexpected register usage for parameter"   # floats arrive in xmm registers
DELTA: dict[str, tuple[dict[str, str], set[str]]] = {
    "basetypes.clang.dwarf4": ({"ld_add": U}, set()),
    "basetypes.clang.dwarf5": ({"ld_add": U}, set()),
    "basetypes.gcc.dwarf4": ({"ld_add": U}, set()),
    "basetypes.gcc.dwarf5": ({"ld_add": U}, set()),
    "floats.clang.dwarf4": ({"fl_sum": U}, set()),
    "floats.clang.dwarf5": ({"fl_sum": U}, set()),
    "floats.gcc.dwarf4": ({"fl_sum": U, "half_scale": U}, set()),
    "floats.gcc.dwarf5": ({"fl_sum": U, "half_scale": U}, set()),
    # kept_static.constprop.0 / scale.constprop.0: the ELF key is the name
    # up to the first '.'; in a .o the clone's address never equals the
    # DWARF one, so its optimized parameter does not count.
    "inline_funcs.gcc.dwarf4": ({}, {"kept_static"}),
    "inline_funcs.gcc.dwarf5": ({}, {"kept_static"}),
    "ipa_clones.gcc.dwarf4": ({}, {"scale"}),
    "ipa_clones.gcc.dwarf5": ({}, {"scale"}),
    # two static helper() at two addresses; same_proto too, but it is the
    # last key in name order, which pahole never checks.
    "static_dup.clang.dwarf4": ({"helper": "ambiguous address"}, set()),
    "static_dup.clang.dwarf5": ({"helper": "ambiguous address"}, set()),
    "unused_params.clang.dwarf4": ({"ignore_middle": U}, set()),
    "unused_params.clang.dwarf5": ({"ignore_middle": U}, set()),
    "varargs.clang.dwarf4": ({"mixed_varargs": U}, set()),
    "varargs.clang.dwarf5": ({"mixed_varargs": U}, set()),
    "varargs.gcc.dwarf4": ({"mixed_varargs": U}, set()),
    "varargs.gcc.dwarf5": ({"mixed_varargs": U}, set()),
}
# Skips newer pahole prints for functions 1.24 did not encode either.
SKIPS = {
    "ipa_clones.gcc.dwarf5": {"level_of": "reordered parameters"},
    "unused_params.gcc.dwarf5": {n: "reordered parameters" for n in (
        "ignore_all", "ignore_middle", "ignore_struct_by_value", "no_params_used",
        "only_last")},
    "static_dup.gcc.dwarf5": {"helper": "ambiguous address"},
}


def _funcs(btf: Btf) -> dict[str, str]:
    canon = Canon(btf)
    return {t.name: canon.body(i) for i, t in zip(btf.own_ids(), btf.types)
            if t.kind == Kind.FUNC}


def _ours(path, features: str = "default"):
    res = encode(Request(str(path), features=Features.parse(features)))
    return _funcs(res.btf), {s.name: s.reason for s in res.skips if s.kind == "function"}


# -- the switch -------------------------------------------------------------------------

@pytest.mark.parametrize("spec, modern", [
    (None, True), ("default", True), ("+global_var", True), (PAHOLE_1_24, False),
    ("var,optimized_func", True), ("var,consistent_func", True), ("encode_force,var", False),
])
def test_switch(spec, modern):
    assert Features.parse(spec).modern_funcs is modern


# -- the fixtures -----------------------------------------------------------------------

@pytest.mark.parametrize("obj", OBJECTS, ids=lambda p: p.stem)
def test_fixture_funcs(obj: Path):
    old = _funcs(parse(obj.with_suffix(".btf").read_bytes()))
    new, skips = _ours(obj)
    gone, added = DELTA.get(obj.stem, ({}, set()))
    assert set(new) == (set(old) - set(gone)) | added
    for name in set(new) & set(old):
        assert new[name] == old[name], name
    for name, why in {**gone, **SKIPS.get(obj.stem, {})}.items():
        assert skips.get(name) == why, name


def test_1_24_rules_unchanged():
    """The 1.24 list keeps first-CU-wins and exact names: no FUNC for a key
    like scale.constprop.0, both static helpers' first one encoded."""
    obj = REPO / "fixtures" / "obj"
    assert "scale" not in _ours(obj / "ipa_clones.gcc.dwarf5.o", PAHOLE_1_24)[0]
    assert "helper" in _ours(obj / "static_dup.clang.dwarf5.o", PAHOLE_1_24)[0]


def test_verbose_reasons_from_the_cli(capsys, tmp_path):
    from encoder.cli import main
    obj = REPO / "fixtures" / "obj" / "unused_params.gcc.dwarf5.o"
    assert main(["encode", str(obj), f"--btf_encode_detached={tmp_path / 'out'}",
                 "--btf_features=default", "-v"]) == 0
    err = capsys.readouterr().err
    line = next(x for x in err.splitlines() if "skipping function 'only_last'" in x)
    assert line.endswith(": reordered parameters")


def test_same_bytes_for_any_jobs():
    from encoder.btf.writer import encode as write
    obj = REPO / "fixtures" / "obj" / "static_dup.gcc.dwarf5.o"
    outs = {jobs: write(encode(Request(str(obj), features=Features.parse("default"),
                                       jobs=jobs)).btf) for jobs in (1, 2)}
    assert outs[1] == outs[2]


# -- the ELF function table and merging -------------------------------------------------

class _Syms:
    """Just what ElfFunctionTable.from_symbols reads."""

    def __init__(self, syms: list[tuple[str, int]]):
        self._names = ["", *(n for n, _ in syms)]
        self.values = [0, *(a for _, a in syms)]

    def names(self):
        return self._names

    def of_type(self, stt):
        return list(range(1, len(self._names)))


def test_table_keys_and_ambiguity():
    t = ElfFunctionTable.from_symbols(_Syms([
        ("foo", 0x10), ("foo.isra.0", 0x20),          # two addresses: ambiguous
        ("bar", 0x30), ("bar.cold", 0x90),            # .cold is no function
        ("baz.part.0", 0x40),                          # nor .part
        ("qux", 0), ("qux", 0x50),                     # 0 = none seen yet: not ambiguous
        ("quux", 0x50), ("quux", 0),                   # but this way round it is
        ("zed", 0x60), ("zed", 0x70),                  # last key: never checked
    ]))
    assert set(t.entries) == {"foo", "bar", "qux", "quux", "zed"}
    assert t.entries["bar"] == [("bar", 0x30)]
    assert t.ambiguous == {"foo", "quux"}


def _cand(name, params=(("a", 1),), *, low_pc=0, flags=0, declaration=False, named=True):
    return FuncCandidate(name=name, proto=FuncProto(1, [Param(n, t) for n, t in params]),
                         declaration=declaration, external=True, low_pc=low_pc,
                         named_params=named, flags=flags)


BTF = Btf([Int("int", 4, 32, IntEncoding.SIGNED), Const(1),          # 1, 2
           Int("long", 8, 64, IntEncoding.SIGNED),                    # 3
           Fwd("s"), Struct("s", 4, []), Ptr(4), Ptr(5)])            # 4, 5, 6, 7


def _merge(table, cands, consistent=True):
    states = [table.state(c, c.proto, f"cu{i}") for i, c in enumerate(cands)
              if table.lookup(c)]
    return {k: (None if why else st.cand, why)
            for k, st, why in table.merge(states, BTF, consistent=consistent)}


def test_lookup_reasons():
    t = ElfFunctionTable({"f": [("f", 0x10)]})
    for cand, why in [(_cand("f", declaration=True), "declaration"),
                      (_cand("f", named=False), "a parameter has no name"),
                      (_cand(None), "no name"),
                      (_cand("g"), "not in the ELF functions table")]:
        with pytest.raises(LookupError, match=why):
            t.lookup(cand)
    with pytest.raises(LookupError, match="no function symbols"):
        ElfFunctionTable({}).lookup(_cand("f"))


def test_types_match_loosely():
    assert types_match(BTF, 1, 2)                   # const ignored
    assert not types_match(BTF, 1, 3)
    assert types_match(BTF, 6, 7)                   # *fwd s ~ *struct s
    assert protos_mismatch(BTF, FuncProto(1, [Param("a", 1)]),
                           FuncProto(1, [Param("a", 1), Param("b", 1)])).startswith(
        "param count mismatch")
    assert protos_mismatch(BTF, FuncProto(1, []), FuncProto(3, [])) == "return type mismatch"


def test_merge_across_units():
    t = ElfFunctionTable({"same": [("same", 0x10)], "diff": [("diff", 0x20)],
                          "abs": [("abs", 0x30)], "opt": [("opt.isra.0", 0x40)],
                          "reo": [("reo", 0x50)], "unx": [("unx", 0x60)],
                          "nc": [("nc", 0x70)]})
    got = _merge(t, [
        _cand("same", (("a", 1),)), _cand("same", (("a", 2),), low_pc=0x10),
        _cand("diff", (("a", 1),)), _cand("diff", (("a", 3),)),
        # the abstract instance (no address) and the concrete one at the symbol
        _cand("abs", (("x", 1),)), _cand("abs", (("y", 1),), low_pc=0x30),
        # optimized parameters at a .isra address: the ABI changed
        _cand("opt", low_pc=0x40, flags=OPTIMIZED_PARMS),
        _cand("reo", low_pc=0x50, flags=REORDERED_PARM | UNEXPECTED_REG),
        _cand("unx", flags=UNEXPECTED_REG), _cand("unx", (("a", 3),)),
        _cand("nc", low_pc=0x70, flags=OPTIMIZED_PARMS | SIGNATURE_CHANGED),
    ])
    assert got["same"][1] is None and got["same"][0].low_pc == 0x10   # the one at the symbol
    assert got["diff"] == (None, "inconsistent prototype (param type mismatch for "
                                 "param#1 a != a)")
    assert got["abs"][0].proto.params[0].name == "y"
    assert got["opt"] == (None, "optimized parameters")
    assert got["reo"] == (None, "reordered parameters")                # later reasons win
    assert got["unx"] == (None, "unexpected register usage for parameter")  # no proto check
    assert got["nc"] == (None, "optimized parameters")
    # without consistent_func an inconsistent prototype is encoded
    assert _merge(t, [_cand("diff", (("a", 1),)), _cand("diff", (("a", 3),))],
                  consistent=False)["diff"][1] is None


def test_optimized_parameters_alone_are_kept():
    """Optimized-out parameters without an ABI change: still callable, encoded."""
    t = ElfFunctionTable({"f": [("f", 0x10)]})
    assert _merge(t, [_cand("f", low_pc=0x10, flags=OPTIMIZED_PARMS)])["f"][1] is None


# -- parameter facts from DWARF ---------------------------------------------------------

REG = {"rdi": 0x55, "rsi": 0x54, "rdx": 0x51, "rcx": 0x52, "r8": 0x58, "r9": 0x59,
       "xmm0": None}
STACK_VALUE = 0x9F


class _Dies:
    """Builds a unit's DIE records by hand (offsets are list positions + 1)."""

    def __init__(self):
        self.dies: list[tuple] = []
        self.int = self.add(Tag.base_type, name="int", byte_size=4, encoding=5)

    def add(self, tag, parent=-1, **fields) -> int:
        f = dict.fromkeys(DIE_FIELDS)
        f.update(fields, offset=len(self.dies) + 1, tag=tag, parent=parent)
        self.dies.append(tuple(f[k] for k in DIE_FIELDS))
        return len(self.dies)

    def func(self, name, params, **fields) -> int:
        """params: (name, location or None[, type offset]) each."""
        f = self.add(Tag.subprogram, name=name, type=self.int, **fields)
        for p in params:
            pname, loc = p[:2]
            ptype = p[2] if len(p) > 2 else self.int
            extra = {"abstract_origin": pname} if isinstance(pname, int) else \
                {"name": pname, "type": ptype}
            self.add(Tag.formal_parameter, f - 1, location=loc, **extra)
        return f

    def flags(self, producer="GNU C17 12.2.0", machine=62, loclists=None) -> dict:
        index = {d[0]: i for i, d in enumerate(self.dies)}
        ut = convert(self.dies, index, opts=Options(func_facts=True, machine=machine),
                     producer=producer, loclist=(loclists or {}).get)
        return {f.name: f.flags for f in ut.funcs}


def _reg(name):
    return bytes([REG[name]])


def test_registers_as_the_abi_has_them():
    u = _Dies()
    u.func("ok", [("a", _reg("rdi")), ("b", _reg("rsi")), ("c", bytes([0x71, 0, STACK_VALUE]))])
    u.func("swapped", [("a", _reg("rsi")), ("b", _reg("rdi"))])
    u.func("gone", [("a", _reg("rdi")), ("b", None)])
    u.func("constant", [("a", bytes([0x33, STACK_VALUE]))])          # DW_OP_lit3
    u.func("entry", [("a", bytes([0xA3, 1, REG["rdi"], STACK_VALUE]))])   # entry_value(rdi)
    u.func("listed", [("a", 100), ("b", 200)])
    flags = u.flags(loclists={100: [_reg("rdi"), _reg("rsi")],
                              200: [bytes([0x91, 0x10]), _reg("rsi")]})   # fbreg first
    assert flags == {"ok": 0, "swapped": UNEXPECTED_REG, "gone": OPTIMIZED_PARMS,
                     "constant": OPTIMIZED_PARMS, "entry": 0, "listed": OPTIMIZED_PARMS}
    assert u.flags(machine=0)["swapped"] == 0      # unknown ABI: no register check


def test_struct_parameter_turns_off_the_register_check():
    u = _Dies()
    s = u.add(Tag.structure_type, name="pair", byte_size=16)
    u.func("f", [("a", _reg("rsi")), ("p", _reg("rdi"), s)])
    assert u.flags()["f"] == 0


def test_concrete_instance_teaches_its_origin():
    u = _Dies()
    abstract = u.func("f", [("a", None), ("b", None)], inline=1)
    a, b = abstract + 1, abstract + 2
    u.func(None, [(b, _reg("rdi")), (a, _reg("rsi"))], abstract_origin=abstract)
    index = {d[0]: i for i, d in enumerate(u.dies)}
    funcs = convert(u.dies, index, opts=Options(func_facts=True, machine=62),
                    producer="GNU C17").funcs
    # Both are candidates named f.  The concrete one lists b first: reordered,
    # its registers fine.  The abstract one learnt the locations: a in rsi,
    # b in rdi, both where the other belongs.
    assert [(c.name, c.flags) for c in funcs] == [("f", UNEXPECTED_REG),
                                                  ("f", REORDERED_PARM)]


def test_clang_nocall_and_clang_register_window():
    u = _Dies()
    u.func("nocall", [("a", None)], calling_convention=3)
    u.func("plain", [("a", None), ("b", _reg("rdi"))])
    flags = u.flags(producer="Debian clang version 14.0.6")
    assert flags["nocall"] == SIGNATURE_CHANGED | OPTIMIZED_PARMS
    assert flags["plain"] == OPTIMIZED_PARMS | UNEXPECTED_REG   # b is in a's register
    assert u.flags()["nocall"] == OPTIMIZED_PARMS               # GCC: DW_CC_nocall unread


def test_packed_struct_on_the_stack():
    u = _Dies()
    char = u.add(Tag.base_type, name="char", byte_size=1, encoding=6)
    packed = u.add(Tag.structure_type, name="pk", byte_size=5)
    u.add(Tag.member, packed - 1, name="i", type=u.int, data_member_location=0)
    u.add(Tag.member, packed - 1, name="c", type=char, data_member_location=4)
    plain = u.add(Tag.structure_type, name="pl", byte_size=8)
    u.add(Tag.member, plain - 1, name="i", type=u.int, data_member_location=0)
    u.add(Tag.member, plain - 1, name="j", type=u.int, data_member_location=4)
    regs = [(n, _reg(r)) for n, r in zip("abcdef", ("rdi", "rsi", "rdx", "rcx", "r8", "r9"))]
    u.func("packed7", [*regs, ("s", bytes([0x91, 0x10]), packed)])
    u.func("plain7", [*regs, ("s", bytes([0x91, 0x10]), plain)])
    u.func("packed6", [*regs[:5], ("s", bytes([0x91, 0x10]), packed)])
    flags = u.flags()
    assert flags["packed7"] & UNCERTAIN_PARM_LOC
    assert not flags["plain7"] & UNCERTAIN_PARM_LOC
    assert not flags["packed6"] & UNCERTAIN_PARM_LOC


# -- beside newer pahole built from source ----------------------------------------------

def _pahole_funcs(path: Path, tmp: Path, base: Path | None = None) -> dict[str, str]:
    out = tmp / (path.name + ".btf")
    cmd = [PAHOLE_NEW, "-J", "--btf_features=default", f"--btf_encode_detached={out}", str(path)]
    subprocess.run(cmd, check=True, capture_output=True)
    if not out.exists():
        pytest.skip(f"{PAHOLE_NEW} made no BTF of {path.name}")
    return _funcs(parse(out.read_bytes()))


needs_pahole = pytest.mark.skipif(
    not (PAHOLE_NEW and shutil.which(PAHOLE_NEW)),
    reason="set DWARF2BTF_PAHOLE_NEW to a pahole built from dwarves master")


def _assert_same(ref: dict[str, str], ours: dict[str, str], skips: dict[str, str]):
    missing = sorted(set(ref) - set(ours))
    extra = sorted(set(ours) - set(ref))
    differ = sorted(n for n in set(ref) & set(ours) if ref[n] != ours[n])
    assert not (missing or extra or differ), (
        f"missing {[(n, skips.get(n)) for n in missing[:20]]} extra {extra[:20]} "
        f"differ {differ[:20]}")


@needs_pahole
@pytest.mark.parametrize("obj", [o for o in OBJECTS if not o.stem.startswith("atomic")],
                         ids=lambda p: p.stem)
def test_fixture_equals_newer_pahole(obj: Path, tmp_path):
    ours, skips = _ours(obj)
    _assert_same(_pahole_funcs(obj, tmp_path), ours, skips)


def _corpus_targets():
    import corpus
    root = corpus.corpus_root()
    if root is None:
        return [pytest.param(None, marks=pytest.mark.skip(reason=corpus.MISSING))]
    mods = corpus.dbg_module_paths(root)
    rels = {corpus.module_relpath(p, root): p for p in mods}
    picks = [corpus.vmlinux_path(root), rels["kernel/fs/xfs/xfs.ko"]]
    step = max(1, len(mods) // 20)
    picks += [p for p in mods[::step] if p not in picks][:20]
    return [pytest.param(p, id=p.name) for p in picks]


@pytest.mark.corpus
@needs_pahole
@pytest.mark.parametrize("path", _corpus_targets())
def test_debian_kernel_equals_newer_pahole(path: Path, tmp_path):
    """Same FUNCs, same prototypes (modules without a base: the FUNC set
    does not depend on it)."""
    res = encode(Request(str(path), features=Features.parse("default"),
                         jobs=os.cpu_count() or 1))
    skips = {s.name: s.reason for s in res.skips if s.kind == "function"}
    _assert_same(_pahole_funcs(path, tmp_path), _funcs(res.btf), skips)

