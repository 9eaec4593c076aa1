"Load test: 8 concurrent pages each classify 5 photos; afterwards idle kernels are culled back to the pre-heated pool. And culling spares a kernel just handed to a page."
import asyncio, threading, time
import pytest
from bear_lib.testing import start_app, stop_app, log_tail, live_kernels, wait_kernels, launch_chromium

POOL, CULL, PAGES, PHOTOS = 2, 45, 8, 5  # CULL: long enough that a page still loading under load keeps its kernel

@pytest.fixture(scope='module')
def photos(bears):
    "40 photos the model answers right (chosen in-process; the test is whether the app under load says the same)"
    import torch
    from bear_lib.imagenet import ImageNetBears
    from bear_lib.infer import answer
    torch.set_num_threads(1)
    m = ImageNetBears()
    out = []
    for c in ['black', 'grizzly', 'teddy']:
        fns = sorted((bears/c).glob('*.jpg'))[:20]
        out += [f for f,a in zip(fns, answer(m, fns)) if a.label == c]
    assert len(out) >= PAGES * PHOTOS
    out = sorted(out, key=lambda f: f.name[-8:])  # mix the classes
    return [out[i*PHOTOS:(i+1)*PHOTOS] for i in range(PAGES)]

async def _session(browser, url, fns):
    page = await browser.new_page()
    await page.goto(url, timeout=300_000)
    await page.wait_for_selector('button.widget-upload', timeout=300_000)
    answers = []
    for i,f in enumerate(fns):
        async with page.expect_file_chooser() as fc: await page.click('button.widget-upload')
        await (await fc.value).set_files(str(f))
        await page.click('button.bear-classify')
        await page.wait_for_function(f"""[...document.querySelectorAll('.bear-result')].some(e => e.innerText.includes({f.name!r}))""",
                                     timeout=300_000)
        answers.append((f, await page.inner_text('.bear-result')))
    await page.close()  # no beforeunload: the server isn't told, as when a tab crashes or the network drops
    return answers

async def _run(url, photos):
    from playwright.async_api import async_playwright
    async with async_playwright() as p:
        b = await launch_chromium(p)
        try: return await asyncio.gather(*[_session(b, url, fns) for fns in photos])
        finally: await b.close()

def _run_in_thread(url, photos):
    "asyncio.run in a thread of its own: the session's sync Playwright already runs an event loop in this one"
    out = {}
    def go():
        try: out['r'] = asyncio.run(_run(url, photos))
        except BaseException as e: out['e'] = e
    t = threading.Thread(target=go); t.start(); t.join()
    if 'e' in out: raise out['e']
    return out['r']

def test_load_and_culling(tmp_path, photos):
    # the cap above what this test needs: start_app's own page, the 8 pages and the refilled pool
    p, url = start_app('--pool', POOL, '--cull_idle', CULL, '--max-kernels', PAGES + POOL + 2, cwd=tmp_path)
    try:
        wait_kernels(p.pid, POOL, 180)
        t = time.time()
        results = _run_in_thread(url, photos)
        took = time.time() - t
        answers = [(f, r) for page in results for f,r in page]
        wrong = [(f.name, r) for f,r in answers if f'Prediction: {f.parent.name};' not in r]
        assert len(answers) == PAGES * PHOTOS and not wrong, wrong
        peak = live_kernels(p.pid)
        assert peak >= POOL + 1, peak
        # the 8 closed pages' kernels are culled after CULL idle seconds; the pre-heated pool stays
        secs = wait_kernels(p.pid, POOL, CULL + 60)
        time.sleep(CULL // 2 + 2)
        assert live_kernels(p.pid) == POOL
        print(f'\n{PAGES} pages x {PHOTOS} photos: all right in {took:.0f} s; {peak} kernels after, back to {POOL} in {secs:.0f} s')
    except BaseException:
        print(f'server log ({p.log.stat().st_size} bytes), its end:\n{log_tail(p)}'); raise
    finally: stop_app(p)

def test_handed_out_kernel_waits_for_its_page(tmp_path):
    "A pre-heated kernel that waited in the pool longer than the cull time is not culled the moment a page takes it"
    import re, urllib.request
    p, url = start_app('--pool', 1, '--cull_idle', 20, cwd=tmp_path)  # culling passes every 10 s
    try:
        log = lambda: p.log.read_text(errors='replace')
        t = time.time()
        # the pool holds a kernel: filled since the last page that took one (wait_http's page may have taken the first one,
        # or, when it came before the pool was filled, a kernel of its own: then no refill follows)
        pooled = lambda: log().rfind('is filled with') > log().rfind('Using pre-heated kernel')
        while not pooled() and time.time() - t < 180: time.sleep(0.5)
        assert pooled(), log()[-3000:]
        time.sleep(30)  # the pooled kernel is idle for longer than the cull time
        urllib.request.urlopen(url, timeout=120).read()  # a page takes it; no browser connects
        kid = re.findall(r'Using pre-heated kernel: (\S+)', log())[-1]
        culled = lambda: f'({kid}) with 0 connections' in log()
        time.sleep(12)  # over a culling pass later: Jupyter's culler alone would have shut it down by now
        assert not culled(), log()[-3000:]
        t = time.time()
        while not culled() and time.time() - t < 60: time.sleep(1)
        assert culled(), log()[-3000:]  # its page never connected: culled after the cull time
    finally: stop_app(p)
