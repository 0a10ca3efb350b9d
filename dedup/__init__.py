"""Hash-and-merge deduplication of BTF-shaped types (issue: dedup).

Knows neither ELF nor DWARF: it works on the BTF model, so it serves any
producer's BTF.
"""
