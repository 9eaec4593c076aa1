"Browser tests of the Voilà app: out-of-domain photos, bad uploads, several photos in one upload (Playwright + Debian Chromium)"
import os, time
from pathlib import Path
import pytest
from bear_lib.testing import start_app, stop_app, upload, classify, mark_old, wait_rows, odd_images


@pytest.fixture(scope='module')
def app_dir(tmp_path_factory): return tmp_path_factory.mktemp('app')

@pytest.fixture(scope='module')
def app_url(app_dir):
    "One `bear_app` (zero-shot model, one pre-heated kernel, its log in `app_dir`) for the whole module"
    # each test's page holds a kernel until the culler frees it (120 s after the page closes): more than the default cap of 8
    p, url = start_app('--pool', 1, '--max-kernels', 16, cwd=app_dir)
    try: yield url
    finally: stop_app(p)

@pytest.fixture
def page(browser, app_url):
    pg = browser.new_page()
    pg.goto(app_url)
    pg.wait_for_selector('button.widget-upload', timeout=120_000)
    yield pg
    pg.close(run_before_unload=True)

@pytest.fixture(scope='module')
def others(tmp_path_factory):
    "Photos that aren't bears, shipped by matplotlib and scikit-image"
    import matplotlib.cbook
    from PIL import Image
    d = tmp_path_factory.mktemp('others')
    out = [Path(matplotlib.cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))]
    skdata = pytest.importorskip('skimage.data')
    for k in ['chelsea', 'coffee']:
        Image.fromarray(getattr(skdata, k)()).save(d/f'{k}.jpg'); out.append(d/f'{k}.jpg')
    return out

def test_out_of_domain(page, others):
    rows = classify(page, *others)
    for f,r in zip(others, rows):
        assert f.name in r and "doesn't look like black / grizzly / teddy" in r, r
        assert 'Prediction:' not in r
    assert 'cat' in rows[1] and 'espresso' in rows[2], rows

def test_several_photos(page, bears):
    fns = [bears/'grizzly'/'grizzly_0002.jpg', bears/'black'/'black_0002.jpg', bears/'teddy'/'teddy_0002.jpg']
    rows = classify(page, *fns)
    for f,r in zip(fns, rows): assert f'{f.name}: Prediction: {f.parent.name};' in r, r
    assert page.locator('.bear-result:not(.bear-old) img').count() == 3  # a thumbnail each
    assert 'Model card' in page.inner_text('.bear-card') and 'zero-shot' in page.inner_text('.bear-card')
    assert 'BearApp()' not in page.content()  # no source shown

def test_click_before_upload(page, bears):
    "Classify clicked before the photo has arrived: the page says so, and answers once the photo arrives, with no second click"
    mark_old(page)
    page.click('button.bear-classify')
    page.wait_for_function("document.querySelector('.bear-status').innerText.startsWith('No photo has arrived yet')")
    # no wait for "Upload (1)": the kernel classifies the photo as it arrives and clears the upload first, so that label can be
    # gone before it is seen (under load it was); the answer row is the evidence
    upload(page, bears/'grizzly'/'grizzly_0004.jpg', wait=False)
    r, = wait_rows(page, 'grizzly_0004.jpg', timeout=120_000)
    assert 'Prediction: grizzly' in r, r

