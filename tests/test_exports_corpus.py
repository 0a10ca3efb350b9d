"""The export classifier on Debian's kernels, against what Debian's build made.

Oracles nobody here wrote:
- `Module.symvers` of linux-headers-<release>: modpost's list of every
  export of vmlinux and the modules, with CRCs (MODVERSIONS), export type
  and namespace.  Our `--format symvers` of the -dbg vmlinux and of every
  -dbg module with exports, taken together, must be the same set of lines.
- the .BTF Debian's pahole made (vmlinux.btf, the modules' .BTF): on 6.12
  (pahole >= 1.27, decl_tag_kfuncs) its bpf_kfunc tags must name exactly the
  functions in the BTF_SET8_KFUNCS sets we read; on 6.1 there are neither.
- the running kernel, for our 6.12 vmlinux BTF with the export tags
  (kernel_check: a vmlinux encode takes minutes).
"""

from __future__ import annotations

import pytest

import corpus
from encoder.btf.kinds import Kind
from encoder.btf.reader import load, parse
from encoder.elf import ElfFile
from encoder.exports.kfuncs import read_btf_ids
from encoder.exports.ksymtab import SECTIONS, read_exports
from encoder.exports.symvers import lines, module_name
from encoder.exports.symvers import parse as parse_symvers
from encoder.exports.tags import func_names, missing_funcs

corpus_test = pytest.mark.corpus

SERIES = ("6.1", "6.12")
# The smallest 6.12 modules with kfunc sets: encoded here, compared with Debian's.
KFUNC_MODULES = ("kernel/net/ipv4/tcp_dctcp.ko", "kernel/net/ipv4/tcp_bbr.ko",
                 "kernel/net/ipv4/fou.ko", "kernel/net/xfrm/xfrm_interface.ko")


def _root(series: str):
    root = corpus.corpus_root(series)
    if root is None:
        pytest.skip(f"{corpus.MISSING} (--version {series})")
    return root


def _dbg_modules(root) -> dict[str, object]:
    return {corpus.module_relpath(p, root): p for p in corpus.dbg_module_paths(root)}


def _unsigned_module(root, rel: str):
    for p in corpus.module_paths(root=root):
        if corpus.module_relpath(p, root) == rel:
            return p
    return None


def _kfunc_tags(btf) -> list[tuple[str, str, bool]]:
    """(FUNC name, tag, whether it follows its FUNC and the FUNC's other tags)
    for every bpf_kfunc / bpf_fastcall DECL_TAG of btf's own types."""
    out = []
    own = list(btf.own_ids())
    for n, t in enumerate(btf.types):
        if t.kind == Kind.DECL_TAG and t.name in ("bpf_kfunc", "bpf_fastcall"):
            j = n - 1
            while j >= 0 and btf.types[j].kind == Kind.DECL_TAG and btf.types[j].type == t.type:
                j -= 1
            out.append((btf[t.type].name, t.name, j >= 0 and own[j] == t.type))
    return sorted(out)


@corpus_test
@pytest.mark.parametrize("series", SERIES)
def test_symvers_equals_debian(series):
    root = _root(series)
    ours: list = []
    files = 0
    for path in [corpus.vmlinux_path(root), *corpus.dbg_module_paths(root)]:
        with ElfFile(path) as elf:
            if not any(elf.header(s) for s in SECTIONS):
                continue
            files += 1
            table = read_exports(elf)
            assert not table.warnings, (path, table.warnings)
            ours += lines(table, module_name(str(path), elf))
    ref = parse_symvers(corpus.module_symvers_path(root).read_text())
    assert len(set(ours)) == len(ours)
    missing, extra = set(ref) - set(ours), set(ours) - set(ref)
    crcs = sum(1 for x in ref if x.crc)
    print(f"\n{series}: {len(ours)} lines from {files} files; Module.symvers {len(ref)} "
          f"({crcs} with a CRC); matched {len(set(ours) & set(ref))}")
    assert not missing and not extra, (sorted(missing, key=str)[:10], sorted(extra, key=str)[:10])
    assert crcs == len(ref)                          # Debian builds with MODVERSIONS


@corpus_test
@pytest.mark.parametrize("series", SERIES)
def test_boot_image_exports_equal_debian(series, tmp_path):
    """The vmlinux inside vmlinuz (no symbols at all) gives the same lines."""
    root = _root(series)
    image = tmp_path / "vmlinux"
    image.write_bytes(corpus.extract_vmlinux(corpus.vmlinuz_path(root)))
    with ElfFile(image) as elf:
        assert elf.symbols() is None
        ours = lines(read_exports(elf), module_name(str(image), elf))
    ref = [x for x in parse_symvers(corpus.module_symvers_path(root).read_text())
           if x.module == "vmlinux"]
    assert sorted(ours, key=str) == sorted(ref, key=str)


