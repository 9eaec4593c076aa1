"One way in for image bytes: only photo formats are decoded, at most ~25 MP, and a photo is upright in training and in inference alike"
import os
import pytest
from PIL import Image, EpsImagePlugin
from bear_lib.images import BadImage, load_image
from bear_lib.gather import verify_image
from bear_lib.core import sample_bears


def non_photos(d):
    "Files Pillow would open that are not photos: a real EPS and PS (from matplotlib), ICO, TGA, PPM, PSD-like PCX, SGI"
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(1, 1)); ax.plot([0, 1], [1, 0])
    out = {}
    for ext in ('eps', 'ps'): fig.savefig(d / f'plot.{ext}'); out[ext] = d / f'plot.{ext}'
    plt.close(fig)
    with Image.open(sample_bears() / 'grizzly' / 'grizzly_0000.jpg') as im:
        small = im.convert('RGB').resize((64, 64))
    for fmt in ('ICO', 'TGA', 'PPM', 'PCX', 'SGI', 'DDS'):
        fn = d / f'photo.{fmt.lower()}'; small.save(fn, fmt); out[fmt] = fn
    return out


@pytest.fixture
def ghostscript_calls(monkeypatch):
    "Records every time Pillow would hand a file to Ghostscript"
    calls = []
    def gs(*a, **kw): calls.append(a); raise OSError('Ghostscript was called')
    monkeypatch.setattr(EpsImagePlugin, 'Ghostscript', gs)
    monkeypatch.setattr(EpsImagePlugin, 'has_ghostscript', lambda: True)
    return calls


def test_only_photo_formats(tmp_path, ghostscript_calls):
    files = non_photos(tmp_path)
    for k, fn in files.items():
        with Image.open(fn) as im: assert im.format  # Pillow alone identifies every one of them
    for k, fn in files.items():
        with pytest.raises(BadImage, match='not an image'): load_image(fn)
        with pytest.raises(BadImage, match='not an image'): load_image(fn.read_bytes())
        assert verify_image(fn) == 'not an image', k
    assert ghostscript_calls == []


def test_pixel_budget(tmp_path):
    "A 30 MP JPEG is decoded at half scale (JPEG draft), a 30 MP PNG is refused: nothing over 25 MP is decoded"
    big = Image.new('RGB', (6000, 5000), (120, 80, 40))
    big.save(tmp_path / 'big.jpg', quality=80); big.save(tmp_path / 'big.png')
    im = load_image(tmp_path / 'big.jpg')
    assert im.size == (3000, 2500) and im.getpixel((10, 10))[0] in range(110, 131)
    with pytest.raises(BadImage, match='too many pixels'): load_image(tmp_path / 'big.png')
    assert load_image(tmp_path / 'big.jpg', max_pixels=2_000_000).size == (1500, 1250)  # the caller's limit (the app's)
    with pytest.raises(BadImage, match='too many pixels'): load_image(tmp_path / 'big.png', max_pixels=2_000_000)


def sideways(fn, out):
    "The photo `fn` stored turned a quarter (with a blue band on its left edge), tagged to be displayed upright (band on top)"
    with Image.open(fn) as im: im = im.convert('RGB').resize((96, 64))
    im.paste((0, 0, 255), (0, 0, 24, 64))  # left quarter blue
    ex = im.getexif(); ex[0x0112] = 6  # display: turn 90 degrees clockwise, so the left edge goes on top
    im.save(out, quality=95, exif=ex)
    return out


def test_exif_upright_in_training_and_inference(tmp_path):
    "The training pipeline (DataBlock), an exported model's and the app's reader all see the photo upright, and alike"
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    from fastai.vision.all import Learner, load_learner, nn
    from bear_lib.data import bear_dls
    src = sorted((sample_bears() / 'grizzly').iterdir())
    for c in ('a', 'b'):
        (tmp_path / 'ds' / c).mkdir(parents=True)
        for i in range(4): sideways(src[i], tmp_path / 'ds' / c / f'{i}.jpg')
    fn = tmp_path / 'ds' / 'a' / '0.jpg'
    dls = bear_dls(tmp_path / 'ds', bs=4, size=32, method='squish', aug=False, valid_pct=0.25)
    def blue_on_top(x):  # x: (n, 3, 32, 32) in [0, 1], 64x96 upright -> squished
        top, rest = x[:, :, :6, :], x[:, :, 10:, :]
        return bool((top[:, 2] > 0.8).all() and (top[:, 0] < 0.2).all() and (rest[:, 2] < 0.8).float().mean() > 0.5)
    xb, _ = dls.train.one_batch()
    assert blue_on_top(xb)  # training batches are upright
    x_train = dls.test_dl([fn]).one_batch()[0]  # the DataBlock's reader on the file
    x_app = dls.test_dl([load_image(fn)]).one_batch()[0]  # what the app hands the model: load_image's PILImage
    assert blue_on_top(x_train) and (x_train == x_app).all()
    Learner(dls, nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 2))).export(tmp_path / 'm.pkl')
    learn = load_learner(tmp_path / 'm.pkl')  # the pickled export refers to bear_lib.data.BearImage
    assert (learn.dls.test_dl([fn]).one_batch()[0] == x_train).all()


def test_photo_formats_accepted(tmp_path):
    "Every photo format on the list is read, as upright RGB of the right size and colour: WebP, BMP, TIFF (8- and 16-bit), MPO, GIF, PNG, JPEG"
    import numpy as np
    im = Image.new('RGB', (80, 60), (200, 40, 10))
    for fmt, kw in [('WEBP', dict(lossless=True)), ('BMP', {}), ('TIFF', {}), ('GIF', {}), ('PNG', {}), ('JPEG', dict(quality=95))]:
        fn = tmp_path/f'x.{fmt.lower()}'; im.save(fn, fmt, **kw)
        out = load_image(fn)
        assert (out.mode, out.size) == ('RGB', (80, 60)), fmt
        assert np.abs(np.asarray(out, int)[30, 40] - (200, 40, 10)).max() <= 12, (fmt, out.getpixel((40, 30)))
        assert verify_image(fn, min_side=32) is None, fmt
    im.save(tmp_path/'x.mpo', 'MPO', save_all=True, append_images=[Image.new('RGB', (80, 60), (0, 0, 255))])
    with Image.open(tmp_path/'x.mpo') as m: assert m.format == 'MPO'
    out = load_image(tmp_path/'x.mpo')  # the first frame
    assert out.size == (80, 60) and np.abs(np.asarray(out, int)[30, 40] - (200, 40, 10)).max() <= 12
    Image.fromarray(np.full((60, 80), 40000, np.uint16)).save(tmp_path/'x16.tif')  # 16-bit grey
    out = load_image(tmp_path/'x16.tif')
    assert out.mode == 'RGB' and abs(out.getpixel((40, 30))[0] - round(40000 / 65535 * 255)) <= 1
