"""The Python API: what batch jobs and test suites call instead of a subprocess.

    from encoder.api import encode, load, diff, stats

    vmlinux = load("/sys/kernel/btf/vmlinux")              # raw BTF or an ELF's .BTF
    btf = encode("mod.ko", base=vmlinux)                    # split BTF over vmlinux
    print(btf.dump())                                       # bpftool's `btf dump` text
    btf.write("mod.btf")                                    # raw BTF file
    report = diff(load("old.btf"), btf)                     # by named type, FUNC, VAR
    print(stats(btf).text())

A `Btf` (encoder/btf/model.py) holds the types in id order: `btf.types`,
`btf[type_id]`, `btf.base`, and `to_bytes()`, `dump()`, `write(path)`.
Bad input raises `encoder.errors.Dwarf2BtfError` (its str() is the one-line
message the command line prints).  Heavy modules load on first call, so
`import encoder` stays cheap.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Callable, Iterable

from .errors import Dwarf2BtfError

if TYPE_CHECKING:
    from .btf.diff import Diff
    from .btf.model import Btf
    from .btf.stats import Stats
    from .encode import Request, Result
    from .features import Features

def load(path: str | os.PathLike, base: str | os.PathLike | Btf | None = None) -> Btf:
    """BTF from a raw file or an ELF file's `.BTF` (with its `.BTF.base`, if any)."""
    from .btf.reader import load as _load
    return _load(path, base=_base(base))


def encode(path: str | os.PathLike, base: str | os.PathLike | Btf | None = None, *,
           features: str | Features | None = "default", jobs: int = 1,
           lang_exclude: Iterable[str] = (), verify: bool = True,
           progress: Callable[[int, int], None] | None = None) -> Btf:
    """Encode the DWARF of `path` (vmlinux, a module, any -g object) as BTF.

    `base` makes split BTF (a module over vmlinux).  `features` is pahole's
    `--btf_features` syntax ("default", "+global_var", "var,float,...") or a
    `Features`; `lang_exclude=("rust",)` skips Rust units as kbuild asks.
    With `verify` the result is checked against the kernel's rules first.
    """
    return encode_result(path, base, features=features, jobs=jobs,
                         lang_exclude=lang_exclude, verify=verify, progress=progress).btf


def encode_result(path: str | os.PathLike, base: str | os.PathLike | Btf | None = None, *,
                  features: str | Features | None = "default", jobs: int = 1,
                  lang_exclude: Iterable[str] = (), verify: bool = True,
                  progress: Callable[[int, int], None] | None = None) -> Result:
    """As `encode`, but the whole result: `.btf`, `.skips` (functions and
    variables left out, with reasons), `.warnings`, `.units`."""
    from .encode import encode as run
    req = request(path, base, features=features, jobs=jobs, lang_exclude=lang_exclude)
    result = run(req, progress=progress)
    _add_layout(result, req)
    if verify:
        to_bytes(result, req)
    return result


def request(path: str | os.PathLike, base: str | os.PathLike | Btf | None = None, *,
            features: str | Features | None = "default", jobs: int = 1,
            lang_exclude: Iterable[str] = ()) -> Request:
    """The encode.Request for these arguments (names as on the command line)."""
    from .dwarf.constants import Lang
    from .encode import Request
    from .features import Features
    feats = features if isinstance(features, Features) else Features.parse(
        "default" if features is None else features)
    excluded = frozenset(Lang.Rust for lang in lang_exclude if lang == "rust")
    return Request(os.fspath(path), base=_base(base), features=feats, jobs=max(1, jobs),
                   lang_exclude=excluded)


def to_bytes(result: Result, req: Request, *, verify: bool = True,
             source: str | None = None) -> bytes:
    """The BTF blob of an encoding, as the command line writes it: with the
    layout section when asked for (base BTF only), checked against the
    kernel's rules for module and vmlinux BTF unless `verify` is false."""
    from .btf.verifier import PROFILES, verify_bytes
    from .btf.writer import encode as write
    _add_layout(result, req)
    data = write(result.btf)
    if verify:
        verify_bytes(data, base=req.base, profile=PROFILES["latest"], resolve=False,
                     source=source or req.path)
    return data


def module_form(btf: Btf, *, standalone: bool = False, layout: bool = False,
                source: str | None = None) -> tuple[bytes, bytes | None]:
    """Split module BTF in the form it ships: `standalone` (the base types
    it uses copied in; loads anywhere) or over a distilled base (the
    `distilled_base` feature).  Returns (.BTF, .BTF.base or None), verified."""
    from .btf.verifier import PROFILES, verify_bytes
    from .btf.writer import encode as write
    if btf.base is None:
        raise Dwarf2BtfError("--standalone and distilled_base make module BTF: "
                             "give --btf_base", file=source)
    if standalone:
        from .btf.standalone import standalone as make_standalone
        data = write(make_standalone(btf), layout=True if layout else None)
        verify_bytes(data, profile=PROFILES["latest"], resolve=True, source=source)
        return data, None
    from .btf.distill import distill
    dist, split = distill(btf)
    base_data, data = write(dist), write(split)
    verify_bytes(base_data, profile=PROFILES["latest"], resolve=False, source=source,
                 section=".BTF.base")
    verify_bytes(data, base=dist, profile=PROFILES["latest"], resolve=False, source=source)
    return data, base_data


def _add_layout(result: Result, req: Request) -> None:
    """The `layout` feature: libbpf's layout section, in base BTF only."""
    if req.features.layout and req.base is None and result.btf.layout is None:
        from .btf.writer import default_layout
        result.btf.layout = default_layout()


def diff(a: str | os.PathLike | Btf, b: str | os.PathLike | Btf,
         base: str | os.PathLike | Btf | None = None,
         base_b: str | os.PathLike | Btf | None = None, *,
         kinds: set[str] | None = None) -> Diff:
    """The semantic difference of two BTFs by named type, FUNC and VAR
    (`Diff.same`, `Diff.text()`, `Diff.as_dict()`).  `base` is the base of
    split inputs; `base_b` a different one for `b`; `kinds` ({"STRUCT",
    "FUNC", ...}) keeps only those."""
    from .btf.diff import diff as _diff
    base = _base(base)
    other = _base(base_b) if base_b is not None else base
    return _diff(_btf(a, base), _btf(b, other), kinds=kinds)


def stats(btf: str | os.PathLike | Btf, base: str | os.PathLike | Btf | None = None) -> Stats:
    """Counts by kind, bytes per kind and of strings, the largest types."""
    from .btf.stats import stats as _stats
    return _stats(_btf(btf, _base(base)))


def _btf(x, base: Btf | None) -> Btf:
    from .btf.model import Btf as _Btf
    return x if isinstance(x, _Btf) else load(x, base)


def _base(base) -> Btf | None:
    if base is None:
        return None
    from .btf.model import Btf as _Btf
    return base if isinstance(base, _Btf) else load(base)
