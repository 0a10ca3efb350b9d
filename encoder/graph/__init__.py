"""Where DWARF meets BTF: one unit's DIE records become BTF-shaped types.

`convert` turns a unit's DIEs (encoder.dwarf's contract) into BTF model
types numbered like a split BTF over the dedup base, plus the function and
variable candidates that whole-program rules select from later.
"""
