# Attention, Executed — build the book, run every check.
#   make html     build the book (creates .venv on first use)
#   make test     ruff + pytest + doctest + make bench QUICK=1 + a clean, warning-free html build
#                 (what CI runs)
#   make doctest  run every doctest in the book and in the package docstrings
#   make bench    longer measurements that do not belong in the tests (writes docs/_data/*.json;
#                 make bench QUICK=1: every section at small sizes, in under a minute)
#   make clean    remove everything generated (make distclean also removes .venv)

PYTHON   ?= $(shell command -v python3.11 || command -v python3)
TORCH    ?= torch==2.13.0
VENV     ?= .venv
BUILD    ?= _build
SPHINXOPTS ?= -W --keep-going

PY      := $(VENV)/bin/python
SPHINX  := $(PY) -m sphinx
STAMP   := $(VENV)/.installed

.PHONY: html test doctest lint pytest bench clean clean-book distclean venv

venv: $(STAMP)

# Torch is installed first and pinned here, so that the package's torch>=2.2 range is already
# satisfied and pip never reaches for a multi-gigabyte CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3" >/dev/null
	touch $(STAMP)

html: $(STAMP)
	$(SPHINX) -b html -c . $(SPHINXOPTS) docs $(BUILD)/html
	@echo "The book is at $(abspath $(BUILD))/html/index.html"

# The doctest builder runs {doctest} blocks of every page and the >>> examples of the
# docstrings that autodoc pulls in; it needs neither the notebooks nor the gallery executed.
doctest: $(STAMP)
	$(SPHINX) -b doctest -c . $(SPHINXOPTS) -D plot_gallery=0 -D nb_execution_mode=off \
		docs $(BUILD)/doctest

lint: $(STAMP)
	$(PY) -m ruff check .

pytest: $(STAMP)
	$(PY) -m pytest -q

# The full run records its results in docs/_data/ (commit them: the book's pages read them);
# QUICK=1 runs every section at small sizes and writes to $(BUILD)/bench-quick/ instead.
bench: $(STAMP)
	$(PY) -m chapter3.bench $(if $(QUICK),--quick)

# The test command always builds the book from clean: no cached notebook output or gallery
# figure can survive into what CI checks.
test: $(STAMP)
	$(MAKE) lint
	$(MAKE) pytest
	$(MAKE) doctest
	$(MAKE) bench QUICK=1
	$(MAKE) clean-book
	$(MAKE) html

clean-book:
	rm -rf $(BUILD) docs/auto_gallery docs/sg_execution_times.rst

clean: clean-book
	rm -rf .pytest_cache .ruff_cache *.egg-info chapter3.egg-info checkpoints
	find . -name __pycache__ -type d -not -path "./$(VENV)/*" -prune -exec rm -rf {} +

# Also remove the virtual environment (the next make rebuilds it).
distclean: clean
	rm -rf $(VENV)
