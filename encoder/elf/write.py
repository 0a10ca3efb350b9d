"""Add, replace or drop `.BTF` / `.BTF.base` in an ELF file, changing nothing else.

`pahole -J` hands this job to objcopy, which rebuilds the whole file: it
renumbers sections (an added section goes before `.symtab`), so every
symbol's st_shndx and every relocation section's sh_info may change.  Here
the file is edited instead, for ELF64 little-endian `ET_REL` (modules,
objects), `ET_EXEC` and `ET_DYN` files:

- Every byte that a kept section, the ELF header, the program headers or a
  segment covers stays where it is; section indexes never move, so symbols,
  relocations, groups, sh_link/sh_info and e_shstrndx stay correct.
- A new section gets a new header at the end of the table; a replaced one
  keeps its index and header, with new offset and size.  New data goes after
  the last kept byte, then the section header table (8-aligned).  New
  sections are not SHF_ALLOC (like `objcopy --add-section`), so no program
  header changes.
- `.shstrtab` grows only when a name is missing: the old table plus the new
  names, at the end of the file.
- Bytes nothing refers to any more (an old section's data, the old table)
  are dropped when they are at the end of the file and zeroed when they are
  not, so rewriting a file we wrote gives the same bytes again.
- A dropped section that is the last in the table is removed; one in the
  middle becomes an all-zero (SHT_NULL, nameless) header, which keeps the
  indexes after it.

:class:`Rewrite` checks everything and plans the layout without writing;
:meth:`Rewrite.write_to` writes the new file into a file descriptor
(encoder/output.py does that into a temporary file and renames it over the
original).  :func:`btf_object` builds the vmlinux `.btf.o` of the kernel
build.
"""

from __future__ import annotations

import os
import struct
from typing import Mapping

from ..errors import ElfError
from .consts import (ELF_MAGIC, ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ET, SHF_ALLOC, SHF_COMPRESSED,
                     SHF_INFO_LINK, SHN_LORESERVE, SHN_XINDEX, SHT)
from .file import ElfFile

BTF_SECTIONS = (".BTF", ".BTF.base")

# ELF64 little-endian records: the header (e_ident whole), a section header,
# a program header.
_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_SHDR = struct.Struct("<IIQQQQIIQQ")
_PHDR = struct.Struct("<IIQQQQQQ")
_SH_NAME, _SH_TYPE, _SH_FLAGS, _SH_ADDR, _SH_OFFSET, _SH_SIZE, _SH_LINK, _SH_INFO, \
    _SH_ALIGN, _SH_ENTSIZE = range(10)
_E_SHOFF_AT = 0x28            # where e_shoff, then e_shnum/e_shstrndx, sit in the header
_E_SHNUM_AT = 0x3C
PN_XNUM = 0xFFFF

# BTF is made of u32 records; the kernel reads vmlinux BTF in place from
# __start_BTF, so the data of sections we create starts 4-aligned.
BTF_ALIGN = 4

SIGNATURE_MAGIC = b"~Module signature appended~\n"
MAX_ALIGN = 1 << 16           # more, for a section we move, is a broken or hostile file


def _align(n: int, a: int) -> int:
    return (n + a - 1) & -a if a > 1 else n


def _subtract(ranges: list[tuple[int, int]], cover: list[tuple[int, int]]):
    """The parts of the [lo, hi) `ranges` that no range of `cover` overlaps."""
    out = []
    for piece in ranges:
        pieces = [piece]
        for clo, chi in cover:
            cut = []
            for lo, hi in pieces:
                if lo < min(hi, clo):
                    cut.append((lo, min(hi, clo)))
                if max(lo, chi) < hi:
                    cut.append((max(lo, chi), hi))
            pieces = cut
        out.extend(pieces)
    return sorted(out)


