"""The compiled DIE walk (encoder/dwarf/_cwalk.c), type makers
(encoder/graph/_cconvert.c, which reads the walk's records through
_cwalk.h), relocation loop (encoder/elf/_crelocs.c), frozen-table probe
(encoder/_cfrozen.c), learning's loops (encoder/_clearned.c) and dedup's
inner loops (dedup/_cdedup.c).  Optional:
without a C compiler the package installs without them and
encoder/dwarf/walk.py, encoder/graph/convert.py, encoder/elf/relocs.py,
encoder/frozen.py, encoder/learned.py and dedup/engine.py, the reference implementations of the
same contracts, do the work."""

from setuptools import Extension, setup

FLAGS = ["-O2", "-std=c11"]
setup(ext_modules=[Extension("encoder.dwarf._cwalk", ["encoder/dwarf/_cwalk.c"],
                             depends=["encoder/dwarf/_cwalk.h"],
                             extra_compile_args=FLAGS, optional=True),
                   Extension("encoder.graph._cconvert", ["encoder/graph/_cconvert.c"],
                             depends=["encoder/dwarf/_cwalk.h"],
                             extra_compile_args=FLAGS, optional=True),
                   Extension("encoder.elf._crelocs", ["encoder/elf/_crelocs.c"],
                             extra_compile_args=FLAGS, optional=True),
                   Extension("encoder._cfrozen", ["encoder/_cfrozen.c"],
                             extra_compile_args=FLAGS, optional=True),
                   Extension("encoder._clearned", ["encoder/_clearned.c"],
                             extra_compile_args=FLAGS, optional=True),
                   Extension("encoder.btf._cverify", ["encoder/btf/_cverify.c"],
                             extra_compile_args=FLAGS, optional=True),
                   Extension("dedup._cdedup", ["dedup/_cdedup.c"],
                             extra_compile_args=FLAGS, optional=True)])
