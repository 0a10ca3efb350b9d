"""Fuzzing dwarf2btf: input builders, mutators, the outcome oracle, the campaign.

The default suite (tests/test_fuzz_*.py, tests/test_limits.py) runs a
bounded, deterministic share of this; `make fuzz` runs the long campaign
(campaign.py).  Nothing here imports code the project did not write, except
atheris when it is installed (the campaign's coverage-guided engine).
"""
