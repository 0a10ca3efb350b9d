"""`dwarf2btf header` on Debian's kernels: vmlinux and module BTF, as bpftool.

Marked `corpus` (the Debian kernel packages, `make corpus`).  The modules are
ELF files with split .BTF, read over the raw vmlinux .BTF as bpftool -B does;
`--tp-structs` is compiled by clang for every argument of every tracepoint
of the 6.1 kernel and of xfs.
"""

from __future__ import annotations

import pytest

import corpus
from encoder.btf.reader import load
from test_header import LIBBPF_1_1, assert_same_header, check_slots, libbpf_types_c, ours_types_c

pytestmark = pytest.mark.corpus

MODULES = ("kernel/fs/xfs/xfs.ko", "kernel/arch/x86/kvm/kvm.ko",
           "kernel/net/netfilter/nf_tables.ko", "kernel/net/vmw_vsock/vsock.ko")


def module(root, relpath: str):
    for path in corpus.module_paths(root=root):
        if corpus.module_relpath(path, root) == relpath:
            return path
    pytest.skip(f"{relpath} is not in the corpus")


@pytest.fixture(scope="module")
def root_6_12():
    root = corpus.corpus_root("6.12")
    if root is None:
        pytest.skip("the 6.12 corpus is not fetched (python tests/corpus.py fetch --version 6.12)")
    return root


def test_vmlinux_6_1_equals_bpftool(vmlinux_btf_file):
    assert_same_header(vmlinux_btf_file)


def test_vmlinux_6_1_equals_libbpf_1_1(vmlinux_btf, vmlinux_btf_bytes):
    assert ours_types_c(vmlinux_btf, LIBBPF_1_1) == libbpf_types_c(vmlinux_btf_bytes)


@pytest.mark.parametrize("relpath", MODULES)
def test_module_6_1_equals_bpftool(corpus_dir, vmlinux_btf_file, relpath):
    assert_same_header(module(corpus_dir, relpath), vmlinux_btf_file)


def test_vmlinux_6_12_equals_bpftool(root_6_12):
    assert_same_header(corpus.vmlinux_btf_path(root_6_12))


@pytest.mark.parametrize("relpath", MODULES[:2])
def test_module_6_12_equals_bpftool(root_6_12, relpath):
    assert_same_header(module(root_6_12, relpath), corpus.vmlinux_btf_path(root_6_12))


def test_every_6_1_slot(vmlinux_btf, tmp_path):
    assert check_slots(vmlinux_btf, tmp_path) > 1500


def test_every_xfs_slot(corpus_dir, vmlinux_btf, tmp_path):
    """xfs's own tracepoints (split BTF), beside vmlinux's."""
    xfs = load(module(corpus_dir, "kernel/fs/xfs/xfs.ko"), base=vmlinux_btf)
    assert check_slots(xfs, tmp_path) > 1500 + 500
