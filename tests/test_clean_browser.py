"""The cleaning page in Voilà, in a real browser: the ranked queue first (reasons under the photos, paging, a page's suggestions
taken and applied), then a category (mark one image Delete and one for another class, Apply), the files found moved."""
import re, shutil
from collections import Counter
from bear_lib.ledger import read_jsonl
from bear_lib.ledger import TRASH, LEDGER
from bear_lib.testing import snapshot  # `tiny` and `dataset` (a tiny trained export, a fresh copy of its dataset) are fixtures
from bear_lib.testing.plant import plant_mistakes

def label_text(page, pattern, timeout=60_000):
    "Wait until a widget label matches `pattern`; return its text"
    loc = page.locator('.widget-label').filter(has_text=re.compile(pattern))
    loc.first.wait_for(timeout=timeout)
    return loc.first.inner_text()

def images(page, n, timeout=30_000):
    "Wait until the page shows `n` thumbnails"
    page.wait_for_function(f"() => document.querySelectorAll('.widget-output img').length == {n}", timeout=timeout)

def test_clean_page(serve_app, browser, tiny, dataset, bears):
    for c in ('black', 'grizzly', 'teddy'):  # 4 more photos a class and the planted mistakes: 38 photos, the queue's 2 pages of 30
        for f in [f for f in sorted((bears/c).glob('*.jpg')) if not (dataset/c/f.name).exists()][:4]: shutil.copy(f, dataset/c)
    plant_mistakes(dataset)
    n = len(list(dataset.rglob('*.jpg')))
    # no pre-heated kernel, and no page of start_app's own: each kernel runs the whole cleaning notebook (fastai, the model, the
    # ranking), and only this page's is used
    url = serve_app('--clean', dataset, '--model', tiny[1], '--pool', 0, page=False)
    page = browser.new_page()
    page.goto(url, timeout=180_000)  # Voilà runs the notebook (load the model, rank the photos) before the page loads
    try: page.wait_for_selector('button:has-text("Apply")', timeout=300_000)
    except Exception as e: raise AssertionError(f"no Apply button; the page says: {page.inner_text('body')[:2000]!r}") from e
    # the page opens on the ranked queue, across both splits
    selects = page.locator('.widget-dropdown select')
    assert selects.nth(0).input_value() == 'Suggested (ranked)' and selects.nth(1).is_disabled()
    assert label_text(page, '^Page 1 of') == f'Page 1 of 2 · 30 of {n} looked at, {n - 30} left · 0 marked: 0 to delete, 0 to relabel'
    images(page, 30)
    tags = page.locator('.widget-output + .widget-dropdown + .widget-html')  # each photo's box: image, dropdown, reason
    texts = tags.all_inner_texts()
    assert len(texts) == 30 and all(re.fullmatch(r'(black|grizzly|teddy) · (.+ → .+|—)', t) for t in texts), texts
    flagged = [t for t in texts if ' → ' in t]
    assert flagged and all(' → ' in t for t in texts[:len(flagged)]), texts  # the flagged photos lead the queue
    img, tag = page.locator('.widget-output img').first.bounding_box(), tags.first.bounding_box()
    assert tag['y'] >= img['y'] + img['height'] - 1 and tag['x'] < img['x'] + img['width'] and img['x'] < tag['x'] + tag['width'], (img, tag)  # under its photo
    page.click('button:has-text("Next ▶")')
    label_text(page, f'^Page 2 of 2 · {n} of {n} looked at, 0 left')
    images(page, n - 30)
    page.click('button:has-text("◀ Previous")')
    images(page, 30)
    page.click("button:has-text(\"Take this page's suggestions\")")
    want = [t.split(' → ')[-1] if ' → ' in t else '<Keep>' for t in texts]
    took = "w => JSON.stringify([...document.querySelectorAll('.widget-dropdown select')].slice(2).map(o => o.value)) == JSON.stringify(w)"
    try: page.wait_for_function(took, arg=want, timeout=30_000)
    except Exception as e: raise AssertionError(f'suggestions not taken: {selects.all_input_values()[2:]} != {want}') from e
    moves = Counter((t.split(' · ')[0], t.split(' → ')[-1]) for t in flagged)
    deletes = sum(v for (_, to), v in moves.items() if to == '<Delete>')
    assert label_text(page, '^Page 1 of 2') == (f'Page 1 of 2 · {n} of {n} looked at, 0 left · {len(flagged)} marked: '
                                                f'{deletes} to delete, {len(flagged) - deletes} to relabel')
    page.click('button:has-text("Apply")')
    label_text(page, r'deleted|relabelled')
    # the queue follows the moves and stays on its page: the deleted photos have left it
    label_text(page, f'^Page 1 of \\d · {n - deletes} of {n - deletes} looked at, 0 left · 0 marked')
    rows = read_jsonl(dataset/LEDGER)
    assert Counter((r['src'].split('/')[0], '<Delete>' if r['action'] == 'delete' else r['dest'].split('/')[0]) for r in rows) == moves
    assert all((dataset/r['dest']).is_file() and not (dataset/r['src']).exists() for r in rows)
    assert 'Traceback' not in page.content()

    # a category and split, as before the queue: mark two photos of black/Train, look elsewhere, Apply
    before, done = snapshot(dataset), len(rows)
    count = {c: len(list((dataset/c).iterdir())) for c in ['black', 'grizzly', 'teddy']}
    selects.nth(0).select_option('black')
    page.wait_for_function("() => !document.querySelectorAll('.widget-dropdown select')[1].disabled", timeout=30_000)
    assert selects.nth(1).input_value() == 'Train'       # the split
    label_text(page, r'^0 marked: 0 to delete, 0 to relabel')
    page.wait_for_function("() => document.querySelectorAll('.widget-output + .widget-dropdown + .widget-html').length == 0 "
                           "&& document.querySelectorAll('.widget-output img').length >= 2", timeout=30_000)  # the queue's page has gone
    page.wait_for_timeout(2000)
    shown = page.locator('.widget-output img').count()
    # every thumbnail on screen (fastai's carousel boxes grow a million pixels wide in Voilà)
    assert all(page.locator('.widget-output img').nth(i).bounding_box()['x'] < 1280 for i in range(shown))
    selects.nth(2).select_option('<Delete>')
    selects.nth(3).select_option('teddy')
    label_text(page, r'^2 marked: 1 to delete, 1 to relabel')
    # the marks survive looking at another category and split, and at the queue
    selects.nth(0).select_option('grizzly'); selects.nth(1).select_option('Valid')
    page.wait_for_timeout(1000)
    selects.nth(0).select_option('Suggested (ranked)')
    label_text(page, '^Page 1 of .* · 2 marked: 1 to delete, 1 to relabel')
    selects.nth(0).select_option('black'); selects.nth(1).select_option('Train')
    # each dropdown's restored mark is a widget message of its own: under load the second can come a while after the first
    restored = "() => { const s = document.querySelectorAll('.widget-dropdown select'); return s[2].value == '<Delete>' && s[3].value == 'teddy' }"
    try: page.wait_for_function(restored, timeout=30_000)
    except Exception as e:
        raise AssertionError(f'marks not restored: {selects.nth(2).input_value()!r}, {selects.nth(3).input_value()!r}') from e
    page.click('button:has-text("Apply")')
    assert label_text(page, r'^1 deleted') == '1 deleted (moved to _trash/); 1 relabelled (black → teddy: 1).'
    # the page follows the moves: the two files are no longer shown under black
    images(page, shown - 2)
    assert 'Traceback' not in page.content()
    import os
    if os.environ.get('CLEAN_SCREENSHOT'): page.screenshot(path=os.environ['CLEAN_SCREENSHOT'], full_page=True)
    page.close()
    rows = {r['action']: r for r in read_jsonl(dataset/LEDGER)[done:]}
    assert set(rows) == {'delete', 'relabel'}
    trashed, relabelled = dataset/rows['delete']['dest'], dataset/rows['relabel']['dest']
    assert trashed.parent == dataset/TRASH/'black' and trashed.is_file()
    assert relabelled.parent == dataset/'teddy' and relabelled.is_file()
    assert before[rows['delete']['src']] == rows['delete']['sha256'] and before[rows['relabel']['src']] == rows['relabel']['sha256']
    assert {c: len(list((dataset/c).iterdir())) for c in count} == {'black': count['black'] - 2, 'grizzly': count['grizzly'], 'teddy': count['teddy'] + 1}
