"""The compiled DIE walk (encoder/dwarf/_cwalk.c).  Optional: without a C
compiler the package installs without it and encoder/dwarf/walk.py, the
reference implementation of the same contract, does the work."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("encoder.dwarf._cwalk", ["encoder/dwarf/_cwalk.c"],
                             extra_compile_args=["-O2", "-std=c11"], optional=True)])
