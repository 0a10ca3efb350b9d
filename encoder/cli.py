"""The `dwarf2btf` command line: one subcommand per job.

Bad input ends in one line on stderr and exit status 2; an internal error in
exit status 1 with a request to report it (`--debug` shows the traceback).
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import sys

from . import PAHOLE_VERSION, __version__
from .errors import Dwarf2BtfError

# How we are called by kernel builds: `$(PAHOLE) -J ... FILE`, no subcommand.
# Under `entry`, what a command leaves to os._exit instead of freeing (a
# base's tables: ~10 ms of deallocation for a small module's run).
_left_to_exit: list | None = None

PAHOLE_NAMES = ("pahole", "dwarf2btf-pahole")
TOP_OPTIONS = ("-h", "--help", "--version", "--debug")
EX_USAGE = 64           # what pahole (argp) exits with on a bad option


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
    """Features from --btf_features (all of them, as pahole adds them up), else
    pahole's legacy defaults and flags."""
    from .features import Features
    if args.btf_features is not None:
        feats = Features.parse(",".join(args.btf_features))
    else:
        feats = Features.parse("var,decl_tag,type_tag,enum64")
        feats.float = args.btf_gen_floats
    # pahole 1.25's spellings of consistent_func / optimized_func / encode_force
    for flag, name in (("skip_encoding_btf_inconsistent_proto", "consistent_func"),
                       ("btf_gen_optimized", "optimized_func"),
                       ("btf_encode_force", "encode_force")):
        if getattr(args, flag):
            setattr(feats, name, True)
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
    from .api import request, to_bytes
    from .basecache import keep, load_base
    from .encode import encode
    from .output import write_btf_file, write_btf_section
    from .progress import units, wanted

    if not args.btf_encode and not args.btf_encode_detached:
        raise Dwarf2BtfError("nothing to do: give -J (write .BTF into FILE) or "
                             "--btf_encode_detached=OUT")
    base = load_base(args.btf_base) if args.btf_base else None
    req = request(args.file, base, features=_features(args), jobs=args.jobs or os.cpu_count() or 1,
                  lang_exclude=args.lang_exclude or ())
    with units(args.file, wanted(args.quiet)) as progress:
        result = encode(req, progress=progress)
    if args.verbose:
        for skip in result.skips:
            print(skip, file=sys.stderr)
        for w in result.warnings:
            print(f"warning: {w}", file=sys.stderr)
    data = to_bytes(result, req, source=args.file)
    base_data = None
    if args.standalone or req.features.distilled_base:
        data, base_data = _module_form(result.btf, args, req.features.layout)
    if args.btf_encode_detached:
        write_btf_file(args.btf_encode_detached, data)
        if base_data is not None:       # X.btf + X.btf.base, as Linux 7.1's btf_testmod sample
            write_btf_file(args.btf_encode_detached + ".base", base_data)
    if args.btf_encode and not args.btf_encode_detached:    # as pahole: detached wins
        write_btf_section(args.file, data, base_data, drop_signature=args.drop_signature)
    keep(base)
    if _left_to_exit is not None:
        _left_to_exit.append(base)
    return 0


def _module_form(btf, args: argparse.Namespace, layout: bool) -> tuple[bytes, bytes | None]:
    """--standalone, or distilled_base: (.BTF bytes, .BTF.base bytes or None)."""
    from .api import module_form
    return module_form(btf, standalone=args.standalone, layout=layout, source=args.file)


def cmd_relocate(args: argparse.Namespace) -> int:
    from .btf.reader import load
    from .btf.relocate import RelocationError, relocate
    from .btf.verifier import PROFILES, verify_bytes
    from .btf.writer import encode as write
    from .output import write_btf_file

    distilled = args.distilled
    if distilled is None and os.path.isfile(args.module + ".base"):
        distilled = args.module + ".base"     # raw X.btf beside X.btf.base
    split = load(args.module, base=load(distilled) if distilled else None)
    if split.base is None:
        raise Dwarf2BtfError("no distilled base: neither a .BTF.base section nor "
                             "--distilled FILE", file=args.module)
    new_base = load(args.base)
    try:
        out = relocate(split, split.base, new_base)
    except RelocationError as e:
        name = os.path.basename(args.module).split(".")[0]
        e.what += f"; the kernel refuses the module: failed to validate module [{name}] BTF: -22"
        raise e.located(file=args.module)
    data = write(out)
    verify_bytes(data, base=new_base, profile=PROFILES["latest"], resolve=False,
                 source=args.output or args.module)
    if args.output:
        write_btf_file(args.output, data)
    if not args.quiet:
        print(f"{args.module}: relocates onto {args.base}: {len(split.base.types)} base "
              f"types matched, {len(out.types)} module types from id {out.start_id}",
              file=sys.stderr)
    return 0


