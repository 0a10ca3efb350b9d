#!/usr/bin/env python3
"""The real-kernel test corpus: Debian's cloud kernel packages, fetched and cached.

Run as a script (what `make corpus` does)::

    python tests/corpus.py fetch [--version 6.1|6.12] [--kernel KREL] [--refresh]
    python tests/corpus.py path  [--version 6.1|6.12]
    python tests/corpus.py info  [--version 6.1|6.12]

and imported by the tests for the paths inside the cache.

Cache layout (`$DWARF2BTF_CACHE`, default `~/.cache/dwarf2btf`)::

    debs/                         the .deb files, as apt-get download names them
    <krel>/                       one kernel release, e.g. 6.1.0-56-cloud-amd64
        dbg/                      linux-image-<krel>-dbg, extracted (DWARF)
        unsigned/                 linux-image-<krel>-unsigned (modules with .BTF, vmlinuz)
        headers/                  linux-headers-<krel> (Module.symvers)
        modules/                  decompressed copies of .ko.xz/.ko.zst/.ko.gz, if any
        vmlinux.btf               the raw .BTF Debian's build made for vmlinux
        btf-modules.txt           the unsigned .ko files that carry .BTF, sorted
        corpus.json               what is here; written last: the completion marker
    current-<series>              the kernel release `fetch` settled on for a series

Everything is idempotent: a .deb present in debs/ is not downloaded again, a
tree whose marker exists is not extracted again.  Which kernel release:
`--kernel`/`$DWARF2BTF_KERNEL` if given; else the one fetched before for the
series; else the newest whose packages are already in debs/; else the one
the series' `linux-image-cloud-amd64-dbg` metapackage depends on now
(`--refresh` skips the cached choices and asks apt).

The 6.12 series is Debian 13 (trixie).  On a bookworm machine apt knows
nothing of it, so its package lists are kept in a private apt state under
the cache, with the Debian mirrors this machine's apt already uses.

The `.BTF` bytes handed to bpftool as the oracle are cut out of the ELF files
by this module's own small ELF section reader (or objcopy), never by the
encoder under test; `btf_bytes()` uses the encoder's reader on purpose.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import json
import lzma
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SERIES = "6.1"
MISSING = ("the kernel corpus is not fetched: run `make corpus` "
           "(python tests/corpus.py fetch)")


@dataclass(frozen=True)
class Series:
    name: str
    suite: str                 # the Debian suite that ships it
    meta: str                  # the metapackage that depends on the newest -dbg
    krel_re: str               # a kernel release of this series, e.g. 6.1.0-56-cloud-amd64
    private_apt: bool          # needs its own apt lists (not this machine's suite)

    def dbg_re(self) -> re.Pattern:
        return re.compile(rf"^linux-image-({self.krel_re})-dbg$")


SERIES = {
    "6.1": Series("6.1", "bookworm", "linux-image-cloud-amd64-dbg",
                  r"6\.1\.0-\d+-cloud-amd64", False),
    "6.12": Series("6.12", "trixie", "linux-image-cloud-amd64-dbg",
                   r"6\.12\.\d+\+deb13(?:\.\d+)?-cloud-amd64", True),
}

# The packages of one kernel release, by the subdirectory they extract into.
PARTS = {
    "dbg": "linux-image-{krel}-dbg",
    "unsigned": "linux-image-{krel}-unsigned",
    "headers": "linux-headers-{krel}",
}

MARKER = "corpus.json"
COMPRESSED = {".xz": lzma.decompress, ".zst": None, ".gz": gzip.decompress,
              ".bz2": bz2.decompress}


def log(msg: str) -> None:
    print(f"corpus: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Where things are


def cache_dir() -> Path:
    env = os.environ.get("DWARF2BTF_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "dwarf2btf"


def debs_dir() -> Path:
    return cache_dir() / "debs"


def _krel_key(krel: str) -> tuple:
    """Sort key: the numbers in a kernel release, in order."""
    return tuple(int(n) for n in re.findall(r"\d+", krel))


def _complete(root: Path) -> bool:
    return (root / MARKER).is_file()


def cached_releases(series: str = DEFAULT_SERIES) -> list[str]:
    """Kernel releases of `series` fully fetched in the cache, oldest first."""
    s = SERIES[series]
    root = cache_dir()
    if not root.is_dir():
        return []
    pat = re.compile(rf"^{s.krel_re}$")
    return sorted((p.name for p in root.iterdir()
                   if pat.match(p.name) and _complete(p)), key=_krel_key)


def corpus_root(series: str = DEFAULT_SERIES) -> Path | None:
    """The extracted tree of the series' kernel, or None if not fetched.

    `$DWARF2BTF_KERNEL` picks a kernel release; otherwise the one `fetch`
    settled on last, otherwise the newest complete one in the cache.
    """
    root = cache_dir()
    want = os.environ.get("DWARF2BTF_KERNEL")
    if want:
        return root / want if _complete(root / want) else None
    current = root / f"current-{series}"
    if current.is_file():
        krel = current.read_text().strip()
        if krel and _complete(root / krel):
            return root / krel
    found = cached_releases(series)
    return root / found[-1] if found else None


def info(root: Path | None = None) -> dict:
    root = root or corpus_root()
    if root is None:
        raise FileNotFoundError("the corpus is not fetched (make corpus)")
    return json.loads((root / MARKER).read_text())


def kernel_release(root: Path | None = None) -> str:
    return info(root)["kernel_release"]


def vmlinux_path(root: Path | None = None) -> Path:
    """The -dbg package's vmlinux (DWARF; .BTF too, see corpus.json)."""
    root = root or corpus_root()
    krel = kernel_release(root)
    return root / "dbg" / "usr" / "lib" / "debug" / "boot" / f"vmlinux-{krel}"


