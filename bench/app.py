"""Seconds from opening the app's page to the first answer shown, with and without pre-heated kernels.

    python bench/app.py [--runs 3]
    OMP_NUM_THREADS=2 python bench/app.py --clean [--images /work/shared/data/bears] [--runs 3]
    python bench/app.py --quick [--clean]    # CI: one timed page a mode (after the untimed warm-up page each)

`--quick` times one page a mode; with `--clean`, on 8 photos a class, with a model `bear_train` trains on them at 64 px for one
epoch (kept in `bear_lib.testing.trained_model`'s cache, $BEAR_TEST_CACHE) and out-of-fold losses of the same recipe.

For each mode a fresh `bear_app` (zero-shot model): `--pool 1` (pre-heated, the shipped default) and `--pool 0` (a kernel is
started and the notebook run when the page is opened), after one untimed warm-up page each. Each run opens a new page, uploads one photo as soon as the upload
button shows, clicks Classify and stops the clock when the answer is shown. Before each run, the pool (if any) is refilled and
the kernels idle.
Last line: ratio=<pre-heated seconds / cold seconds> (median of the runs).

`--clean`: seconds from opening the cleaning page (`bear_app --clean`) to its Apply button and first thumbnails, on a temporary
copy of `--images`, with a model `bear_train`'s default recipe trains on the copy. Baseline: a cold kernel ranking by the model's
own loss (the page's notebook runs every photo through the model when opened). Then a pre-heated kernel, without and with
`_oof.csv` (2-fold out-of-fold predictions of the same recipe, as `bear_eval` writes them; the cleaner reads the losses instead
of computing them). Before each run, as above, the pool is refilled and the kernels idle. Last line: ratio=<pre-heated with _oof.csv / cold without>.
"""
import argparse, statistics, time
from pathlib import Path
from bear_lib.testing import start_app, stop_app, upload, launch_chromium, scratch_dir

def first_answer(browser, url, photo):
    page = browser.new_page()
    t = time.perf_counter()
    page.goto(url, timeout=300_000)
    page.wait_for_selector('button.widget-upload', timeout=300_000)
    upload(page, photo)
    page.click('button.bear-classify')
    page.wait_for_selector('.bear-result', timeout=300_000)
    secs = time.perf_counter() - t
    assert 'Prediction: grizzly' in page.inner_text('.bear-result')
    page.close(run_before_unload=True)
    return secs

def pool_fills(log) -> int:
    "How often Voilà has said the kernel pool is filled: a pre-heated kernel has started (see `ready`)"
    return Path(log).read_text(errors='replace').count('is filled with')

def quiet(p, below=10., secs=1., timeout=300):
    "Wait until `p` and the processes under it (Voilà, its kernels) use under `below`% of a core together for `secs`"
    import psutil
    t = time.time()
    while time.time() - t < timeout:
        procs = [psutil.Process(p.pid), *psutil.Process(p.pid).children(recursive=True)]
        for c in procs: c.cpu_percent(None)
        time.sleep(secs)
        use = 0.
        for c in procs:
            try: use += c.cpu_percent(None)
            except psutil.Error: pass  # ended meanwhile
        if use < below: return

def ready(p, pool, i):
    "Before run `i`: with a pool, wait until it has been filled `i + 1` times; then until Voilà and its kernels are idle"
    t = time.time()
    while pool and pool_fills(p.log) < i + 1 and time.time() - t < 300: time.sleep(0.5)
    # Voilà says the pool is filled once the kernel has started, before it has run the notebook (loading the model, and for the
    # cleaning page ranking the photos): so wait until the kernels are idle too
    quiet(p)
    time.sleep(1)

def bench(browser, pool, runs, photo):
    p, url = start_app('--pool', pool, cwd=scratch_dir('bench_app_'))
    try:
        ts = []
        for i in range(runs):
            ready(p, pool, i)
            ts.append(first_answer(browser, url, photo))
        return ts
    finally: stop_app(p)

def clean_open(browser, url):
    "Seconds from opening the cleaning page to its Apply button and two thumbnails shown"
    page = browser.new_page()
    t = time.perf_counter()
    page.goto(url, timeout=300_000)
    page.wait_for_selector('button:has-text("Apply")', timeout=300_000)
    page.wait_for_function("() => document.querySelectorAll('.widget-output img').length >= 2", timeout=300_000)
    secs = time.perf_counter() - t
    page.close(run_before_unload=True)
    return secs

