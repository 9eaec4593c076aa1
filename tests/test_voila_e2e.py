"The Voilà app in a real browser: upload a photo, click Classify, read the label."
import re
from conftest import upload
from test_cli import trained  # the session's trained export

def classify(page, *files):
    "Upload `files`, click Classify, return the label's text once it changes"
    lbl = page.locator('.widget-label').filter(has_text=re.compile(r'Prediction|classify'))
    before = lbl.all_inner_texts()
    upload(page, *files)
    page.click('button:has-text("Classify")')
    page.wait_for_function("b => [...document.querySelectorAll('.widget-label')].map(e => e.innerText).join('|') != b",
                           arg='|'.join(page.locator('.widget-label').all_inner_texts()), timeout=60_000)
    return ' '.join(page.locator('.widget-label').all_inner_texts())

def test_app_trained_model(serve_app, browser, trained, bears, tmp_path):
    url = serve_app('--model', trained)
    page = browser.new_page()
    page.goto(url)
    page.wait_for_selector('button.widget-upload', timeout=90_000)
    assert 'Prediction: grizzly' in classify(page, bears/'grizzly'/'grizzly_0010.jpg')
    (tmp_path/'notes.txt').write_text('this is not a photo')
    text = classify(page, tmp_path/'notes.txt')
    assert "Can't classify notes.txt" in text and 'not an image' in text
    assert 'Traceback' not in page.content()
    assert 'Prediction: teddy' in classify(page, bears/'teddy'/'teddy_0010.jpg')
    page.close()
