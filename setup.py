"""The compiled DIE walk (encoder/dwarf/_cwalk.c) and relocation loop
(encoder/elf/_crelocs.c).  Optional: without a C compiler the package
installs without them and encoder/dwarf/walk.py and encoder/elf/relocs.py,
the reference implementations of the same contracts, do the work."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("encoder.dwarf._cwalk", ["encoder/dwarf/_cwalk.c"],
                             extra_compile_args=["-O2", "-std=c11"], optional=True),
                   Extension("encoder.elf._crelocs", ["encoder/elf/_crelocs.c"],
                             extra_compile_args=["-O2", "-std=c11"], optional=True)])