def vmlinux_btf_path(root: Path | None = None) -> Path:
    """The raw .BTF Debian's build made for vmlinux, cut out at fetch time."""
    return (root or corpus_root()) / "vmlinux.btf"


def vmlinuz_path(root: Path | None = None) -> Path:
    root = root or corpus_root()
    return root / "unsigned" / "boot" / f"vmlinuz-{kernel_release(root)}"


def headers_path(root: Path | None = None) -> Path:
    root = root or corpus_root()
    return root / "headers" / "usr" / "src" / f"linux-headers-{kernel_release(root)}"


def module_symvers_path(root: Path | None = None) -> Path:
    return headers_path(root) / "Module.symvers"


def _modules_dir(root: Path, part: str, krel: str | None = None) -> Path:
    """lib/modules/<krel> of an extracted package (usr/lib/modules since trixie)."""
    krel = krel or kernel_release(root)
    top = root / part / "usr" / "lib" / "debug" if part == "dbg" else root / part
    for cand in (top / "lib" / "modules" / krel, top / "usr" / "lib" / "modules" / krel):
        if cand.is_dir():
            return cand
    return top / "lib" / "modules" / krel


def _ko_files(base: Path, decompressed: Path) -> list[Path]:
    """Every module under `base`, sorted by relative path; a compressed one
    is replaced by its decompressed copy under `decompressed`."""
    out = []
    for p in base.rglob("*.ko*"):
        rel = p.relative_to(base)
        if p.name.endswith(".ko"):
            out.append((str(rel), p))
        elif p.suffix in COMPRESSED and p.name[:-len(p.suffix)].endswith(".ko"):
            out.append((str(rel.with_suffix("")), decompressed / rel.with_suffix("")))
    return [p for _, p in sorted(out)]


def module_paths(limit: int | None = None, root: Path | None = None) -> list[Path]:
    """The -unsigned package's .ko files that carry .BTF, sorted by their
    path under lib/modules/<krel>/ (so deterministic); the first `limit`."""
    root = root or corpus_root()
    listing = root / "btf-modules.txt"
    if listing.is_file():
        paths = [root / line for line in listing.read_text().split()]
    else:
        paths = [p for p in _ko_files(_modules_dir(root, "unsigned"), root / "modules" / "unsigned")
                 if ".BTF" in elf_sections(p)]
    return paths[:limit] if limit is not None else paths


