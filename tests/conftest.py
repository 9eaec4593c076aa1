import pytest

from bear_lib.testing import start_app, stop_app, launch_chromium, trained_model

@pytest.fixture(scope='session')
def bears():
    from bear_lib.core import sample_bears
    return sample_bears()

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    "A failed test shows the end of each server log of the app or service it had running: Voilà's tracebacks are there, not on the page"
    rep = (yield).get_result()
    if rep.failed:
        from bear_lib.testing import server_logs
        logs = server_logs(since=call.start)
        if logs: rep.sections.append(('server logs', logs))

@pytest.fixture
def serve_app(tmp_path):
    "Start `bear_app` with the given args on a free port (`page`: see `start_app`); yield its URL; stop it"
    procs = []
    def _serve(*args, env=None, page=True):
        p, url = start_app(*args, cwd=tmp_path, env=env, page=page)
        procs.append(p)
        return url
    yield _serve
    for p in procs: stop_app(p)

@pytest.fixture(scope='session')
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()

@pytest.fixture(scope='session')
def trained(tmp_path_factory, bears):
    "`bear_train` on all sample bears with the defaults; returns the export's path. Trained once across processes: the notebooks use it too"
    return trained_model(bears, tmp_path_factory.mktemp('model'))

@pytest.fixture(scope='session')
def wheel(tmp_path_factory):
    "bear_lib's wheel built from this checkout (`bear_lib.testing.build_wheel`), once per test session (per pytest worker)"
    from bear_lib.testing import build_wheel
    return build_wheel(tmp_path_factory.mktemp('wheel'))

@pytest.fixture(scope='session')
def tiny(tmp_path_factory, bears):
    """A dataset of 8 sample photos per class and a model trained on it (64 px, 1 epoch): (dataset, export). Trained once across
    processes: without import_folder's manifest (it records paths and times) the same photos give `trained_model` the same key
    on both pytest workers and in the benchmarks' quick runs (bench/predict.py, bench/app.py), which train this same model"""
    from bear_lib.gather import import_folder
    root = tmp_path_factory.mktemp('tiny')
    import_folder(bears, root/'bears', n_per_class=8)
    (root/'bears'/'manifest.jsonl').unlink()
    return root/'bears', trained_model(root/'bears', root, epochs=1, size=64, bs=8)

@pytest.fixture
def dataset(tiny, tmp_path):
    "A fresh copy of the tiny dataset (without its manifest) for one test"
    import shutil
    dest = tmp_path/'bears'
    shutil.copytree(tiny[0], dest, ignore=shutil.ignore_patterns('*.jsonl'))
    return dest

# Markers (registered in pyproject.toml), given here from what a test uses so that test files needn't carry them:
# `make test` runs `-m "not load and not venv"` on two workers and `-m "load or venv"` in a process of its own beside them; `pytest -m "not slow"` is the quick run.
_LOAD = {'test_load_and_culling'}  # 8 pages at once: needs the machine to itself
_VENV = {'test_space_runs'}  # and every test using `core_venv`: pip installs into a fresh venv, waiting on the disk
_SLOW_FIXTURES = {'trained', 'tiny', 'wheel', 'serve_app', 'app_url', 'photos', 'browser'}  # train a model or start the app

# The longest test files first, so that `make test`'s two workers (`--dist loadfile --no-loadscope-reorder`) end together: xdist's
# default order (most tests first) left test_app_load.py, whose one test waits about 80 s for the culler, to run alone at the end.
# Seconds each file took on a worker in a full run of `make pytest`'s command (2 workers, 431 s, the 2 cores shared with another
# engineer's work): a simulation of xdist's scheduling with those times gives 405 s for this order, 412 s for the one before.
# test_clean_suggest.py is not measured yet (being written; 60 to 90 s expected): it goes among the long ones, not at the end.
_LONGEST_FIRST = ['test_app_load.py', 'test_app_server.py', 'test_clean.py', 'test_app_memory.py', 'test_cli.py', 'test_clean_suggest.py',
                  'test_app.py', 'test_onnx.py', 'test_clean_browser.py', 'test_pages.py', 'test_gather_report.py', 'test_progress.py',
                  'test_report.py', 'test_review.py', 'test_serve.py']
                  # 89, 86, 79, 77, 56, ?, 54, 50, 45, 39, 25, 22, 20, 19, 17 s

def _first(item) -> int:
    "Where `item`'s file stands in `_LONGEST_FIRST` (every other file after them, in collection order)"
    name = item.path.name
    return _LONGEST_FIRST.index(name) if name in _LONGEST_FIRST else len(_LONGEST_FIRST)

def pytest_collection_modifyitems(config, items):
    items.sort(key=_first)  # stable: each file's tests keep their order
    for item in items:
        fixtures = set(getattr(item, 'fixturenames', ()))
        load = getattr(item, "originalname", item.name) in _LOAD
        if load: item.add_marker(pytest.mark.load)
        if 'core_venv' in fixtures or getattr(item, "originalname", item.name) in _VENV: item.add_marker(pytest.mark.venv)
        if 'browser' in fixtures or load: item.add_marker(pytest.mark.browser)  # the load test launches its own Chromium
        if fixtures & _SLOW_FIXTURES or load or hasattr(getattr(item, 'module', None), 'start_app'): item.add_marker(pytest.mark.slow)
