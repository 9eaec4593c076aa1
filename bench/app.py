"""Seconds from opening the app's page to the first answer shown, with and without pre-heated kernels.

    python bench/app.py [--runs 3]

For each mode a fresh `bear_app` (zero-shot model): `--pool 1` (pre-heated, the shipped default) and `--pool 0` (a kernel is
started and the notebook run when the page is opened), after one untimed warm-up page each. Each run opens a new page, uploads one photo as soon as the upload
button shows, clicks Classify and stops the clock when the answer is shown. Between runs the pool is given time to refill.
Last line: ratio=<pre-heated seconds / cold seconds> (median of the runs).
"""
import argparse, statistics, time
from pathlib import Path
from bear_lib.testing import start_app, stop_app, upload, launch_chromium

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
    "How often Voilà has said the kernel pool is filled: a pre-heated kernel has run the notebook"
    return Path(log).read_text(errors='replace').count('is filled with')

def bench(browser, pool, runs, photo):
    import tempfile
    p, url = start_app('--pool', pool, cwd=tempfile.mkdtemp())
    try:
        ts = []
        for i in range(runs):
            t = time.time()  # pre-heated: wait until the pool has a kernel that has run the notebook
            while pool and pool_fills(p.log) < i + 1 and time.time() - t < 300: time.sleep(0.5)
            time.sleep(2)
            ts.append(first_answer(browser, url, photo))
        return ts
    finally: stop_app(p)

def main():
    ap = argparse.ArgumentParser(); ap.add_argument('--runs', type=int, default=3); a = ap.parse_args()
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
