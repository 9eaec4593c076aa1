"The Voilà app in a real browser: upload a photo, click Classify, read the label."
from conftest import upload

def classify(page, *files):
    "Upload `files`, click Classify, return the label's text once it changes"
    js = "[...document.querySelectorAll('.widget-label')].map(e => e.innerText).join('|')"
    before = page.evaluate(js)
    upload(page, *files)
    page.click('button:has-text("Classify")')
    page.wait_for_function(f"b => {js} != b", arg=before, timeout=60_000)
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
