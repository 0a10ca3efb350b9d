"""The export classifier: what a kernel image says about which of its
functions others may call (docs/EXPORTS.md).

Three answers live in a vmlinux or a module, from three eras:
- `EXPORT_SYMBOL*`: the `__ksymtab*` tables modules link against, with
  GPL-only, namespaces and (MODVERSIONS) CRCs: ksymtab.py;
- kfuncs: `.BTF_ids` sets of functions BPF programs may call, with KF_*
  flags; since 6.9 the sets are marked BTF_SET8_KFUNCS: kfuncs.py;
- the 2020 idea of naming a function `export_*`: the name is all there
  is, so report.py lists such functions and BTF needs nothing more.

symvers.py prints exports as Module.symvers lines, tags.py turns the
classification into BTF DECL_TAGs while encoding, report.py is
`dwarf2btf exports`.
"""