def dbg_module_paths(root: Path | None = None) -> list[Path]:
    """The -dbg package's .ko files, sorted: the unstripped modules, with
    DWARF (and, in 6.1 and 6.12, the same .BTF as the -unsigned ones)."""
    root = root or corpus_root()
    return _ko_files(_modules_dir(root, "dbg"), root / "modules" / "dbg")


def module_relpath(path: Path, root: Path | None = None) -> str:
    """`kernel/fs/xfs/xfs.ko` for a module of the corpus."""
    root = root or corpus_root()
    for part in ("unsigned", "dbg"):
        for base in (_modules_dir(root, part), root / "modules" / part):
            if base in path.parents:
                return str(path.relative_to(base))
    return path.name


def btf_bytes(path: str | Path) -> bytes:
    """The raw .BTF of an ELF file (or a raw BTF file), through the encoder's
    own `read_sections` (what the code under test sees)."""
    from encoder.btf.reader import read_sections
    return read_sections(path)[0]


# ---------------------------------------------------------------------------
# A minimal ELF section reader, independent of the encoder (for the oracle)


def elf_sections(path: str | Path) -> dict[str, tuple[int, int]]:
    """{section name: (file offset, size)} of a 32- or 64-bit ELF file."""
    with open(path, "rb") as f:
        ident = f.read(16)
        if ident[:4] != b"\x7fELF":
            raise ValueError(f"{path}: not an ELF file")
        is64 = ident[4] == 2
        e = "<" if ident[5] == 1 else ">"
        if is64:
            hdr = f.read(48)
            shoff, = struct.unpack_from(f"{e}Q", hdr, 24)
            shentsize, shnum, shstrndx = struct.unpack_from(f"{e}HHH", hdr, 42)
            fmt = f"{e}IIQQQQ"          # name, type, flags, addr, offset, size
        else:
            hdr = f.read(36)
            shoff, = struct.unpack_from(f"{e}I", hdr, 16)
            shentsize, shnum, shstrndx = struct.unpack_from(f"{e}HHH", hdr, 30)
            fmt = f"{e}IIIIII"
        if shoff == 0:
            return {}
        f.seek(shoff)
        table = f.read(shentsize * (shnum or 1))
        if shnum == 0:            # more than 0xff00 sections: count in sh_size of [0]
            shnum = struct.unpack_from(fmt, table, 0)[5]
            f.seek(shoff)
            table = f.read(shentsize * shnum)
        heads = [struct.unpack_from(fmt, table, i * shentsize) for i in range(shnum)]
        if shstrndx == 0xFFFF:    # SHN_XINDEX: the index is in sh_link of [0]
            shstrndx, = struct.unpack_from(f"{e}I", table, 40 if is64 else 24)
        _, _, _, _, str_off, str_size = heads[shstrndx]
        f.seek(str_off)
        names = f.read(str_size)
    out = {}
    for name_off, sh_type, _, _, off, size in heads:
        end = names.find(b"\0", name_off)
        name = names[name_off:end].decode("utf-8", "replace")
        out[name] = (off, 0 if sh_type == 8 else size)   # SHT_NOBITS has no bytes
    return out


def section_data(path: str | Path, name: str) -> bytes | None:
    """The bytes of section `name`, or None when the file has none."""
    found = elf_sections(path).get(name)
    if found is None:
        return None
    off, size = found
    with open(path, "rb") as f:
        f.seek(off)
        return f.read(size)


def objcopy_btf(path: str | Path, out: str | Path) -> Path:
    """`objcopy --dump-section .BTF=out path`: the oracle's copy of the bytes."""
    exe = shutil.which("objcopy")
    if exe is None:
        data = section_data(path, ".BTF")
        if data is None:
            raise ValueError(f"{path}: no .BTF section")
        Path(out).write_bytes(data)
        return Path(out)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([exe, "--dump-section", f".BTF={out}", str(path),
                        os.path.join(tmp, "discard")], check=True, capture_output=True)
    return Path(out)


