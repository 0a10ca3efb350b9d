"""`.BTF_ids`: the kernel's lists of BTF ids, and the kfunc sets among them.

The kernel's include/linux/btf_ids.h fills `.BTF_ids` with u32 slots that
resolve_btfids later patches with type ids; the ELF symbols say what each
slot names (research/anchors.md §2.6, §5.5):

  __BTF_ID__<kind>__<name>__<n>   one slot: BTF_ID(func, vfs_close) gives
                                  __BTF_ID__func__vfs_close__1
  __BTF_ID__set__<set>            struct btf_id_set  {u32 cnt; u32 ids[]}
  __BTF_ID__set8__<set>           struct btf_id_set8 {u32 cnt; u32 flags;
                                      struct {u32 id; u32 flags;} pairs[]}

In a set8 each `__BTF_ID__func__` label sits on a pair's id, its KF_* flags
in the next word.  Since 6.9 a set of kfuncs carries BTF_SET8_KFUNCS in the
set's flags (BTF_KFUNCS_START); pahole's decl_tag_kfuncs tags exactly the
functions inside such sets, so `kfuncs()` follows pahole to the letter
(symbol order, the last pair's flags win, pahole's name parsing).  Older
kernels have no marked sets: `kfuncs(all_set8=True)` takes every set8.

Every `__BTF_ID__func__` name, in a set or a plain list, must be a BTF FUNC
of that exact name, or resolve_btfids cannot patch the slot.
"""

from __future__ import annotations

from ..record import factory, record

SECTION = ".BTF_ids"
FUNC_PREFIX = "__BTF_ID__func__"
SET8_PREFIX = "__BTF_ID__set8__"
SET_PREFIX = "__BTF_ID__set__"
BTF_SET8_KFUNCS = 1 << 0

# include/linux/btf.h, bit -> name.  Bit 3 (KF_KPTR_GET) was removed in 6.3;
# bits 12-16 as of 2026 (see docs/EXPORTS.md for how they moved).
KF_FLAGS = {
    0: "acquire", 1: "release", 2: "ret_null", 3: "kptr_get", 4: "trusted_args",
    5: "sleepable", 6: "destructive", 7: "rcu", 8: "iter_new", 9: "iter_next",
    10: "iter_destroy", 11: "rcu_protected", 12: "fastcall", 13: "arena_ret",
    14: "arena_arg1", 15: "arena_arg2", 16: "implicit_args",
}
KF_FASTCALL = 1 << 12


def kf_names(flags: int) -> list[str]:
    """KF_* flag names of a flags word, low bit first (unknown bits as bitN)."""
    return [KF_FLAGS.get(b, f"bit{b}") for b in range(32) if flags >> b & 1]


def func_name(symbol: str) -> str | None:
    """The function a `__BTF_ID__func__<name>__<n>` label names, as pahole's
    get_func_name reads it (the last '_' must follow another '_')."""
    if not symbol.startswith(FUNC_PREFIX):
        return None
    rest = symbol[len(FUNC_PREFIX):]
    if "__" not in rest:
        return None
    end = rest.rfind("_")
    if end < 1 or rest[end - 1] != "_":
        return None
    return rest[:end - 1]


@record
class IdSet:
    """A BTF_SET or BTF_SET8: its symbol's span and what it holds."""
    name: str
    eight: bool                 # set8 (pairs with flags) or plain set
    start: int
    end: int
    flags: int = 0              # the set8's own flags word
    members: list[tuple[str, int]] = factory(list)   # (func, pair flags)

    @property
    def kfuncs(self) -> bool:
        return self.eight and bool(self.flags & BTF_SET8_KFUNCS)


@record
class BtfIds:
    """What `.BTF_ids` names."""
    sets: list[IdSet] = factory(list)
    # every BTF_ID(func, X): X -> the sets holding it ("" for a plain list)
    funcs: dict[str, list[str]] = factory(dict)
    # (symbol order) func -> flags per set8 pair: [(set, flags)]
    pairs: dict[str, list[tuple[IdSet, int]]] = factory(dict)

    @property
    def marked(self) -> bool:
        """Whether any set carries BTF_SET8_KFUNCS (6.9+ kernels)."""
        return any(s.kfuncs for s in self.sets)

    def kfuncs(self, all_set8: bool = False) -> dict[str, int]:
        """kfunc -> KF flags, as pahole finds them: in a BTF_SET8_KFUNCS set
        (every set8 with `all_set8`); a function in several keeps the flags of
        the last label in symbol order."""
        out: dict[str, int] = {}
        for fn, hits in self.pairs.items():
            for s, flags in hits:
                if s.kfuncs or (all_set8 and s.eight):
                    out[fn] = flags
        return out

    def kfunc_sets(self, fn: str, all_set8: bool = False) -> list[IdSet]:
        return [s for s, _ in self.pairs.get(fn, ()) if s.kfuncs or (all_set8 and s.eight)]


def read_btf_ids(elf, symbols=None) -> BtfIds:
    """The sets and function slots of `elf`'s `.BTF_ids` (empty without one)."""
    out = BtfIds()
    h = elf.header(SECTION)
    if symbols is None:
        symbols = elf.symbols()
    if h is None or symbols is None:
        return out
    data = bytes(elf.section(SECTION, relocate=False) or b"")
    base = h.addr          # pahole: st_value - sh_addr (0 in a .ko, like st_value)

    def word(at: int, what: str) -> int:
        off = at - base
        if not 0 <= off <= len(data) - 4:
            from ..errors import ElfError
            raise ElfError(f"{what} at {at:#x} is outside the section ({len(data)} bytes)",
                           file=elf.path, section=SECTION, offset=off)
        return int.from_bytes(data[off:off + 4], "little")

    names = symbols.names()
    shndx, values, sizes = symbols.shndx, symbols.values, symbols.sizes
    mine = [i for i in range(1, len(names)) if shndx[i] == h.index]
    for i in mine:
        n = names[i]
        for prefix, eight in ((SET8_PREFIX, True), (SET_PREFIX, False)):
            if n.startswith(prefix):
                s = IdSet(n[len(prefix):], eight, values[i], values[i] + sizes[i])
                if eight:
                    s.flags = word(values[i] + 4, f"set8 {s.name}'s flags")
                out.sets.append(s)
    for i in mine:
        fn = func_name(names[i])
        if fn is None:
            continue
        at = values[i]
        holders = [s for s in out.sets if s.start <= at < s.end]
        out.funcs.setdefault(fn, []).extend(s.name for s in holders)
        if not holders:
            out.funcs[fn].append("")
        for s in holders:
            if s.eight:
                flags = word(at + 4, f"the flags of {names[i]}")
                s.members.append((fn, flags))
                out.pairs.setdefault(fn, []).append((s, flags))
            else:
                s.members.append((fn, 0))
    return out
