# adsorbstudy: `make book` runs the study on the default CPU profile and builds the book;
# `make test` runs the tests. Both create .venv and install the project when needed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PROFILE ?= default
# Concurrent notebook runs (adsorbstudy study --jobs): one per core by default, independent runs in parallel,
# one torch thread each (the profiles set threads: 1), so more cores finish sooner with the same numbers.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# Without an NVIDIA GPU, pin the CPU wheel of torch (a plain `torch` would pull a multi-GB CUDA build).
HAVE_GPU := $(shell nvidia-smi -L >/dev/null 2>&1 && echo yes)
CONSTRAINTS := $(if $(HAVE_GPU),,-c constraints-cpu.txt)

.PHONY: book study build test venv chromium clean distclean benchmarks

$(VENV)/.installed: pyproject.toml constraints-cpu.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q $(CONSTRAINTS) -e '.[test]'
	touch $@

venv: $(VENV)/.installed

study: venv
	$(PY) -m adsorbstudy study --profile $(PROFILE) --jobs $(JOBS)

build: venv
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	@echo "The book: file://$(CURDIR)/_build/html/index.html"

book:
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory study PROFILE=$(PROFILE) && \
	$(MAKE) --no-print-directory build && \
	echo "make book ($(PROFILE) profile) took $$(( $$(date +%s) - start )) s"

# Headless Chromium (Debian package, its own dependencies suffice), driven by the browser tests through Playwright
# (a test extra: no browser download); without it they skip with a clear message.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "chromium could not be installed: the browser test will be skipped"; \
	  else echo "chromium missing and cannot be installed here: the browser test will be skipped"; fi; }

# Test processes (pytest-xdist): one per core, at most 8. The tests of the smoke study form one group
# (tests/conftest.py), run by one worker; the other workers take the rest.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n > 8 ? 8 : n )))

test: venv chromium
	$(PY) -m pytest -q -ra -n $(TEST_WORKERS) --dist loadgroup --durations=10

benchmarks: venv
	@for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf _build book/generated

distclean: clean
	rm -rf artifacts results $(VENV)