def open_elf64(path: str, what: str) -> ElfFile:
    """`path` as an ElfFile, refused with one line unless ELF64 little-endian
    (ElfFile refuses bad magic, big-endian and truncation by itself)."""
    try:
        with open(path, "rb") as f:
            ident = f.read(6)
    except OSError as e:
        raise ElfError(f"cannot read: {e.strerror or e}", file=path) from None
    if not ident:
        raise ElfError("empty file, not ELF", file=path, offset=0)
    if ident[:4] == ELF_MAGIC and ident[5] == ELFDATA2LSB and ident[4] == ELFCLASS32:
        raise ElfError(f"32-bit ELF (ELFCLASS32): {what}", file=path, offset=4)
    return ElfFile(path, place_sections=False)


class Rewrite:
    """The plan for giving the ELF file `path` new sections.

    `updates` maps a section name to its new bytes, or to None to drop the
    section.  The constructor reads and checks the file and computes the new
    layout; nothing is written until :meth:`write_to`.

    A signed module (PKCS#7 signature and `~Module signature appended~`
    after the ELF data) is refused: any change invalidates the signature.
    With `drop_signature` the signature is left out instead, which is what
    objcopy does without saying so.
    """

    def __init__(self, path: str | os.PathLike, updates: Mapping[str, bytes | None], *,
                 drop_signature: bool = False):
        self.path = os.fspath(path)
        self.drop_signature = drop_signature
        with open_elf64(self.path, "only ELF64 files are written") as elf:
            self._plan(elf, dict(updates))

    def _err(self, what: str, *, section: str | None = None, offset: int | None = None):
        return ElfError(what, file=self.path, section=section, offset=offset)

    def _at(self, index: int) -> int:
        """Where section `index`'s header is in the file (for errors about it)."""
        return self._shoff + index * _SHDR.size

    # -- reading and planning --------------------------------------------------

    def _plan(self, elf: ElfFile, updates: dict[str, bytes | None]) -> None:
        if elf.e_type not in (ET.REL, ET.EXEC, ET.DYN):
            kind = getattr(elf.e_type, "name", elf.e_type)
            raise self._err(f"ELF type {kind}: only ET_REL, ET_EXEC and ET_DYN files are "
                            "written", offset=16)
        if not elf.sections:
            raise self._err("no section header table", offset=_E_SHOFF_AT)
        with open(self.path, "rb") as f:
            fd = f.fileno()
            self._identity = _identity(os.fstat(fd))
            self.file_size = os.fstat(fd).st_size
            ehdr = bytearray(os.pread(fd, _EHDR.size, 0))
            e = _EHDR.unpack_from(ehdr)
            phoff, shoff, phnum, shstrndx = e[5], e[6], e[10], e[13]
            nsec = len(elf.sections)
            table = os.pread(fd, nsec * _SHDR.size, shoff)
            shdrs = [list(_SHDR.unpack_from(table, i * _SHDR.size)) for i in range(nsec)]
            if phnum == PN_XNUM:
                phnum = shdrs[0][_SH_INFO]
            if shstrndx == SHN_XINDEX:
                shstrndx = shdrs[0][_SH_LINK]
            if not 0 < shstrndx < nsec:
                raise self._err(f"no section name table (e_shstrndx {shstrndx})",
                                offset=_E_SHNUM_AT + 2)
            self.shstrndx, self._shoff = shstrndx, shoff
            kept = [(0, _EHDR.size)] + self._segments(fd, e[9], phoff, phnum)
            dead = [(shoff, shoff + nsec * _SHDR.size)]

            replaced, removed, added = self._classify(elf, updates)
            names, grown = self._names(elf, fd, added)
            moved = set(replaced) | ({shstrndx} if grown is not None else set())
            for i, h in enumerate(shdrs):
                if i and h[_SH_TYPE] != SHT.NOBITS and h[_SH_SIZE]:
                    span = (h[_SH_OFFSET], h[_SH_OFFSET] + h[_SH_SIZE])
                    (dead if i in moved or i in removed else kept).append(span)
            end = max(hi for _lo, hi in kept)
            self._check_tail(fd, end, dead)

        # The new section table: blank or drop what goes, append what is new.
        for i in removed:
            shdrs[i] = [0] * 10
        while len(shdrs) - 1 in removed:
            removed.discard(len(shdrs) - 1)
            shdrs.pop()
        for name in added:
            shdrs.append([names[name], SHT.PROGBITS, 0, 0, 0, 0, 0, 0, BTF_ALIGN, 0])
            replaced[len(shdrs) - 1] = name
        self.writes: list[tuple[int, bytes]] = []     # (offset, bytes), from `end` on
        pos = end
        if grown is not None:
            pos = self._place(shdrs, shstrndx, elf.sections[shstrndx].name, pos, grown, 1)
        for i in sorted(replaced):
            shdrs[i][_SH_TYPE] = SHT.PROGBITS
            shdrs[i][_SH_FLAGS] &= ~SHF_COMPRESSED
            pos = self._place(shdrs, i, replaced[i], pos, updates[replaced[i]], BTF_ALIGN)
        new_shoff = _align(pos, 8)
        count = len(shdrs)
        shdrs[0][_SH_SIZE] = count if count >= SHN_LORESERVE else 0
        struct.pack_into("<Q", ehdr, _E_SHOFF_AT, new_shoff)
        struct.pack_into("<H", ehdr, _E_SHNUM_AT, count if count < SHN_LORESERVE else 0)
        self.writes.append((new_shoff, b"".join(_SHDR.pack(*h) for h in shdrs)))
        self.header = bytes(ehdr)
        self.keep_end = end
        self.zero = [(lo, min(hi, end)) for lo, hi in _subtract(dead, kept) if lo < end]
        self.size = new_shoff + count * _SHDR.size
        self.sections = count

    def _place(self, shdrs: list, i: int, name: str, pos: int, data: bytes,
               min_align: int) -> int:
        """Put `data` at the next aligned offset from `pos` as section `i`."""
        h = shdrs[i]
        align = h[_SH_ALIGN]
        if align & (align - 1) or align > MAX_ALIGN:
            raise self._err(f"sh_addralign {align:#x} is not a power of two up to "
                            f"{MAX_ALIGN:#x}", section=name, offset=self._at(i))
        pos = _align(pos, max(min_align, align))
        h[_SH_OFFSET], h[_SH_SIZE] = pos, len(data)
        self.writes.append((pos, data))
        return pos + len(data)

    def _segments(self, fd: int, phentsize: int, phoff: int, phnum: int):
        """The byte ranges of the program header table and of every segment."""
        if not phnum:
            return []
        if phentsize != _PHDR.size:
            raise self._err(f"program header size {phentsize}, expected {_PHDR.size}",
                            offset=0x36)
        if phoff + phnum * _PHDR.size > self.file_size:
            raise self._err("program header table past the end of the file", offset=phoff)
        raw = os.pread(fd, phnum * _PHDR.size, phoff)
        out = [(phoff, phoff + phnum * _PHDR.size)]
        for i in range(phnum):
            off, filesz = _PHDR.unpack_from(raw, i * _PHDR.size)[2:6:3]
            if filesz and off + filesz > self.file_size:
                raise self._err(f"segment {i} [{off:#x}, {off + filesz:#x}) runs past the end "
                                "of the file", offset=phoff + i * _PHDR.size)
            if filesz:
                out.append((off, off + filesz))
        return out

    def _classify(self, elf: ElfFile, updates):
        """{index: name} to replace, {indexes} to drop, [names] to add."""
        replaced: dict[int, str] = {}
        removed: set[int] = set()
        added: list[str] = []
        for name, data in updates.items():
            found = [h for h in elf.sections if h.index and h.name == name]
            if len(found) > 1:
                raise self._err(f"{len(found)} sections are called {name}", section=name,
                                offset=self._at(found[1].index))
            if not found:
                if data is not None:
                    added.append(name)
                continue
            h = found[0]
            if h.flags & SHF_ALLOC and elf.e_type != ET.REL:
                raise self._err("section is part of the loaded image (SHF_ALLOC in an "
                                "executable); cannot move it", section=name,
                                offset=self._at(h.index))
            if h.index == self.shstrndx:
                raise self._err("is the section name table; not replacing it", section=name,
                                offset=self._at(h.index))
            for other in elf.sections:
                if other.type in (SHT.REL, SHT.RELA) and other.info == h.index:
                    raise self._err(f"{other.name} relocates this section; rewriting it "
                                    "would invalidate them", section=name,
                                    offset=self._at(other.index))
            if data is None:
                self._check_unreferenced(elf, h)
                removed.add(h.index)
            else:
                replaced[h.index] = name
        return replaced, removed, added

    def _check_unreferenced(self, elf: ElfFile, h) -> None:
        """A dropped section must be named by no other header and no symbol."""
        for other in elf.sections:
            info_link = other.type in (SHT.REL, SHT.RELA) or other.flags & SHF_INFO_LINK
            if other.link == h.index or (info_link and other.info == h.index):
                raise self._err(f"section {other.name} refers to it; cannot drop it",
                                section=h.name, offset=self._at(other.index))
        for tab in elf.sections:
            if tab.type not in (SHT.SYMTAB, SHT.DYNSYM):
                continue
            shndx = elf.symbols_at(tab.index).shndx
            if h.index in shndx:
                raise self._err(f"symbol {shndx.index(h.index)} of {tab.name} is defined in "
                                "it; cannot drop it", section=h.name,
                                offset=tab.offset + shndx.index(h.index) * 24)

    def _names(self, elf: ElfFile, fd: int, added: list[str]):
        """({name: sh_name}, the grown .shstrtab or None when every name is there).

        A name may end another one (".BTF" inside ".rela.BTF"): any place
        where the name's bytes and a NUL occur is a valid sh_name."""
        h = elf.sections[self.shstrndx]
        table = os.pread(fd, h.size, h.offset) if h.type != SHT.NOBITS else b""
        names: dict[str, int] = {}
        grown = bytearray(table)
        for name in added:
            raw = name.encode() + b"\0"
            at = grown.find(raw)
            if at < 0:
                if not grown or grown[-1]:
                    grown.append(0)
                at = len(grown)
                grown += raw
            names[name] = at
        if len(grown) == len(table):
            return names, None
        if h.flags & SHF_COMPRESSED or h.type == SHT.NOBITS:
            raise self._err("the section name table is compressed or has no bytes; cannot "
                            "add names to it", section=h.name, offset=h.offset)
        return names, bytes(grown)

    def _check_tail(self, fd: int, end: int, dead: list[tuple[int, int]]) -> None:
        """Bytes past the last kept byte are dropped: they must be our own dead
        ranges or zero padding, never data nothing describes (a signature)."""
        if end >= self.file_size:
            return
        signature = self._signature(fd)
        if signature is not None:
            if not self.drop_signature:
                raise self._err("the module is signed; writing into it would invalidate "
                                "the signature (add BTF before signing, or drop the "
                                "signature)", offset=signature)
            dead.append((signature, self.file_size))
        for lo, hi in _subtract([(end, self.file_size)], dead):
            for at in range(lo, hi, 1 << 20):
                chunk = os.pread(fd, min(1 << 20, hi - at), at)
                if chunk.strip(b"\0"):
                    first = at + len(chunk) - len(chunk.lstrip(b"\0"))
                    raise self._err("bytes that no section or header describes follow the "
                                    "last section; refusing to drop them", offset=first)

    def _signature(self, fd: int) -> int | None:
        """Where an appended module signature starts, or None.

        Layout (scripts/sign-file): signature, struct module_signature (12
        bytes; its last 4 are the signature's length, big-endian), magic."""
        n = len(SIGNATURE_MAGIC)
        if self.file_size < n + 12 or os.pread(fd, n, self.file_size - n) != SIGNATURE_MAGIC:
            return None
        info = self.file_size - n - 12
        start = info - int.from_bytes(os.pread(fd, 4, info + 8), "big")
        if start < 0:
            raise self._err("module signature longer than the file", offset=info)
        return start

    # -- writing ---------------------------------------------------------------

    def write_to(self, out_fd: int) -> None:
        """Write the whole new file into `out_fd` (an empty file)."""
        with open(self.path, "rb") as src:
            if _identity(os.fstat(src.fileno())) != self._identity:
                raise self._err("the file changed between planning and writing; run again")
            _copy(src.fileno(), out_fd, self.keep_end)
        os.pwrite(out_fd, self.header, 0)
        for lo, hi in self.zero:
            for at in range(lo, hi, 1 << 20):
                os.pwrite(out_fd, bytes(min(1 << 20, hi - at)), at)
        pos = self.keep_end
        for off, data in self.writes:
            if off > pos:
                os.pwrite(out_fd, bytes(off - pos), pos)
            os.pwrite(out_fd, data, off)
            pos = off + len(data)
        os.ftruncate(out_fd, self.size)


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _copy(src: int, dst: int, size: int) -> None:
    """The first `size` bytes of `src` into `dst`, in the kernel when it can
    (copy_file_range: no trip through Python, shared extents on btrfs/xfs)."""
    done = 0
    fast = hasattr(os, "copy_file_range")
    while done < size:
        n = 0
        if fast:
            try:
                n = os.copy_file_range(src, dst, size - done, done, done)
            except OSError:
                fast = False
                continue
        else:
            chunk = os.pread(src, min(size - done, 1 << 22), done)
            if chunk:
                n = os.pwrite(dst, chunk, done)
        if n == 0:
            raise OSError(f"file shrank while copying it ({done} of {size} bytes)")
        done += n


