"""Retake nbs/images/app.png, the README's and 05_app's picture of the Voilà app: `bear_app` with the model `bear_train` makes
from the sample bears, a grizzly and a black bear answered and Grace Hopper (matplotlib's sample photo) refused, in Chromium.

    python tools/app_png.py [--out nbs/images/app.png]

The picture is regenerated, not edited: git keeps the one it replaces. Needs the `dev` install (Chromium, Playwright) and the
sample photos (`$BEARS_DIR`, else ../shared/data/bears)."""
import argparse, tempfile
from pathlib import Path
import matplotlib
from playwright.sync_api import sync_playwright
from bear_lib.core import sample_bears
from bear_lib.testing import trained_model, start_app, stop_app, launch_chromium, classify

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=Path(__file__).parents[1]/'nbs'/'images'/'app.png', type=Path, help='where to write the PNG')
    a = ap.parse_args()
    bears, tmp = sample_bears(), Path(tempfile.mkdtemp(prefix='app_png_'))
    model = trained_model(bears, tmp/'model')  # bear_train's defaults on all the sample bears, cached in $BEAR_TEST_CACHE
    hopper = Path(matplotlib.get_data_path())/'sample_data'/'grace_hopper.jpg'
    p, url = start_app('--model', model, '--no-log', cwd=tmp)
    try:
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            page = browser.new_page(viewport=dict(width=900, height=960))
            page.goto(url)
            page.wait_for_selector('button.widget-upload', timeout=120_000)
            rows = classify(page, bears/'grizzly'/'grizzly_0010.jpg', bears/'black'/'black_0010.jpg', hopper, timeout=120_000)
            print(*rows, sep='\n')
            page.evaluate("document.querySelectorAll('.bear-old').forEach(e => e.classList.remove('bear-old'))")
            a.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(a.out), full_page=True)
            browser.close()
    finally: stop_app(p)
    print(f'{a.out}: {a.out.stat().st_size/1024:.0f} KB')

if __name__ == '__main__': main()
