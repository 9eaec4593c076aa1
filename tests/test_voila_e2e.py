"The Voilà app with a trained export in a real browser: upload a photo, click Classify, read the answer."
from bear_lib.testing import classify

def test_app_trained_model(serve_app, browser, trained, bears, tmp_path):
    url = serve_app('--model', trained)
    page = browser.new_page()
    page.goto(url)
    page.wait_for_selector('button.widget-upload', timeout=120_000)
    assert 'Trained model' in page.inner_text('.bear-card')
    r, = classify(page, bears/'grizzly'/'grizzly_0010.jpg')
    assert 'Prediction: grizzly' in r and 'Prediction: grizzly' in page.inner_text('.bear-status'), r
    (tmp_path/'notes.txt').write_text('this is not a photo')
    r, = classify(page, tmp_path/'notes.txt')
    assert 'notes.txt' in r and 'not an image' in r, r
    assert "Can't classify notes.txt" in page.inner_text('.bear-status')
    assert 'Traceback' not in page.content()
    r, = classify(page, bears/'teddy'/'teddy_0010.jpg')
    assert 'Prediction: teddy' in r, r
    page.close()
