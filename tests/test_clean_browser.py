"The cleaning page in Voilà, in a real browser: mark one image Delete and one for another class, Apply, find the files moved."
import re
from bear_lib.ledger import read_jsonl
from bear_lib.ledger import TRASH, LEDGER
from bear_lib.testing import snapshot  # `tiny` and `dataset` (a tiny trained export, a fresh copy of its dataset) are fixtures

def label_text(page, pattern, timeout=60_000):
    "Wait until a widget label matches `pattern`; return its text"
    loc = page.locator('.widget-label').filter(has_text=re.compile(pattern))
    loc.first.wait_for(timeout=timeout)
    return loc.first.inner_text()

def test_clean_page(serve_app, browser, tiny, dataset):
    before = snapshot(dataset)
    n = {c: len(list((dataset/c).iterdir())) for c in ['black', 'grizzly', 'teddy']}
    # no pre-heated kernel, and no page of start_app's own: each kernel runs the whole cleaning notebook (fastai, the model, the
    # losses), and only this page's is used
    url = serve_app('--clean', dataset, '--model', tiny[1], '--pool', 0, page=False)
    page = browser.new_page()
    page.goto(url, timeout=180_000)  # Voilà runs the notebook (load the model, compute losses) before the page loads
    try: page.wait_for_selector('button:has-text("Apply")', timeout=300_000)
    except Exception as e: raise AssertionError(f"no Apply button; the page says: {page.inner_text('body')[:2000]!r}") from e
    selects = page.locator('.widget-dropdown select')
    assert selects.nth(0).input_value() == 'black'       # the category
    assert selects.nth(1).input_value() == 'Train'       # the split
    page.wait_for_function("() => document.querySelectorAll('.widget-output img').length >= 2", timeout=30_000)
    page.wait_for_timeout(2000)
    shown = page.locator('.widget-output img').count()
    # every thumbnail on screen (fastai's carousel boxes grow a million pixels wide in Voilà)
    assert all(page.locator('.widget-output img').nth(i).bounding_box()['x'] < 1280 for i in range(shown))
    selects.nth(2).select_option('<Delete>')
    selects.nth(3).select_option('teddy')
    label_text(page, r'^2 marked: 1 to delete, 1 to relabel')
    # the marks survive looking at another category and split
    selects.nth(0).select_option('grizzly'); selects.nth(1).select_option('Valid')
    page.wait_for_timeout(1000)
    selects.nth(0).select_option('black'); selects.nth(1).select_option('Train')
    # each dropdown's restored mark is a widget message of its own: under load the second can come a while after the first
    restored = "() => { const s = document.querySelectorAll('.widget-dropdown select'); return s[2].value == '<Delete>' && s[3].value == 'teddy' }"
    try: page.wait_for_function(restored, timeout=30_000)
    except Exception as e:
        raise AssertionError(f'marks not restored: {selects.nth(2).input_value()!r}, {selects.nth(3).input_value()!r}') from e
    page.click('button:has-text("Apply")')
    assert label_text(page, r'deleted') == '1 deleted (moved to _trash/); 1 relabelled (black → teddy: 1).'
    # the page follows the moves: the two files are no longer shown under black
    page.wait_for_function(f"() => document.querySelectorAll('.widget-output img').length == {shown - 2}", timeout=30_000)
    assert 'Traceback' not in page.content()
    import os
    if os.environ.get('CLEAN_SCREENSHOT'): page.screenshot(path=os.environ['CLEAN_SCREENSHOT'], full_page=True)
    page.close()
    rows = {r['action']: r for r in read_jsonl(dataset/LEDGER)}
    assert set(rows) == {'delete', 'relabel'}
    trashed, relabelled = dataset/rows['delete']['dest'], dataset/rows['relabel']['dest']
    assert trashed.parent == dataset/TRASH/'black' and trashed.is_file()
    assert relabelled.parent == dataset/'teddy' and relabelled.is_file()
    assert before[rows['delete']['src']] == rows['delete']['sha256'] and before[rows['relabel']['src']] == rows['relabel']['sha256']
    assert {c: len(list((dataset/c).iterdir())) for c in n} == {'black': n['black'] - 2, 'grizzly': n['grizzly'], 'teddy': n['teddy'] + 1}
