# Attention, Executed — build the book, run every check.
#   make html     build the book (creates .venv on first use)
#   make unit     the fast tests (unit, property and docstring tests; seconds, not minutes)
#   make test     ruff + the fast tests, then the slow tests + doctest + a clean,
#                 warning-free html build (what CI runs)
#   make doctest  run every doctest in the book and in the package docstrings
#   make bench    longer measurements that do not belong in the tests
#   make clean    remove everything generated (make distclean also removes .venv)

PYTHON   ?= $(shell command -v python3.11 || command -v python3)
TORCH    ?= torch==2.13.0
VENV     ?= .venv
BUILD    ?= _build
SPHINXOPTS ?= -W --keep-going

PY      := $(VENV)/bin/python
SPHINX  := $(PY) -m sphinx
STAMP   := $(VENV)/.installed

.PHONY: html test doctest lint unit slow pytest bench clean clean-book distclean venv

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

# Fast feedback first: a broken contract fails in seconds, before any book is built.
unit: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

# The tests that build a (miniature) book or run the gallery scripts.
slow: $(STAMP)
	$(PY) -m pytest -q -m slow

pytest: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) -m chapter3.bench

# The test command always builds the book from clean: no cached notebook output or gallery
# figure can survive into what CI checks.
test: $(STAMP)
	$(MAKE) lint
	$(MAKE) unit
	$(MAKE) slow
	$(MAKE) doctest
	$(MAKE) clean-book
	$(MAKE) html

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
.PHONY: node live-browser
pytest: node
node:
	@command -v node >/dev/null || { $$([ "$$(id -u)" = 0 ] || echo sudo) apt-get update && \
		$$([ "$$(id -u)" = 0 ] || echo sudo) apt-get install -y nodejs; }

# The live pages (the adder widget, its atlas, the mask playground) in Debian's Chromium,
# from http://127.0.0.1 and from file:// (tests/browser/test_live.py; needs a built book).
live-browser: $(STAMP)
	@test -x /usr/bin/chromium || { $$([ "$$(id -u)" = 0 ] || echo sudo) apt-get update && \
		$$([ "$$(id -u)" = 0 ] || echo sudo) apt-get install -y chromium; }
	@$(PY) -c "import playwright" 2>/dev/null || $(PY) -m pip install --quiet playwright==1.65.2
	@test -f $(BUILD)/html/adder_live.html || $(MAKE) html
	$(PY) -m pytest -q -m browser tests/browser/test_live.py