def cmd_strip_layout(args: argparse.Namespace) -> int:
    from .btf.layout import strip_layout
    from .btf.reader import read_sections
    from .errors import BtfError
    from .output import write_btf_file, write_btf_section

    try:
        btf_bytes, base_bytes, section = read_sections(args.file)
    except OSError as e:
        raise Dwarf2BtfError(f"cannot read: {e.strerror}", file=args.file) from None
    try:
        data = strip_layout(btf_bytes)
        base = strip_layout(base_bytes) if base_bytes is not None else None
    except BtfError as e:
        raise e.within(file=args.file, section=section)
    _check_before_writing(data, base, args.file)
    if args.output or section is None:
        write_btf_file(args.output or args.file, data)
    else:
        write_btf_section(args.file, data, base)
    return 0


def _check_before_writing(data: bytes, base, source: str) -> None:
    """Our verifier on what a command is about to write (the kernel's meta
    checks, as for module and vmlinux BTF): never a BTF the kernel rejects."""
    from .btf.verifier import PROFILES, verify_bytes
    verify_bytes(data, base=base, profile=PROFILES["latest"], resolve=False, source=source)


def cmd_batch(args: argparse.Namespace) -> int:
    from .batch import main as batch
    return batch(args, _features(args))


def cmd_stats(args: argparse.Namespace) -> int:
    from .api import stats
    s = stats(args.file, args.base)
    _write(s.json() if args.json else s.text())
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from .api import diff
    bases = args.base or [None]
    kinds = {k.strip().upper() for k in args.kinds.split(",")} if args.kinds else None
    d = diff(args.old, args.new, bases[0], bases[-1], kinds=kinds)
    if args.json:
        _write(d.json())
    elif args.brief:
        if not d.same:
            print(f"{args.old} and {args.new} differ: {d.summary()}")
    else:
        _write(d.stat() if args.stat else d.text(show=args.lines))
    return 0 if d.same else 1


def cmd_dedup(args: argparse.Namespace) -> int:
    from dedup import dedup

    from .btf.reader import load
    from .btf.writer import encode as write
    from .output import write_btf_file

    base = load(args.base) if args.base else None
    btf = load(args.file, base=base)
    before = len(btf.types)
    out, _ = dedup(btf)
    data = write(out, hdr_len=btf.hdr_len)
    _check_before_writing(data, base, args.file)
    write_btf_file(args.output, data)
    if not args.quiet:
        print(f"{args.file}: {before} types -> {len(out.types)}", file=sys.stderr)
    return 0


def cmd_header(args: argparse.Namespace) -> int:
    from .btf.cdump import RULES, file_pointer_size, header
    from .btf.reader import load
    from .btf.tpstructs import emit as tp_structs
    from .output import write_btf_file

    base = load(args.base) if args.base else None
    btf = load(args.file, base=base)
    ptr = file_pointer_size(args.file) or (file_pointer_size(args.base) if args.base else None)
    text = "".join(header(btf, pointer_size=ptr, rules=RULES[args.rules],
                          extra=tp_structs if args.tp_structs else None))
    if args.output:
        write_btf_file(args.output, text.encode("utf-8", "surrogateescape"))
    else:
        _write(text)
    return 0


def pahole_version() -> str:
    """The pahole version we answer kernel builds with (docs/KBUILD.md: why
    this one); DWARF2BTF_PAHOLE_VERSION=1.NN claims another."""
    claim = os.environ.get("DWARF2BTF_PAHOLE_VERSION", PAHOLE_VERSION).lstrip("v")
    if not re.fullmatch(r"1\.\d+", claim):
        raise SystemExit(f"dwarf2btf: DWARF2BTF_PAHOLE_VERSION={claim!r}: want 1.NN")
    return claim


def cmd_version(args: argparse.Namespace) -> int:
    print(f"dwarf2btf {__version__} (answers kernel builds as pahole v{pahole_version()})")
    return 0


def _examples(text: str) -> dict:
    """Parser arguments for a subcommand whose --help ends with examples."""
    return {"epilog": "examples:\n" + text, "formatter_class": argparse.RawDescriptionHelpFormatter}


