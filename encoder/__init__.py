"""dwarf2btf: read DWARF from ELF files and write BTF, the job of `pahole -J`.

The Python API is encoder.api (`from encoder.api import encode, load`).
"""

__version__ = "0.1.0"

# The pahole release we answer `--version` with, so that kbuild's
# pahole-version.sh / Makefile.btf pass us the flags of that release.
# 1.25: every flag kbuild gives pahole 1.25 (and 1.22-1.24) is honoured;
# docs/KBUILD.md has the table and when the claim moves.
PAHOLE_VERSION = "1.25"
