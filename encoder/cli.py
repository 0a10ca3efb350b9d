"""The `dwarf2btf` command line: one subcommand per job.

Bad input ends in one line on stderr and exit status 2; an internal error in
exit status 1 with a request to report it (`--debug` shows the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from . import __version__
from .errors import Dwarf2BtfError


def _write(text: str) -> None:
    sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))


def cmd_dump(args: argparse.Namespace) -> int:
    from .btf.dump import dump_json, dump_text
    from .btf.reader import load

    base = load(args.base) if args.base else None
    btf = load(args.file, base=base)
    if args.format == "json":
        _write(dump_json(btf))
    else:
        _write("".join(dump_text(btf)))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from .btf.reader import load, read_sections
    from .btf.verifier import PROFILES, verify_bytes

    base = load(args.base) if args.base else None
    btf_bytes, base_bytes, section = read_sections(args.file)
    if base is None and base_bytes is not None:
        base = load(args.file).base
    # The kernel resolves only BTF loaded with BPF_BTF_LOAD, never vmlinux or
    # module BTF; judge the input the way the kernel would judge it.
    resolve = args.resolve if args.resolve is not None else (section is None and base is None)
    verify_bytes(btf_bytes, base=base, profile=PROFILES[args.profile],
                 resolve=resolve, source=args.file, section=section)
    print(f"{args.file}: OK")
    return 0


def _features(args: argparse.Namespace):
    """Features from --btf_features, else pahole's legacy defaults and flags."""
    from .features import Features
    if args.btf_features is not None:
        feats = Features.parse(args.btf_features)
    else:
        feats = Features.parse("var,decl_tag,type_tag,enum64")
        feats.float = args.btf_gen_floats
    for flag, name in (("skip_encoding_btf_vars", "var"),
                       ("skip_encoding_btf_decl_tag", "decl_tag"),
                       ("skip_encoding_btf_type_tag", "type_tag"),
                       ("skip_encoding_btf_enum64", "enum64")):
        if getattr(args, flag):
            setattr(feats, name, False)
    if args.btf_gen_floats:
        feats.float = True
    return feats


def cmd_encode(args: argparse.Namespace) -> int:
    from .btf.reader import load
    from .btf.verifier import PROFILES, verify_bytes
    from .btf.writer import encode as write
    from .dwarf.constants import Lang
    from .encode import Request, encode
    from .output import write_btf_file, write_btf_section

    if not args.btf_encode and not args.btf_encode_detached:
        raise Dwarf2BtfError("nothing to do: give -J (write .BTF into FILE) or "
                             "--btf_encode_detached=OUT")
    base = load(args.btf_base) if args.btf_base else None
    excluded = frozenset(Lang.Rust for lang in args.lang_exclude or () if lang == "rust")
    jobs = args.jobs or os.cpu_count() or 1
    req = Request(args.file, base=base, features=_features(args), jobs=jobs,
                  lang_exclude=excluded)
    result = encode(req)
    if args.verbose:
        for skip in result.skips:
            print(skip, file=sys.stderr)
        for w in result.warnings:
            print(f"warning: {w}", file=sys.stderr)
    data = write(result.btf, layout=True if req.features.layout and base is None else None)
    verify_bytes(data, base=base, profile=PROFILES["latest"], resolve=False,
                 source=args.btf_encode_detached or args.file)
    if args.btf_encode_detached:
        write_btf_file(args.btf_encode_detached, data)
    if args.btf_encode:
        write_btf_section(args.file, data)
    return 0


def cmd_dedup(args: argparse.Namespace) -> int:
    from dedup import dedup

    from .btf.reader import load
    from .btf.writer import encode as write
    from .output import write_btf_file

    base = load(args.base) if args.base else None
    btf = load(args.file, base=base)
    before = len(btf.types)
    out, _ = dedup(btf)
    write_btf_file(args.output, write(out, hdr_len=btf.hdr_len))
    if not args.quiet:
        print(f"{args.file}: {before} types -> {len(out.types)}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dwarf2btf", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"dwarf2btf {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("dump", help="print BTF like `bpftool btf dump file`")
    d.add_argument("file", help="raw BTF, or an ELF file with a .BTF section")
    d.add_argument("--base", "-B", help="base BTF (ELF or raw) for split BTF")
    d.add_argument("--format", choices=("raw", "json"), default="raw")
    d.set_defaults(func=cmd_dump)

    e = sub.add_parser("encode", help="encode FILE's DWARF as BTF (pahole -J)")
    e.add_argument("file", help="an ELF file with DWARF: vmlinux, a module, any -g object")
    e.add_argument("-J", "--btf_encode", action="store_true", help="write .BTF into FILE")
    e.add_argument("--btf_encode_detached", metavar="OUT", help="write raw BTF to OUT")
    e.add_argument("--btf_base", metavar="BASE", help="base BTF (ELF or raw): split output")
    e.add_argument("-j", "--jobs", type=int, default=1, nargs="?", const=0,
                   help="worker processes (bare -j: one per CPU)")
    e.add_argument("--btf_features", metavar="LIST",
                   help="pahole's feature names: default, +name, or an explicit list")
    e.add_argument("--btf_gen_floats", action="store_true", help="FLOAT kind (pahole flag)")
    for name in ("vars", "decl_tag", "type_tag", "enum64"):
        e.add_argument(f"--skip_encoding_btf_{name}", action="store_true",
                       help=argparse.SUPPRESS)
    e.add_argument("--lang_exclude", type=lambda s: s.split(","), default=[],
                   help="skip units of these languages (rust)")
    e.add_argument("-v", "--verbose", action="store_true",
                   help="print every skipped function and variable with the reason")
    e.set_defaults(func=cmd_encode)

    dd = sub.add_parser("dedup", help="deduplicate BTF made by anything")
    dd.add_argument("file", help="raw BTF, or an ELF file with a .BTF section")
    dd.add_argument("-o", "--output", required=True, help="where to write the result")
    dd.add_argument("--base", "-B", help="base BTF (ELF or raw): split input and output")
    dd.add_argument("-q", "--quiet", action="store_true")
    dd.set_defaults(func=cmd_dedup)

    v = sub.add_parser("verify", help="check BTF against the kernel's rules")
    v.add_argument("file", help="raw BTF, or an ELF file with a .BTF section")
    v.add_argument("--base", "-B", help="base BTF (ELF or raw) for split BTF")
    from .btf.verifier import PROFILES
    v.add_argument("--profile", default="latest", choices=sorted(PROFILES),
                   help="target kernel (default: latest)")
    v.add_argument("--resolve", action=argparse.BooleanOptionalAction, default=None,
                   help="run the kernel's resolve pass, as for BPF_BTF_LOAD (default: for "
                        "raw base BTF; not for ELF .BTF or split BTF, as the kernel does)")
    v.set_defaults(func=cmd_verify)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Dwarf2BtfError as e:
        if args.debug:
            traceback.print_exc()
        print(f"dwarf2btf: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception:
        traceback.print_exc() if args.debug else None
        print("dwarf2btf: internal error; please report it with the input file "
              "(run with --debug for details)", file=sys.stderr)
        return 1