def add_encoding_options(e: argparse.ArgumentParser) -> None:
    """pahole's encoder options, shared by `encode` and `batch`."""
    e.add_argument("--btf_base", metavar="BASE", help="base BTF (ELF or raw): split output")
    e.add_argument("-j", "--jobs", type=int, default=1, nargs="?", const=0,
                   help="worker processes (bare -j: one per CPU)")
    e.add_argument("--btf_features", metavar="LIST", action="append",
                   help="pahole's feature names: default, +name, or an explicit list "
                        "(repeatable: the lists add up, as in pahole)")
    e.add_argument("--btf_gen_floats", action="store_true", help="FLOAT kind (pahole flag)")
    for name in ("vars", "decl_tag", "type_tag", "enum64"):
        e.add_argument(f"--skip_encoding_btf_{name}", action="store_true",
                       help=argparse.SUPPRESS)
    # pahole 1.25's flags (kbuild passes them to pahole >= 1.25)
    for flag in ("--skip_encoding_btf_inconsistent_proto", "--btf_gen_optimized",
                 "--btf_encode_force"):
        e.add_argument(flag, action="store_true", help=argparse.SUPPRESS)
    e.add_argument("--lang_exclude", type=lambda s: s.split(","), default=[],
                   help="skip units of these languages (rust)")
    e.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bar (there is none unless stderr is a terminal)")


def _parser_dump(sub) -> None:
    d = sub.add_parser("dump", help="print BTF like `bpftool btf dump file`")
    d.add_argument("file", help="raw BTF, or an ELF file with a .BTF section")
    d.add_argument("--base", "-B", help="base BTF (ELF or raw) for split BTF")
    d.add_argument("--format", choices=("raw", "json"), default="raw")
    d.set_defaults(func=cmd_dump)


def _parser_encode(sub) -> None:
    e = sub.add_parser("encode", help="encode FILE's DWARF as BTF (pahole -J)", **_examples(
        "  dwarf2btf encode vmlinux -j --btf_features=default --btf_encode_detached=vmlinux.btf\n"
        "  dwarf2btf encode mod.ko -J --btf_base /sys/kernel/btf/vmlinux "
        "--btf_features=default,distilled_base\n"
        "  dwarf2btf -J --btf_gen_floats -j --btf_base vmlinux mod.ko   "
        "# pahole's form, as kbuild runs it"))
    e.add_argument("file", help="an ELF file with DWARF: vmlinux, a module, any -g object")
    e.add_argument("-J", "--btf_encode", action="store_true", help="write .BTF into FILE")
    e.add_argument("--drop_signature", action="store_true",
                   help="with -J on a signed module: leave out the signature it would "
                        "invalidate, instead of refusing")
    e.add_argument("--btf_encode_detached", metavar="OUT", help="write raw BTF to OUT")
    add_encoding_options(e)
    e.add_argument("--standalone", action="store_true",
                   help="with --btf_base: self-contained BTF, the base types the module "
                        "uses copied in (loads anywhere with BPF_BTF_LOAD)")
    e.add_argument("-v", "-V", "--verbose", action="store_true",
                   help="print every skipped function and variable with the reason")
    e.set_defaults(func=cmd_encode)


def _parser_relocate(sub) -> None:
    r = sub.add_parser("relocate", help="move module BTF with a distilled base onto "
                       "another vmlinux, as the kernel does at module load", **_examples(
                           "  dwarf2btf relocate mod.ko --base /sys/kernel/btf/vmlinux\n"
                           "  dwarf2btf relocate mod.btf --base vmlinux -o mod.relocated.btf"
                           "   # mod.btf.base beside it"))
    r.add_argument("module", help="ELF with .BTF and .BTF.base, or raw split BTF")
    r.add_argument("--base", "-B", required=True, help="the new base BTF (ELF or raw)")
    r.add_argument("--distilled", metavar="FILE",
                   help="the distilled base of raw MODULE (default: MODULE.base)")
    r.add_argument("-o", "--output", help="write the relocated split BTF (raw) here")
    r.add_argument("-q", "--quiet", action="store_true")
    r.set_defaults(func=cmd_relocate)


def _parser_strip_layout(sub) -> None:
    sl = sub.add_parser("strip-layout", help="drop the layout section (and 32-byte header) "
                        "for kernels before 7.1, which refuse it")
    sl.add_argument("file", help="raw BTF, or an ELF file (.BTF and .BTF.base, in place)")
    sl.add_argument("-o", "--output", help="write raw BTF here instead of in place")
    sl.set_defaults(func=cmd_strip_layout)