# ---------------------------------------------------------------------------
# vmlinuz: the kernel's scripts/extract-vmlinux, in Python


_PAYLOADS = [  # magic, how to decompress
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x1f\x8b\x08", "gzip"),
    (b"BZh", "bzip2"),
    (b"\x5d\x00\x00", "lzma"),
    (b"\x02\x21\x4c\x18", "lz4"),    # the legacy frame the kernel's lz4 uses
]


def _decompress(data: bytes, how: str) -> bytes:
    if how == "xz":
        return lzma.LZMADecompressor(lzma.FORMAT_XZ).decompress(data)
    if how == "lzma":
        return lzma.LZMADecompressor(lzma.FORMAT_ALONE).decompress(data)
    if how == "gzip":
        return zlib_decompress_gzip(data)
    if how == "bzip2":
        return bz2.BZ2Decompressor().decompress(data)
    if how in ("zstd", "lz4"):
        return _tool_decompress(how, data)
    raise ValueError(how)


def zlib_decompress_gzip(data: bytes) -> bytes:
    import zlib
    return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)


def _tool_decompress(tool: str, data: bytes) -> bytes:
    """`tool -d` on data (trailing garbage tolerated, as extract-vmlinux does)."""
    exe = shutil.which(tool)
    if exe is None:
        raise RuntimeError(f"{tool} is not installed (apt-get install {tool})")
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        r = subprocess.run([exe, "-d", "-c", "-q", f.name], capture_output=True)
    if r.returncode and not r.stdout:
        raise RuntimeError(f"{tool} -d failed: {r.stderr.decode(errors='replace').strip()}")
    return r.stdout


def zstd_decompress(data: bytes) -> bytes:
    return _tool_decompress("zstd", data)


def extract_vmlinux(vmlinuz: str | Path) -> bytes:
    """The ELF vmlinux inside a bzImage, as scripts/extract-vmlinux finds it:
    try each compressed payload whose magic appears, keep the first that
    decompresses to an ELF file."""
    data = Path(vmlinuz).read_bytes()
    for magic, how in _PAYLOADS:
        pos = data.find(magic)
        while pos >= 0:
            try:
                out = _decompress(data[pos:], how)
            except Exception:
                out = b""
            if out.startswith(b"\x7fELF"):
                return out
            pos = data.find(magic, pos + 1)
    raise ValueError(f"{vmlinuz}: no compressed ELF payload found")


# ---------------------------------------------------------------------------
# apt


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def _system_mirrors() -> dict[str, list[str]]:
    """{'debian': [uri...], 'debian-security': [uri...]} from this machine's apt
    sources, so the private apt state uses the same mirrors (bookworm's)."""
    texts = []
    for p in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        try:
            texts.append((p.suffix, p.read_text()))
        except OSError:
            pass
    found: dict[str, list[str]] = {"debian": [], "debian-security": []}

    def note(uri: str, suites: list[str]) -> None:
        for suite in suites:
            key = "debian-security" if suite.endswith("-security") else "debian"
            if suite.startswith("bookworm") and uri not in found[key]:
                found[key].append(uri)

    for suffix, text in texts:
        if suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.M))
                if "deb" in fields.get("Types", "").split() and "URIs" in fields:
                    for uri in fields["URIs"].split():
                        note(uri, fields.get("Suites", "").split())
        else:
            for line in text.splitlines():
                m = re.match(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)", line)
                if m:
                    note(m.group(1), [m.group(2)])
    return found


