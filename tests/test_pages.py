"The main-path notebooks as nbviewer draws them (nbconvert's HTML, the saved widget state, the widget renderer from node_modules) in Chromium: every figure and widget drawn, nothing loaded from outside"
import base64, io, json
from pathlib import Path
import pytest
from PIL import Image
from bear_lib.testing import PageServer, page_assets, check_page

NBS = Path(__file__).resolve().parents[1]/'nbs'
MAIN = [NBS/'index.ipynb'] + sorted(NBS.glob('[0-8][0-9]*.ipynb'))  # the main path, as course_check.py has it: index, 00 to 12 (02a, 11a too)

@pytest.fixture(scope='module')
def modules(): return page_assets()['modules']

@pytest.fixture(scope='module')
def pages(modules):
    with PageServer(NBS, modules) as s: yield s

@pytest.mark.parametrize('nb', MAIN, ids=lambda p: p.stem)
def test_page_draws(browser, pages, nb):
    "Every image output loads, every widget view draws from the saved state, no request leaves 127.0.0.1"
    r = check_page(browser, pages, nb)
    print(f"{r['page']}: {r['images'][0]}/{r['images'][1]} images, {r['views'][0]}/{r['views'][1]} widget views, {r['all_images']} <img> in all, {r['seconds']} s")
    assert r['problems'] == []

def _jpeg(): b = io.BytesIO(); Image.new('RGB', (8, 8), 'red').save(b, 'JPEG'); return base64.b64encode(b.getvalue()).decode()

def test_check_page_sees_problems(browser, modules, tmp_path):
    "The check itself: a broken image, a missing file, an outside request and a widget whose model wasn't saved are each reported; a good page isn't"
    view = lambda i: dict(output_type='display_data', metadata={}, data={'application/vnd.jupyter.widget-view+json': dict(model_id=i, version_major=2, version_minor=0), 'text/plain': 'x'})
    label = dict(model_module='@jupyter-widgets/controls', model_module_version='2.0.0', model_name='LabelModel', state=dict(value='saved'))
    def nb(name, md, outs):
        d = dict(nbformat=4, nbformat_minor=5, cells=[dict(cell_type='markdown', id='m1', metadata={}, source=md),
                 dict(cell_type='code', id='c1', metadata={}, execution_count=None, source='x', outputs=outs)],
                 metadata=dict(widgets={'application/vnd.jupyter.widget-state+json': dict(version_major=2, version_minor=0, state={'a' * 32: label})}))
        (tmp_path/name).write_text(json.dumps(d)); return tmp_path/name
    good = nb('good.ipynb', 'text', [dict(output_type='display_data', metadata={}, data={'image/jpeg': _jpeg()}), view('a' * 32)])
    bad = nb('bad.ipynb', '![gone](images/gone.png) ![out](https://example.com/x.png)',
             [dict(output_type='display_data', metadata={}, data={'image/jpeg': 'bm90IGFuIGltYWdl'}), view('a' * 32), view('b' * 32)])
    with PageServer(tmp_path, modules) as s:
        r = check_page(browser, s, good, timeout=10)
        assert (r['problems'], r['images'], r['views']) == ([], (1, 1), (1, 1))
        r = check_page(browser, s, bad, timeout=3)
    p = '\n'.join(r['problems'])
    assert 'a request to https://example.com/x.png' in p and 'HTTP 404' in p and 'images/gone.png' in p
    assert 'cell c1: 0 of 1 images drawn' in p and 'cell c1: 1 of 2 widget views drawn; 1 models not in the saved state (e.g. bbbbbbbb)' in p