def _parser_dedup(sub) -> None:
    dd = sub.add_parser("dedup", help="deduplicate BTF made by anything")
    dd.add_argument("file", help="raw BTF, or an ELF file with a .BTF section")
    dd.add_argument("-o", "--output", required=True, help="where to write the result")
    dd.add_argument("--base", "-B", help="base BTF (ELF or raw): split input and output")
    dd.add_argument("-q", "--quiet", action="store_true")
    dd.set_defaults(func=cmd_dedup)


def _parser_verify(sub) -> None:
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


def _parser_batch(sub) -> None:
    from .batch import add_arguments as batch_arguments
    b = sub.add_parser("batch", help="encode many files: one pool, a cache, a report",
                       **_examples(
        "  dwarf2btf batch -J --btf_base vmlinux --btf_features=default -j4 'build/**/*.ko'\n"
        "  dwarf2btf batch 'objs/**/*.o' -o btf/ --report report.tsv\n"
        "  dwarf2btf batch --manifest list.txt --btf_base /sys/kernel/btf/vmlinux "
        "--report - --report-format json\n"
        "exit status: 0 all encoded (or cached), 2 some input bad, 1 internal error"))
    batch_arguments(b)
    add_encoding_options(b)
    b.set_defaults(func=cmd_batch)


def _parser_stats(sub) -> None:
    s = sub.add_parser("stats", help="what a BTF is made of: kinds, bytes, largest types",
                       **_examples("  dwarf2btf stats /sys/kernel/btf/vmlinux\n"
                                   "  dwarf2btf stats mod.ko -B vmlinux --json"))
    s.add_argument("file", help="raw BTF, or an ELF file with a .BTF section")
    s.add_argument("--base", "-B", help="base BTF (ELF or raw) for split BTF")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_stats)


def _parser_diff(sub) -> None:
    df = sub.add_parser("diff", help="semantic difference of two BTFs (exit 0 same, 1 differ)",
                        **_examples(
        "  dwarf2btf diff old/vmlinux new/vmlinux            # two kernels\n"
        "  dwarf2btf diff pahole.btf ours.btf -B vmlinux     # two encoders, split BTF\n"
        "  dwarf2btf diff a.ko b.ko -B va/vmlinux -B vb/vmlinux --kinds struct,func\n"
        "exit status: 0 same, 1 different, 2 trouble (as diff(1))"))
    df.add_argument("old", help="raw BTF, or an ELF file with a .BTF section")
    df.add_argument("new")
    df.add_argument("--base", "-B", action="append", metavar="BASE",
                    help="base of split inputs; give it twice for OLD's and NEW's")
    df.add_argument("--kinds", help="only these kinds: struct,union,enum,func,var,...")
    df.add_argument("--stat", action="store_true", help="only the per-kind table")
    df.add_argument("-q", "--brief", action="store_true", help="only say whether they differ")
    df.add_argument("--json", action="store_true")
    df.add_argument("--lines", type=int, default=12, metavar="N",
                    help="lines of detail per changed entry (default 12)")
    df.set_defaults(func=cmd_diff)


def _parser_header(sub) -> None:
    h = sub.add_parser("header", help="write vmlinux.h, as `bpftool btf dump file FILE "
                       "format c`", **_examples(
        "  dwarf2btf header /sys/kernel/btf/vmlinux -o vmlinux.h\n"
        "  dwarf2btf header mod.ko -B vmlinux -o mod.h         # split BTF: base types too\n"
        "  dwarf2btf header vmlinux --tp-structs -o vmlinux.h  # + struct tp_args_<tracepoint>\n"
        "  dwarf2btf header vmlinux --rules libbpf-1.6         # as bpftool on libbpf 1.6"))
    h.add_argument("file", help="raw BTF, or an ELF file with a .BTF section")
    h.add_argument("--base", "-B", help="base BTF (ELF or raw) for split BTF")
    h.add_argument("-o", "--output", help="write here instead of to stdout")
    h.add_argument("--tp-structs", action="store_true",
                   help="add struct tp_args_<call> for each raw tracepoint: its context "
                        "(u64 per argument) with the arguments' names, for ctx->name")
    from .btf.cdump import RULES
    h.add_argument("--rules", choices=list(RULES), default="bpftool-7.1",
                   help="whose text to reproduce: Debian 12's bpftool 7.1 (default) or "
                        "libbpf 1.6 (which also sizes 1- and 8-byte enums with mode())")
    h.set_defaults(func=cmd_header)


