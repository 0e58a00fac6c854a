# Attention, Executed — build the book, run every check.
#   make html     build the book (creates .venv on first use)
#   make unit     the fast tests (unit, property and docstring tests; seconds, not minutes)
#   make test     ruff + the fast tests + make bench QUICK=1, then the slow tests + doctest + a
#                 clean, warning-free html build, then the browser and reader tests on that build
#                 (what CI runs)
#   make doctest  run every doctest in the book and in the package docstrings
#   make browser  open every page of the built book in Chromium (installs Debian's chromium)
#   make reader   run downloaded notebooks in a fresh venv with only torch and the wheel
#   make reference  retrain the committed reference models on purpose and print what changed
#   make other-cpu  the doctests, gallery scripts and slow tests again, with PyTorch's CPU
#                 kernels dispatched as on another CPU (OTHER_CPU, default avx2)
#   make bench    longer measurements that do not belong in the tests (writes docs/_data/*.json;
#                 make bench QUICK=1: every section at small sizes, in under a minute)
#   make clean    remove everything generated (make distclean also removes .venv)

PYTHON   ?= $(shell command -v python3.11 || command -v python3)
TORCH    ?= torch==2.13.0
VENV     ?= .venv
BUILD    ?= _build
SPHINXOPTS ?= -W --keep-going
# make other-cpu: the kernels of another CPU (PyTorch's ATEN_CPU_CAPABILITY): AVX2 on an
# AVX-512 machine, else the scalar kernels that every CPU has
# the slow tests whose results rest on floating point: gallery scripts, trained models, gpt.js
# (the build-mechanics tests, freshness and the gallery guard, are the same on any CPU)
OTHER_CPU_TESTS ?= tests/test_gallery.py tests/test_frontier.py tests/test_js_adder.py \
	tests/test_cli_and_checkpoints.py
OTHER_CPU ?= $(shell grep -qw avx512f /proc/cpuinfo 2>/dev/null && echo avx2 || echo default)

PY      := $(VENV)/bin/python
SPHINX  := $(PY) -m sphinx
STAMP   := $(VENV)/.installed

CHROMIUM ?= /usr/bin/chromium
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: html test doctest lint unit slow pytest bench clean clean-book distclean venv \
	browser reader chromium node reference other-cpu

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
	$(SPHINX) -b html -c . $(SPHINXOPTS) -d $(BUILD)/doctrees docs $(BUILD)/html
	@echo "The book is at $(abspath $(BUILD))/html/index.html"

# The doctest builder runs {doctest} blocks of every page and the >>> examples of the
# docstrings that autodoc pulls in; it needs neither the notebooks nor the gallery executed.
doctest: $(STAMP)
	$(SPHINX) -b doctest -c . $(SPHINXOPTS) -D plot_gallery=0 -D nb_execution_mode=off \
		docs $(BUILD)/doctest

lint: $(STAMP)
	$(PY) -m ruff check .

# Fast feedback first: a broken contract fails in seconds, before any book is built.
unit: $(STAMP) node
	$(PY) -m pytest -q -m "not slow and not browser and not reader"

# The tests that train the adder, build a (miniature) book or run the gallery scripts.
slow: $(STAMP) node
	$(PY) -m pytest -q -m "slow and not browser and not reader"

# Both; the browser and reader tests need a built book and run on their own targets.
pytest: unit slow

# Debian's Chromium: Playwright drives it (a browser that a tool downloads cannot be fetched).
chromium:
	@test -x $(CHROMIUM) || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }

# Every page of the built book in a real browser; screenshots land in $(BUILD)/screenshots.
browser: $(STAMP) chromium
	@test -f $(BUILD)/html/index.html || $(MAKE) html
	$(PY) -m pytest -q -m browser tests/browser

# Downloaded notebooks and scripts, run in a fresh venv with only torch, the wheel and nbclient.
reader: $(STAMP)
	@test -f $(BUILD)/html/index.html || $(MAKE) html
	TORCH="$(TORCH)" $(PY) -m pytest -q -m reader tests/reader

# The full run records its results in docs/_data/ (commit them: the book's pages read them);
# QUICK=1 runs every section at small sizes and writes to $(BUILD)/bench-quick/ instead.
bench: $(STAMP)
	$(PY) -m bench $(if $(QUICK),--quick)

# The reference models (chapter3/adder/reference/) are committed; only this target rewrites
# them: it retrains each one here and prints what changed (steps, sums right, weights).
reference: $(STAMP)
	$(PY) -m chapter3.adder.reference retrain
	$(PY) -m chapter3.adder.reference check

# A page that drifts into one CPU's rounding fails here, before it fails for a reader: the
# doctests and the slow tests (gallery scripts among them) once more, with the vector kernels
# of another CPU. The adder cache is keyed on the kernels, so this trains its own models.
other-cpu: $(STAMP) node
	ATEN_CPU_CAPABILITY=$(OTHER_CPU) $(SPHINX) -b doctest -c . $(SPHINXOPTS) \
		-D plot_gallery=0 -D nb_execution_mode=off docs $(BUILD)/doctest-$(OTHER_CPU)
	ATEN_CPU_CAPABILITY=$(OTHER_CPU) $(PY) -m pytest -q -m "slow and not browser and not reader" \
		$(OTHER_CPU_TESTS)

# The test command always builds the book from clean: no cached notebook output or gallery
# figure can survive into what CI checks.
test: $(STAMP)
	$(MAKE) lint
	$(MAKE) unit
	$(MAKE) bench QUICK=1
	$(MAKE) slow
	$(MAKE) doctest
	$(MAKE) other-cpu
	$(MAKE) clean-book
	$(MAKE) html
	$(MAKE) browser
	$(MAKE) reader

clean-book:
	rm -rf $(BUILD) docs/auto_gallery docs/sg_execution_times.rst docs/_generated

clean: clean-book
	rm -rf .pytest_cache .ruff_cache *.egg-info chapter3.egg-info checkpoints
	find . -name __pycache__ -type d -not -path "./$(VENV)/*" -prune -exec rm -rf {} +

# Also remove the virtual environment (the next make rebuilds it).
distclean: clean
	rm -rf $(VENV)

# Node.js runs the book's JavaScript in the tests (tests/test_js_*.py): Debian's nodejs, when
# the machine has no node.
node:
	@command -v node >/dev/null || { $(SUDO) apt-get update && $(SUDO) apt-get install -y nodejs; }

