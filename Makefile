# dwarf2btf: every job a person or CI runs is one target here.
PYTHON ?= python3
PIP    ?= $(PYTHON) -m pip
CORPUS  = $(PYTHON) tests/corpus.py

.PHONY: setup oracles demo test corpus kernel-check bench fixtures lint clean fuzz

## setup: install the package with its test extra, and the oracles (root)
setup: oracles
	$(PIP) install -q -e '.[test]'

## oracles: pahole 1.24, bpftool, libbpf, zstd and clang (for make fixtures) from Debian
oracles:
	@if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq bpftool dwarves libbpf1 zstd clang llvm >/dev/null; \
	else echo "oracles: not root or no apt-get; install bpftool dwarves libbpf1 zstd clang yourself"; fi

## demo: install, fetch Debian's 6.1 kernel, show our reading of its BTF next to bpftool's
demo: setup
	$(CORPUS) fetch
	$(PYTHON) bench/demo.py

## test: the default suite (committed fixtures only; no big downloads)
test:
	$(PYTHON) -m pytest -q

## corpus: download and cache the Debian kernel packages, then run the tests that need them
corpus:
	$(CORPUS) fetch
	$(PYTHON) -m pytest -q -m corpus

## kernel-check: encode Debian's 6.1 vmlinux and 21 modules next to pahole 1.24, compare
kernel-check:
	$(CORPUS) fetch
	$(PYTHON) -m pytest -q -s -m kernel_check

## bench: time our tool and the reference tools on the same input, same run
bench:
	$(CORPUS) fetch
	$(PYTHON) bench/run.py

## fixtures: rebuild the compiled C fixtures under fixtures/ and their expected outputs
fixtures:
	$(PYTHON) fixtures/build.py

## fuzz: the long fuzzing campaign (FUZZ_SECONDS=600, FUZZ_TARGETS=elf,dwarf,btf,
##       FUZZ_ENGINE=loop or atheris, FUZZ_OUT=~/.cache/dwarf2btf/fuzz); docs/ROBUSTNESS.md
fuzz:
	cd tests && $(PYTHON) -m fuzz.campaign

## lint: static checks
lint:
	$(PYTHON) -m ruff --version >/dev/null 2>&1 || $(PIP) install -q ruff
	$(PYTHON) -m ruff check encoder dedup tests bench fixtures

clean:
	rm -rf build *.egg-info .pytest_cache .hypothesis
	find . -name __pycache__ -prune -exec rm -rf {} +
