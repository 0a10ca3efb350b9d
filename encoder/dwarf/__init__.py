"""DWARF: units, abbreviation plans, and the DIE walk (knows DWARF, never BTF).

    with Dwarf.open(path) as dw:
        for unit in dw.units():
            dies = walk_unit(dw, unit)      # UnitDies: unit facts + records

The records and their fields are the contract in dies.py.
"""

from .dies import DIE_FIELDS, Die, DieRef, TypeSig
from .reader import Dwarf, Unit
from .walk import UnitDies, walk_unit

__all__ = ["DIE_FIELDS", "Die", "DieRef", "TypeSig", "Dwarf", "Unit", "UnitDies", "walk_unit"]