def _apt_options(series: Series) -> list[str]:
    """apt -o options for the series' own apt state, [] for this machine's."""
    if not series.private_apt:
        return []
    state = cache_dir() / f"apt-{series.suite}"
    (state / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (state / "archives" / "partial").mkdir(parents=True, exist_ok=True)
    (state / "parts").mkdir(exist_ok=True)
    mirrors = _system_mirrors()
    if not mirrors["debian"]:
        raise RuntimeError("cannot find this machine's Debian mirror in /etc/apt "
                           f"to fetch {series.suite} from")
    keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
    lines = [f"deb [signed-by={keyring}] {u} {series.suite} main" for u in mirrors["debian"]]
    lines += [f"deb [signed-by={keyring}] {u} {series.suite}-updates main"
              for u in mirrors["debian"]]
    lines += [f"deb [signed-by={keyring}] {u} {series.suite}-security main"
              for u in mirrors["debian-security"]]
    sources = state / "sources.list"
    text = "\n".join(lines) + "\n"
    if not sources.is_file() or sources.read_text() != text:
        sources.write_text(text)
    return ["-o", f"Dir::Etc::SourceList={sources}",
            "-o", f"Dir::Etc::SourceParts={state / 'parts'}",
            "-o", f"Dir::State::Lists={state / 'lists'}",
            "-o", f"Dir::Cache={state}",
            "-o", f"Dir::Cache::Archives={state / 'archives'}",
            "-o", "APT::Architecture=amd64"]


def _apt_update(series: Series) -> None:
    log(f"apt-get update ({series.suite})")
    r = _run(["apt-get", *_apt_options(series), "update"])
    if r.returncode:
        raise RuntimeError(f"apt-get update failed:\n{r.stderr}")


def _apt_knows(series: Series, pkg: str) -> bool:
    r = _run(["apt-cache", *_apt_options(series), "show", "--no-all-versions", pkg])
    return r.returncode == 0 and "Package:" in r.stdout


def newest_release(series: Series) -> str:
    """The kernel release the series' -dbg metapackage depends on now."""
    updated = False
    while True:
        r = _run(["apt-cache", *_apt_options(series), "depends", series.meta])
        found = sorted({m.group(1) for m in (series.dbg_re().match(w.strip().split()[-1])
                                             for w in r.stdout.splitlines()
                                             if w.strip().startswith("Depends:")) if m},
                       key=_krel_key)
        if found:
            return found[-1]
        if updated:
            raise RuntimeError(f"apt does not know {series.meta} ({series.suite}):\n"
                               f"{r.stdout}{r.stderr}")
        _apt_update(series)
        updated = True


def _debs_of(krel: str) -> dict[str, Path]:
    """The .deb files of `krel` already in debs/, by part."""
    out = {}
    d = debs_dir()
    if d.is_dir():
        for part, pkg in PARTS.items():
            name = pkg.format(krel=krel)
            hits = sorted(d.glob(f"{name}_*.deb"))
            if hits:
                out[part] = hits[-1]
    return out


def download(series: Series, pkg: str) -> Path:
    """`apt-get download pkg` into debs/ (atomically), unless already there."""
    d = debs_dir()
    d.mkdir(parents=True, exist_ok=True)
    hits = sorted(d.glob(f"{pkg}_*.deb"))
    if hits:
        return hits[-1]
    if not _apt_knows(series, pkg):
        _apt_update(series)
    log(f"apt-get download {pkg}")
    with tempfile.TemporaryDirectory(dir=d, prefix=".download-") as tmp:
        r = _run(["apt-get", *_apt_options(series), "download", pkg], cwd=tmp)
        if r.returncode:
            raise RuntimeError(f"apt-get download {pkg} failed:\n{r.stderr}")
        got = sorted(Path(tmp).glob(f"{pkg}_*.deb"))
        if not got:
            raise RuntimeError(f"apt-get download {pkg} left no .deb")
        final = d / got[-1].name
        os.replace(got[-1], final)
    return final


def pick_release(series: Series, *, kernel: str | None = None, refresh: bool = False) -> str:
    if kernel or os.environ.get("DWARF2BTF_KERNEL"):
        return kernel or os.environ["DWARF2BTF_KERNEL"]
    if not refresh:
        current = cache_dir() / f"current-{series.name}"
        if current.is_file() and current.read_text().strip():
            return current.read_text().strip()
        done = cached_releases(series.name)
        if done:
            return done[-1]
        pat = series.dbg_re()
        have = sorted({m.group(1) for m in (pat.match(p.name.split("_")[0])
                                            for p in debs_dir().glob("*.deb")) if m}
                      if debs_dir().is_dir() else set(), key=_krel_key)
        if have:
            return have[-1]
    return newest_release(series)


# ---------------------------------------------------------------------------
# fetch


def _extract(deb: Path, dest: Path) -> None:
    """dpkg-deb -x into dest, atomically (dest appears only when complete)."""
    if dest.is_dir():
        return
    tmp = dest.with_name(dest.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    log(f"extracting {deb.name}")
    r = _run(["dpkg-deb", "-x", str(deb), str(tmp)])
    if r.returncode:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(f"dpkg-deb -x {deb} failed:\n{r.stderr}")
    os.replace(tmp, dest)


def _decompress_one(src: Path, out: Path) -> None:
    if out.is_file():
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    raw = src.read_bytes()
    data = zstd_decompress(raw) if src.suffix == ".zst" else COMPRESSED[src.suffix](raw)
    tmp = out.with_name(out.name + ".partial")
    tmp.write_bytes(data)
    os.replace(tmp, out)


def _decompress_modules(src: Path, dest: Path) -> int:
    """Decompressed copies of src's .ko.{xz,zst,gz,bz2} under dest; how many."""
    from concurrent.futures import ThreadPoolExecutor

    jobs = [(p, dest / p.relative_to(src).with_suffix(""))
            for p in sorted(src.rglob("*.ko.*")) if p.suffix in COMPRESSED]
    if jobs:
        log(f"decompressing {len(jobs)} modules under {src}")
        with ThreadPoolExecutor(os.cpu_count() or 2) as pool:   # lzma lets go of the GIL
            list(pool.map(lambda j: _decompress_one(*j), jobs))
    return len(jobs)


def fetch(series_name: str = DEFAULT_SERIES, *, kernel: str | None = None,
          refresh: bool = False) -> Path:
    """Download and extract the corpus of a series; returns its root."""
    series = SERIES[series_name]
    krel = pick_release(series, kernel=kernel, refresh=refresh)
    cache = cache_dir()
    root = cache / krel
    if _complete(root):
        log(f"{krel}: already fetched in {root}")
        (cache / f"current-{series.name}").write_text(krel + "\n")
        return root
    log(f"kernel release {krel} ({series.suite})")
    root.mkdir(parents=True, exist_ok=True)
    debs = {}
    for part, pkg in PARTS.items():
        debs[part] = download(series, pkg.format(krel=krel))
    for part, deb in debs.items():
        _extract(deb, root / part)

    # Compressed modules (trixie ships .ko.xz): decompressed copies.
    compressed = {}
    for part in ("unsigned", "dbg"):
        compressed[part] = _decompress_modules(_modules_dir(root, part, krel),
                                               root / "modules" / part)

    # Where the shipped vmlinux BTF is.
    vmlinux = root / "dbg" / "usr" / "lib" / "debug" / "boot" / f"vmlinux-{krel}"
    btf = section_data(vmlinux, ".BTF")
    vmlinux_btf_from = f"dbg/usr/lib/debug/boot/vmlinux-{krel}"
    if btf is None:
        log("the -dbg vmlinux has no .BTF; extracting it from vmlinuz")
        inner = extract_vmlinux(root / "unsigned" / "boot" / f"vmlinuz-{krel}")
        with tempfile.NamedTemporaryFile() as f:
            f.write(inner)
            f.flush()
            btf = section_data(f.name, ".BTF")
        vmlinux_btf_from = f"unsigned/boot/vmlinuz-{krel} (decompressed)"
        if btf is None:
            raise RuntimeError("neither the -dbg vmlinux nor vmlinuz carries .BTF")
    tmp = root / "vmlinux.btf.partial"
    tmp.write_bytes(btf)
    os.replace(tmp, root / "vmlinux.btf")

    # Which modules carry .BTF (scanning ~1000 section tables is quick, but
    # the tests collect the list on every run).
    kos = _ko_files(_modules_dir(root, "unsigned", krel), root / "modules" / "unsigned")
    with_btf = [p for p in kos if ".BTF" in elf_sections(p)]
    (root / "btf-modules.txt").write_text(
        "".join(f"{p.relative_to(root)}\n" for p in with_btf))

    meta = {
        "series": series.name,
        "suite": series.suite,
        "kernel_release": krel,
        "debs": {part: deb.name for part, deb in debs.items()},
        "vmlinux_has_btf": vmlinux_btf_from.startswith("dbg/"),
        "vmlinux_btf_from": vmlinux_btf_from,
        "vmlinux_btf_size": len(btf),
        "modules": len(kos),
        "modules_with_btf": len(with_btf),
        "dbg_modules": len(_ko_files(_modules_dir(root, "dbg", krel), root / "modules" / "dbg")),
        "compressed_modules": compressed,
    }
    tmp = root / (MARKER + ".partial")
    tmp.write_text(json.dumps(meta, indent=2) + "\n")
    os.replace(tmp, root / MARKER)          # the completion marker, last
    (cache / f"current-{series.name}").write_text(krel + "\n")
    log(f"done: {root}")
    return root


# Another build of the 6.1 series (6.1.170 against the corpus' 6.1.192): module
# BTF relocated onto its vmlinux, as the kernel does for an out-of-tree module.
OTHER_BUILD = "6.1.0-47-cloud-amd64"


def other_vmlinux_btf(krel: str = OTHER_BUILD, series: str = DEFAULT_SERIES) -> Path:
    """The vmlinux .BTF of another kernel build, from its -unsigned package
    alone (26 MB; the vmlinuz inside is decompressed), cached in
    vmlinux-btf/<krel>.btf."""
    out = cache_dir() / "vmlinux-btf" / f"{krel}.btf"
    if out.is_file():
        return out
    deb = download(SERIES[series], PARTS["unsigned"].format(krel=krel))
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        _extract(deb, Path(tmp) / "pkg")
        elf = Path(tmp) / "vmlinux"
        elf.write_bytes(extract_vmlinux(Path(tmp) / "pkg" / "boot" / f"vmlinuz-{krel}"))
        btf = section_data(elf, ".BTF")
        if btf is None:
            raise RuntimeError(f"the vmlinux of {krel} carries no .BTF")
        (Path(tmp) / "btf").write_bytes(btf)
        os.replace(Path(tmp) / "btf", out)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="corpus.py", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    for name, help_ in (("fetch", "download and extract the kernel packages"),
                        ("path", "print the corpus directory (exit 1 if not fetched)"),
                        ("info", "print what the corpus holds, as JSON")):
        c = sub.add_parser(name, help=help_)
        c.add_argument("--version", choices=sorted(SERIES), default=DEFAULT_SERIES,
                       help="kernel series (default %(default)s)")
        if name == "fetch":
            c.add_argument("--kernel", help="a kernel release, e.g. 6.1.0-56-cloud-amd64")
            c.add_argument("--refresh", action="store_true",
                           help="ask apt for the newest release instead of the cached one")
    args = p.parse_args(argv)
    if args.command == "fetch":
        try:
            print(fetch(args.version, kernel=args.kernel, refresh=args.refresh))
        except (RuntimeError, OSError, ValueError) as e:
            print(f"corpus: {e}", file=sys.stderr)
            return 2
        return 0
    root = corpus_root(args.version)
    if root is None:
        print(f"corpus: the {args.version} corpus is not fetched (make corpus)", file=sys.stderr)
        return 1
    if args.command == "path":
        print(root)
    else:
        print(json.dumps(info(root), indent=2))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        sys.exit(0)
