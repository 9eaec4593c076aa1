import os, signal, socket, subprocess, sys, time, urllib.request
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

@pytest.fixture(scope='session')
def bears():
    from bear_lib.core import sample_bears
    return sample_bears()

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def wait_http(url, proc, timeout=120):
    "Wait until `url` answers 200, or fail with the server's output"
    t = time.time()
    while time.time() - t < timeout:
        if proc.poll() is not None: raise RuntimeError(f'server exited: {log_tail(proc)}')
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200: return
        except Exception: time.sleep(0.5)
    raise TimeoutError(f'{url} did not answer in {timeout} s')

def log_tail(proc, n=5000) -> str:
    "The last `n` characters of the output of a server from `start_app`"
    return Path(proc.log).read_text(errors='replace')[-n:]

def start_app(*args, cwd, env=None):
    "Start `bear_app` with `args` on a free port; return (process, URL) once it answers"
    port = free_port()
    # output to a file: a pipe nobody reads fills up (64 KiB) and then stalls the server and its kernels
    log = Path(cwd)/f'bear_app_{port}.log'
    with open(log, 'w') as out:
        p = subprocess.Popen([str(BIN/'bear_app'), '--port', str(port), *map(str, args)], cwd=cwd, stdout=out,
                             stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, start_new_session=True)
    p.log = log
    url = f'http://127.0.0.1:{port}/'
    try: wait_http(url, p)
    except BaseException: stop_app(p); raise
    return p, url

def stop_app(p):
    "Stop a server from `start_app`, and the kernels it started"
    try: os.killpg(p.pid, signal.SIGTERM)
    except ProcessLookupError: return
    try: p.wait(30)
    except subprocess.TimeoutExpired: os.killpg(p.pid, signal.SIGKILL)

@pytest.fixture
def serve_app(tmp_path):
    "Start `bear_app` with the given args on a free port; yield its URL; stop it"
    procs = []
    def _serve(*args, env=None):
        p, url = start_app(*args, cwd=tmp_path, env=env)
        procs.append(p)
        return url
    yield _serve
    for p in procs: stop_app(p)

@pytest.fixture(scope='session')
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path='/usr/bin/chromium',
                              args=['--no-sandbox', '--disable-gpu', '--disable-background-networking'])
        yield b
        b.close()

def upload(page, *files, wait=True):
    "Choose `files` in the page's FileUpload (ipywidgets 8 has no <input type=file> to fill); `wait` until the browser has read them"
    with page.expect_file_chooser() as fc: page.click('button.widget-upload')
    fc.value.set_files([str(f) for f in files])
    # The button says "Upload (N)" once the files are read and their bytes are on their way to the kernel
    if wait: page.wait_for_function(f"document.querySelector('button.widget-upload').textContent.endsWith('({len(files)})')")

def wait_rows(page, *names, timeout=60_000):
    "Wait until the new result rows are one for each file name in `names`, in order; return their texts"
    from playwright.sync_api import TimeoutError as PWTimeout
    js = (f"(names => {{ const r = [...document.querySelectorAll('.bear-result:not(.bear-old)')].map(e => e.innerText);"
          f" return r.length == names.length && names.every((n, i) => r[i].includes(n + ':')); }})")
    try: page.wait_for_function(js, arg=list(names), timeout=timeout)
    except PWTimeout:
        raise AssertionError(f'no result for {names} in {timeout/1000:.0f} s; status: {page.inner_text(".bear-status")!r}; '
                             f'upload button: {page.inner_text("button.widget-upload")!r}') from None
    return [page.inner_text(f'.bear-result:not(.bear-old) >> nth={i}') for i in range(len(names))]

def mark_old(page):
    "Mark the result rows on the page as old, so `wait_rows` waits for new ones"
    page.evaluate("document.querySelectorAll('.bear-result').forEach(e => e.classList.add('bear-old'))")

def classify(page, *files, timeout=60_000):
    "Upload `files`, click Classify, return the text of each result row"
    mark_old(page)
    upload(page, *files)
    page.click('button.bear-classify')
    return wait_rows(page, *[f.name for f in files], timeout=timeout)

def run(*args, cwd=None, check=True):
    "Run a console script of this venv; fail the test with its output if `check` and it fails"
    r = subprocess.run([str(BIN/args[0]), *map(str, args[1:])], capture_output=True, text=True, cwd=cwd)
    if check: assert r.returncode == 0, r.stdout + r.stderr
    return r

@pytest.fixture(scope='session')
def trained(tmp_path_factory, bears):
    "`bear_train` on all sample bears, with the defaults; returns the export's path"
    out = tmp_path_factory.mktemp('model')/'export.pkl'
    r = run('bear_train', '--images', bears, '--out', out)
    print(r.stdout)
    return out

# Markers (registered in pyproject.toml), given here from what a test uses so that test files needn't carry them:
# `make test` runs `-m "not load"`, then `-m load` in a process of its own; `pytest -m "not slow"` is the quick run.
_LOAD = {'test_load_and_culling'}  # 8 pages at once: needs the machine to itself
_SLOW_FIXTURES = {'trained', 'tiny', 'serve_app', 'app_url', 'photos', 'browser'}  # train a model or start the app

def pytest_collection_modifyitems(config, items):
    for item in items:
        fixtures = set(getattr(item, 'fixturenames', ()))
        load = getattr(item, "originalname", item.name) in _LOAD
        if load: item.add_marker(pytest.mark.load)
        if 'browser' in fixtures or load: item.add_marker(pytest.mark.browser)  # the load test launches its own Chromium
        if fixtures & _SLOW_FIXTURES or load or hasattr(getattr(item, 'module', None), 'start_app'): item.add_marker(pytest.mark.slow)
