"The app object under hostile uploads, driven as the browser drives it: a forged size, too many pixels, EPS, widgets per click"
import io
import pytest
from PIL import Image
from bear_lib.testing import fake_upload

def _f(name, data, size=None): return fake_upload(data, name=name, size=size)

@pytest.fixture(scope='module')
def app():
    import torch
    from bear_lib.app import BearApp
    from bear_lib.imagenet import ImageNetBears
    torch.set_num_threads(1)
    return BearApp(ImageNetBears())

def _classify(app, *files):
    app.upload.value = tuple(files)
    app.btn.click()
    return app.lbl.value

def test_forged_size(app, bears):
    "A 21 MiB file that claims to be 1 kB is refused by what arrived: a real photo with junk after its end, which Pillow would read"
    data = (bears/'grizzly'/'grizzly_0001.jpg').read_bytes() + b'\0' * 21 * 2**20
    assert Image.open(io.BytesIO(data)).size  # readable: only the limit can refuse it
    msg = _classify(app, _f('forged.jpg', data, size=1000))
    assert 'the limit is 20 MiB' in msg and '21.' in msg, msg
    assert 'Prediction' in _classify(app, _f('g.jpg', (bears/'grizzly'/'grizzly_0001.jpg').read_bytes()))

def test_pixel_cap(app, bears):
    "At most ~25 MP are decoded: a 26 MP PNG (a small file) is refused with a sentence; a 26 MP JPEG is decoded at half scale"
    b = io.BytesIO(); Image.new('RGB', (6500, 4000), (90, 60, 30)).save(b, 'PNG'); assert len(b.getvalue()) < 2_000_000
    msg = _classify(app, _f('26mp.png', b.getvalue()))
    assert "Can't classify 26mp.png" in msg and 'pixels' in msg and '25,000,000' in msg, msg
    b = io.BytesIO(); Image.open(bears/'grizzly'/'grizzly_0001.jpg').resize((6500, 4000)).save(b, 'JPEG')
    assert 'Prediction: grizzly' in _classify(app, _f('26mp.jpg', b.getvalue()))  # JPEG draft(): 3250 x 2000 decoded

def test_eps_refused(app, tmp_path):
    "An EPS file (Pillow would hand it to Ghostscript) gets a sentence, not a traceback and not an answer"
    Image.new('RGB', (64, 48), (200, 30, 30)).save(tmp_path/'x.eps')  # Pillow writes EPS without Ghostscript
    assert (tmp_path/'x.eps').read_bytes().startswith(b'%!PS-Adobe')
    msg = _classify(app, _f('bear.jpg', (tmp_path/'x.eps').read_bytes()))
    assert msg.startswith("Can't classify bear.jpg: ") and msg.endswith('.') and 'Traceback' not in msg, msg
    assert 'Prediction' not in msg

def test_no_widget_growth(app, bears):
    "Old result widgets are closed when new ones are shown: the kernel's widget count stays flat across clicks"
    import ipywidgets as widgets
    fns = [bears/'black'/'black_0001.jpg', bears/'teddy'/'teddy_0001.jpg']
    counts = []
    for _ in range(4):
        _classify(app, *[_f(f.name, f.read_bytes()) for f in fns], _f('notes.txt', b'not a photo'))
        counts.append(len(widgets.Widget.widgets))
    assert len(app.rows) == 3 and all(r.comm is not None for r in app.rows)  # the rows on show are open
    assert counts[1] == counts[2] == counts[3], counts