def _parser_version(sub) -> None:
    ver = sub.add_parser("version", help="print our version (--version prints pahole's form)",
                         **_examples("  dwarf2btf version     # ours, and the pahole we claim\n"
                                     "  dwarf2btf --version   # v1.25: what kbuild's "
                                     "pahole-version.sh reads"))
    ver.set_defaults(func=cmd_version)


def _parser_exports(sub) -> None:
    from .exports.report import add_parser as add_exports
    add_exports(sub)


SUBCOMMANDS = {
    "dump": _parser_dump,
    "encode": _parser_encode,
    "relocate": _parser_relocate,
    "strip-layout": _parser_strip_layout,
    "dedup": _parser_dedup,
    "verify": _parser_verify,
    "batch": _parser_batch,
    "stats": _parser_stats,
    "diff": _parser_diff,
    "header": _parser_header,
    "version": _parser_version,
    "exports": _parser_exports,
}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The command line; given `argv`, only the subcommand it names is
    built when it names one (each imports what its options list: a small
    module's run should not pay for all of them)."""
    p = argparse.ArgumentParser(prog="dwarf2btf", description=__doc__.splitlines()[0],
                                epilog="`dwarf2btf -J ... FILE` (no command) is read as "
                                "pahole's command line, as kernel builds call PAHOLE.")
    p.add_argument("--version", action="version", version=f"v{pahole_version()}",
                   help="print the pahole version we stand in for, as kbuild expects "
                        "(our own: `dwarf2btf version`)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = next((a for a in argv or () if not a.startswith("-")), None)
    for name, add in SUBCOMMANDS.items():
        if wanted not in SUBCOMMANDS or name == wanted:
            add(sub)
    return p


def pahole_main(argv: list[str]) -> int:
    """pahole's command line (`pahole -J [flags] [--btf_base B] FILE`) with
    pahole's exit codes: 0, 1 for any failure, 64 for a bad option."""
    if "--version" in argv:
        print(f"v{pahole_version()}")
        return 0
    # pahole's -j takes its count attached (-j8) or not at all.
    argv = ["-j0" if a == "-j" else "--jobs=0" if a == "--jobs" else a for a in argv]
    try:
        args = build_parser(["encode"]).parse_args(["encode", "--quiet", *argv])
    except SystemExit as e:
        return EX_USAGE if e.code else 0
    return _run(args, failure=1)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if os.path.basename(sys.argv[0]) in PAHOLE_NAMES or (
            argv and argv[0].startswith("-") and argv[0] not in TOP_OPTIONS):
        return pahole_main(argv)
    return _run(build_parser(argv).parse_args(argv), failure=2)


def entry() -> None:
    """The installed commands and `python -m encoder`: `main`, then leave at
    once.  Output files are complete and synced by then; freeing a vmlinux's
    millions of objects one by one on the way out is time for nothing.

    The cyclic collector runs rarely: almost everything an encode allocates
    lives to the end (and holds no cycles that need it), and with the
    default thresholds collecting it over and over cost vmlinux ~15 %.  A
    vmlinux keeps 1-1.5 M container objects, a batch fewer; at 500 k the
    collector still ran twice over vmlinux (0.27 s) to free 25 k objects.
    Cycles are rare enough that waiting for 4 M costs no memory."""
    global _left_to_exit
    gc.set_threshold(4_000_000, 100, 100)
    _left_to_exit = []
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        pass
    os._exit(code)


def _print_traceback() -> None:
    import traceback            # only on --debug: 1.6 ms of every run's imports
    traceback.print_exc()


def _run(args: argparse.Namespace, failure: int) -> int:
    try:
        return args.func(args)
    except Dwarf2BtfError as e:
        if args.debug:
            _print_traceback()
        e.located(file=getattr(args, "file", None))    # a layer that did not know it
        line = str(e)
        if not line.isprintable():      # names from the input may hold newlines
            line = "".join(c if c.isprintable() else repr(c)[1:-1] for c in line)
        print(f"dwarf2btf: {line}", file=sys.stderr)
        return failure
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception:
        _print_traceback() if args.debug else None
        print("dwarf2btf: internal error; please report it with the input file "
              "(run with --debug for details)", file=sys.stderr)
        return 1
