"""The BTF format: model, reader, writer, verifier and dump.  Knows no DWARF."""

from .model import Btf
from .reader import load, parse
from .writer import encode

__all__ = ["Btf", "load", "parse", "encode"]