@corpus_test
@pytest.mark.parametrize("series", SERIES)
def test_vmlinux_kfuncs_equal_debian_tags(series):
    """Debian's pahole tagged exactly the BTF_SET8_KFUNCS functions (6.12);
    6.1 has no marked set and no tag."""
    root = _root(series)
    with ElfFile(corpus.vmlinux_path(root)) as elf:
        ids = read_btf_ids(elf)
    btf = parse(corpus.vmlinux_btf_path(root).read_bytes())
    tagged = {f for f, tag, _ in _kfunc_tags(btf) if tag == "bpf_kfunc"}
    kfuncs = set(ids.kfuncs())
    print(f"\n{series}: {len(kfuncs)} functions in BTF_SET8_KFUNCS sets "
          f"({len(ids.kfuncs(all_set8=True))} in any set8, {len(ids.sets)} sets), "
          f"{len(tagged)} bpf_kfunc tags in Debian's BTF")
    assert kfuncs == tagged
    assert ids.marked == (series != "6.1") and (series == "6.1" or kfuncs)


@corpus_test
@pytest.mark.parametrize("series", SERIES)
def test_every_btf_id_function_is_in_debian_btf(series):
    """resolve_btfids found a FUNC for every name we read from .BTF_ids."""
    root = _root(series)
    with ElfFile(corpus.vmlinux_path(root)) as elf:
        ids = read_btf_ids(elf)
    btf = parse(corpus.vmlinux_btf_path(root).read_bytes())
    assert len(ids.funcs) > 100
    assert missing_funcs(ids, func_names(btf)) == []


@corpus_test
def test_module_kfuncs_equal_debian_tags():
    """Every 6.12 module with kfunc sets: Debian's module BTF tags the
    functions of its BTF_SET8_KFUNCS sets, no more, no fewer."""
    root = _root("6.12")
    base = load(str(corpus.vmlinux_btf_path(root)))
    seen = 0
    for rel, path in _dbg_modules(root).items():
        with ElfFile(path) as elf:
            if elf.header(".BTF_ids") is None:
                continue
            ids = read_btf_ids(elf)
        unsigned = _unsigned_module(root, rel)
        tagged = {f for f, tag, _ in _kfunc_tags(load(str(unsigned), base=base))
                  if tag == "bpf_kfunc"}
        assert set(ids.kfuncs()) == tagged, rel
        seen += bool(tagged)
    assert seen >= len(KFUNC_MODULES)


@corpus_test
@pytest.mark.parametrize("rel", KFUNC_MODULES)
def test_module_encoding_tags_kfuncs_like_debian(rel):
    """Our encoding of a 6.12 module: the same bpf_kfunc tags as Debian's
    module BTF, each right after its FUNC, and no .BTF_ids function lost."""
    from encoder.encode import Request, encode
    from encoder.features import Features
    root = _root("6.12")
    path = _dbg_modules(root).get(rel)
    if path is None:
        pytest.skip(f"{rel} is not in this kernel")
    base = load(str(corpus.vmlinux_btf_path(root)))
    result = encode(Request(str(path), base=base, features=Features.parse("default")))
    ref = load(str(_unsigned_module(root, rel)), base=base)
    assert _kfunc_tags(result.btf) == _kfunc_tags(ref)
    assert all(follows for _, _, follows in _kfunc_tags(result.btf))
    assert not [w for w in result.warnings if ".BTF_ids" in w]


@pytest.mark.kernel_check
def test_vmlinux_6_12_with_export_tags():
    """Our 6.12 vmlinux BTF with pahole's default features plus export_tags:
    the same bpf_kfunc tags as Debian's, an export tag on every exported
    FUNC, verified by our verifier and accepted by the running kernel."""
    from encoder.btf.verifier import PROFILES, verify_bytes
    from encoder.btf.writer import encode as write
    from encoder.encode import Request, encode
    from encoder.exports.tags import EXPORT_TAGS
    from encoder.features import Features
    root = _root("6.12")
    path = corpus.vmlinux_path(root)
    result = encode(Request(str(path), features=Features.parse("default,export_tags"), jobs=2))
    btf = result.btf
    assert not [w for w in result.warnings if ".BTF_ids" in w]
    ref = parse(corpus.vmlinux_btf_path(root).read_bytes())
    assert _kfunc_tags(btf) == _kfunc_tags(ref)
    assert all(follows for _, _, follows in _kfunc_tags(btf))

    with ElfFile(path) as elf:
        exports = {e.name: e for e in read_exports(elf).exports}
    tags: dict[str, set[str]] = {}
    for t in btf.types:
        if t.kind == Kind.DECL_TAG and btf[t.type].kind == Kind.FUNC:
            tags.setdefault(btf[t.type].name, set()).add(t.name)
    funcs = func_names(btf)
    exported = [n for n in funcs if n in exports]
    for name in exported:
        e = exports[name]
        want = {EXPORT_TAGS[e.export_type]}
        want |= {f"export_ns:{e.namespace}"} if e.namespace else set()
        assert want <= tags.get(name, set()), name
    assert not [n for n, ts in tags.items() if n not in exports and
                any(t in EXPORT_TAGS.values() for t in ts)]
    print(f"\n6.12 vmlinux: {len(exported)} of {len(exports)} exports are FUNCs and carry "
          f"export tags; {sum('bpf_kfunc' in ts for ts in tags.values())} bpf_kfunc tags")

    data = write(btf)
    verify_bytes(data, profile=PROFILES["latest"], resolve=False)
    import kernel
    reason = kernel.available()
    if reason:
        pytest.skip(reason)
    ok, errno, log = kernel.load_btf(data)
    assert ok, f"errno {errno}: {log[-2000:]}"