def test_bad_uploads(page, bears, tmp_path):
    src = bears/'grizzly'/'grizzly_0003.jpg'
    odd = odd_images(src, tmp_path)
    (tmp_path/'big.jpg').write_bytes(os.urandom(21_000_000)); odd['big.jpg'] = tmp_path/'big.jpg'
    expect = {'cmyk.jpg': 'Prediction: grizzly', 'gray16.png': 'Prediction: grizzly', 'palette_alpha.png': 'Prediction: grizzly',
              'animated.gif': 'Prediction: grizzly', 'exif_rotated.jpg': 'Prediction: grizzly',
              'not_an_image.jpg': 'not an image', 'truncated.jpg': 'cut short', 'bomb.png': 'too many pixels',
              'big.jpg': 'the limit is 20 MiB'}
    from PIL import Image
    Image.new('RGB', (64, 48), (200, 30, 30)).save(tmp_path/'bear.eps'); odd['bear.eps'] = tmp_path/'bear.eps'
    Image.new('RGB', (6500, 4000), (90, 60, 30)).save(tmp_path/'26mp.png'); odd['26mp.png'] = tmp_path/'26mp.png'  # a JPEG would be decoded at 1/2 scale
    expect.update({'bear.eps': None, '26mp.png': 'more than the 25,000,000 allowed'})  # EPS: refused, whatever the words
    good = bears/'black'/'black_0003.jpg'
    for name,msg in expect.items():
        if msg is None:  # a sentence, and no answer
            r, = classify(page, odd[name], timeout=120_000)
            status = page.inner_text('.bear-status')
            assert status.startswith(f"Can't classify {name}: ") and status.rstrip().endswith('.') and 'Prediction' not in r, (name, status)
            assert 'Traceback' not in page.content()
            continue
        r, = classify(page, odd[name], timeout=120_000)
        assert msg in r, (name, r)
        assert 'Traceback' not in page.content()
        r, = classify(page, good)  # and the app still works
        assert 'Prediction: black' in r, (name, r)

def test_50mb_upload(page, bears, tmp_path):
    """A file too large for the websocket (24 MiB, a little above the 20 MiB limit) never reaches the kernel: the server closes
    the page's connection, the page says in a sentence that such a file can't be sent and to reload, and after a reload it works"""
    (tmp_path/'huge.jpg').write_bytes(os.urandom(50_000_000))
    upload(page, tmp_path/'huge.jpg')
    page.click('button.bear-classify')
    msg = "a file many times larger can't be sent at all: reload the page and choose a smaller one"
    for _ in range(60):
        if msg in page.inner_text('.bear-status'): break
        time.sleep(1)
    assert msg in page.inner_text('.bear-status'), page.inner_text('.bear-status')
    assert 'Traceback' not in page.content()
    page.reload()
    page.wait_for_selector('button.widget-upload', timeout=120_000)
    r, = classify(page, bears/'teddy'/'teddy_0003.jpg')
    assert 'Prediction: teddy' in r, r

def test_forged_size_in_browser(browser, app_url, bears, tmp_path):
    "A page whose files all claim 1 kB (a visitor's script can say anything) still can't get a 21 MB file classified"
    ctx = browser.new_context()
    ctx.add_init_script("Object.defineProperty(File.prototype, 'size', {get() { return 1000; }})")
    pg = ctx.new_page()
    try:
        pg.goto(app_url)
        pg.wait_for_selector('button.widget-upload', timeout=120_000)
        big = tmp_path/'forged.jpg'  # a real photo with junk after its end: readable, so only the limit can refuse it
        big.write_bytes((bears/'grizzly'/'grizzly_0006.jpg').read_bytes() + b'\0' * 21_000_000)
        r, = classify(pg, big, timeout=120_000)
        assert 'the limit is 20 MiB' in r and 'Prediction' not in r, r
        r, = classify(pg, bears/'grizzly'/'grizzly_0006.jpg')
        assert 'Prediction: grizzly' in r, r
    finally: ctx.close()

def test_wrong_sends_to_review(page, bears, app_dir):
    "Wrong? beside an answer flags it in the log, and its photo is kept for the review queue"
    from bear_lib.log import PredictionLog
    f = bears/'teddy'/'teddy_0005.jpg'
    r, = classify(page, f)
    assert 'Prediction: teddy' in r, r
    page.click('.bear-result:not(.bear-old) button.bear-wrong')
    page.wait_for_function("document.querySelector('.bear-status').innerText.startsWith('Thanks: a person will look')")
    log = PredictionLog(app_dir/'predictions.db')
    q = [row for row in log.queue() if row['queue'] == 'flagged']
    assert len(q) == 1 and q[0]['source'] == 'app' and q[0]['answer'] == 'teddy', q
    assert Path(q[0]['photo']).read_bytes() == f.read_bytes()