def bench_clean(browser, pool, runs, root, model):
    p, url = start_app('--clean', root, '--model', model, '--pool', pool, cwd=scratch_dir('bench_app_'))
    try:
        ts = []
        for i in range(runs):
            ready(p, pool, i)
            ts.append(clean_open(browser, url))
        return ts
    finally: stop_app(p)

def main_clean(a):
    import shutil
    from playwright.sync_api import sync_playwright
    from bear_lib.train import train, export_model
    from bear_lib.train import cross_validate
    from bear_lib.clean import OOF
    tmp = scratch_dir('bench_clean_')
    root = tmp/'bears'
    if a.quick:
        from bear_lib.gather import import_folder
        from bear_lib.testing import trained_model
        recipe = dict(epochs=1, size=64, bs=8)
        import_folder(a.images, root, n_per_class=8)
        (root/'manifest.jsonl').unlink()  # it records paths and times: the same photos must give the cache the same key
        trained_model(root, tmp, **recipe)  # writes tmp/export.pkl (and its ONNX twin, which the cleaner doesn't read)
    else:
        recipe = {}
        shutil.copytree(a.images, root, ignore=shutil.ignore_patterns('*.csv', '*.jsonl', '_*'))
        export_model(train(root), tmp/'export.pkl', onnx=False)
    oof = cross_validate(root, 2, **recipe)
    print(f'{len(oof)} photos; model and 2-fold out-of-fold losses ready', flush=True)
    with sync_playwright() as pw:
        b = launch_chromium(pw)
        try:
            cold = bench_clean(b, 0, a.runs + 1, root, tmp/'export.pkl')[1:]  # the first page also compiles Voilà's JavaScript
            hot = bench_clean(b, 1, a.runs, root, tmp/'export.pkl')
            oof.to_csv(root/OOF, index=False)
            hot_oof = bench_clean(b, 1, a.runs, root, tmp/'export.pkl')
        finally: b.close()
    m = {k: statistics.median(v) for k, v in dict(cold=cold, hot=hot, hot_oof=hot_oof).items()}
    r = lambda v: [round(x, 1) for x in v]
    print(f'cleaning page opened -> Apply button and thumbnails shown, median of {a.runs}: cold, ranked by the model {m["cold"]:.1f} s {r(cold)}; '
          f'pre-heated, ranked by the model {m["hot"]:.1f} s {r(hot)}; pre-heated, with {OOF} {m["hot_oof"]:.1f} s {r(hot_oof)} (goal < 5 s)')
    print(f'ratio={m["hot_oof"]/m["cold"]:.3f}')

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--clean', action='store_true', help='time the cleaning page instead'); ap.add_argument('--images', default=None, help='a dataset (default: the sample bears)')
    ap.add_argument('--quick', action='store_true', help='one timed page a mode; with --clean, 8 photos a class and a tiny model')
    a = ap.parse_args()
    if a.quick: a.runs = 1
    if a.images is None:
        from bear_lib.core import sample_bears
        a.images = sample_bears()
    if a.clean: return main_clean(a)
    from playwright.sync_api import sync_playwright
    from bear_lib.core import sample_bears
    photo = sample_bears()/'grizzly'/'grizzly_0001.jpg'
    with sync_playwright() as pw:
        b = launch_chromium(pw)
        try:
            # the first page a browser opens also loads and compiles Voilà's JavaScript: an untimed warm-up run for each mode
            hot = bench(b, 1, a.runs + 1, photo)[1:]
            cold = bench(b, 0, a.runs + 1, photo)[1:]
        finally: b.close()
    h, c = statistics.median(hot), statistics.median(cold)
    print(f'page opened -> first answer shown, median of {a.runs}: pre-heated {h:.1f} s (best {min(hot):.1f}) {[round(x, 1) for x in hot]}, '
          f'cold {c:.1f} s (best {min(cold):.1f}) {[round(x, 1) for x in cold]}')
    print(f'ratio={h/c:.3f}')

if __name__ == '__main__': main()