def btf_object(reference: str | os.PathLike, btf: bytes) -> bytes:
    """The `.btf.o` the kernel build links into vmlinux: an ET_REL object for
    `reference`'s machine (e_machine, e_flags, OS ABI) holding only `.BTF`,
    SHF_ALLOC and read-only, no symbols.

    What scripts/gen-btf.sh makes with `objcopy --add-section .BTF=...
    --set-section-flags .BTF=alloc,readonly` on an empty object followed by
    `--only-section=.BTF --strip-all` (and link-vmlinux.sh before it from
    the vmlinux with e_type patched to ET_REL): section 1 `.BTF` at 0x40,
    section 2 `.shstrtab`, the table 8-aligned after them.  One difference
    on purpose: `.BTF` asks for 4-byte alignment, not 1, because the kernel
    reads vmlinux BTF in place at __start_BTF and Linux 6.1's linker script
    does not align it.
    """
    path = os.fspath(reference)
    with open_elf64(path, "a .btf.o is made for ELF64 machines only") as elf:
        machine, flags = int(elf.machine), elf.flags
    with open(path, "rb") as f:
        ident = f.read(16)
    names = b"\0.shstrtab\0.BTF\0"
    btf_off = _EHDR.size
    names_off = btf_off + len(btf)
    shoff = _align(names_off + len(names), 8)
    e_ident = ELF_MAGIC + bytes([ELFCLASS64, ELFDATA2LSB, 1, ident[7], ident[8]]) + bytes(7)
    header = _EHDR.pack(e_ident, ET.REL, machine, 1, 0, 0, shoff, flags, _EHDR.size,
                        0, 0, _SHDR.size, 3, 2)
    table = (_SHDR.pack(*[0] * 10)
             + _SHDR.pack(11, SHT.PROGBITS, SHF_ALLOC, 0, btf_off, len(btf), 0, 0, BTF_ALIGN, 0)
             + _SHDR.pack(1, SHT.STRTAB, 0, 0, names_off, len(names), 0, 0, 1, 0))
    return b"".join((header, btf, names, bytes(shoff - names_off - len(names)), table))
