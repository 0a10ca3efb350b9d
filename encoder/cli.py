"""The `dwarf2btf` command line: one subcommand per job.

Bad input ends in one line on stderr and exit status 2; an internal error in
exit status 1 with a request to report it (`--debug` shows the traceback).
"""

from __future__ import annotations

import argparse
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
