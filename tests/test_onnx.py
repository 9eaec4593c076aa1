"The ONNX path: same preprocessing as fastai and torchvision, same probabilities as PyTorch, no torch or fastai when serving."
import json, os, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
from PIL import Image

def _photos(bears, step=1):
    return sorted(bears.rglob('*.jpg'))[::step]

def test_categories_match_torchvision():
    "The category names shipped with bear_lib are torchvision's, in the same order"
    import torchvision
    from bear_lib.imagenet import imagenet_categories
    assert imagenet_categories() == torchvision.models.MobileNet_V2_Weights.IMAGENET1K_V1.meta['categories']

def _odd_shapes(ims):
    "The photos plus versions of other aspect ratios and sizes, so every branch of the resize is taken"
    out = list(ims)
    for im in ims[:5]:
        w,h = im.size
        out += [im.rotate(90, expand=True), im.crop((0, 0, max(w//3, 40), h)), im.resize((w*2, max(h//2, 50))), im.resize((90, 70))]
    return out

def _refs(ai, ab, ims):
    "The pipelines' tensors for `ims` in validation mode: all of `ab`, and `ab` without its identity warp (AffineCoordTfm)"
    import torch
    from fastai.vision.all import Pipeline, AffineCoordTfm
    from fastai.vision.core import PILImage
    x = torch.stack([ai((PILImage(im),))[0] for im in ims])
    no_warp = Pipeline([t for t in ab.fs if not isinstance(t, AffineCoordTfm)], split_idx=1)
    return ab((x,))[0].numpy(), no_warp((x,))[0].numpy()

def _check(ims, pre, ai, ab):
    from bear_lib.onnx import preprocess
    for b in range(0, len(ims), 32):
        full, no_warp = _refs(ai, ab, ims[b:b+32])
        ours = np.stack([preprocess(im, pre) for im in ims[b:b+32]])
        # fastai's validation "warp" is a bilinear resampling with the identity matrix: a float error of ~1e-5 at most
        assert np.abs(ours - no_warp).max() < 2e-6, np.abs(ours - no_warp).max()
        assert np.abs(ours - full).max() < 1e-4, np.abs(ours - full).max()

def test_preprocess_matches_learner(trained, bears):
    "numpy + Pillow give the tensors of the export's own validation pipeline (RandomResizedCrop, ToTensor, IntToFloat, Normalize)"
    from bear_lib.bundle import BearModel
    from bear_lib.images import load_image
    bm = BearModel(trained)
    pre = bm.card['preprocess']
    assert pre['resize'] == 'random' and pre['size'] == 224
    _check(_odd_shapes([load_image(f) for f in _photos(bears)]), pre, bm._after_item, bm._after_batch)

@pytest.mark.parametrize('method', ['crop', 'pad', 'squish'])
def test_preprocess_matches_resize_methods(bears, method):
    "The other item transforms `bear_block` offers: fastai's Resize by crop, pad (reflection) and squish"
    from fastai.vision.all import vision_learner
    from bear_lib.data import bear_dls
    from bear_lib.backbones import mobilenet_v2
    from bear_lib.onnx import onnx_preprocess
    from bear_lib.images import load_image
    dls = vision_learner(bear_dls(bears, bs=8, method=method, size=160), mobilenet_v2).dls
    pre = onnx_preprocess(dls)
    assert (pre['resize'], pre['size']) == (method, 160)
    ai, ab = dls.valid.after_item, dls.valid.after_batch
    ai.split_idx = ab.split_idx = 1
    _check(_odd_shapes([load_image(f) for f in _photos(bears, 15)]), pre, ai, ab)

def test_preprocess_matches_torchvision(bears):
    "The ImageNet network's preprocessing is torchvision's Resize(256) + CenterCrop(224) + Normalize"
    from bear_lib.imagenet import imagenet_net, IMAGENET_PRE
    from bear_lib.images import load_image
    from bear_lib.onnx import preprocess
    _,tfm = imagenet_net()
    for im in _odd_shapes([load_image(f) for f in _photos(bears, 10)]):
        assert np.abs(preprocess(im, IMAGENET_PRE) - tfm(im).numpy()).max() < 1e-6

def _both(model_onnx, model_torch, ims, bs=16):
    out = []
    for m in (model_onnx, model_torch):
        ps, Ps = [], []
        for b in range(0, len(ims), bs):
            p,P = m.probs(ims[b:b+bs], imagenet=True)
            ps.append(p); Ps.append(P)
        out.append((np.concatenate(ps), np.concatenate(Ps)))
    return out

def test_trained_onnx_matches_pytorch(trained, bears):
    "On every third sample bear the trained export's ONNX twin and its ImageNet check agree with PyTorch within 1e-4"
    from bear_lib.bundle import load_model, OnnxModel, BearModel
    from bear_lib.images import load_image
    mo, mt = load_model(trained), load_model(trained, backend='torch')
    assert (type(mo), type(mt)) == (OnnxModel, BearModel)
    assert mo.card['runtime'] == 'ONNX Runtime' and mo.imagenet_map
    ims = [load_image(f) for f in _photos(bears, 3)]
    (po, Po), (pt, Pt) = _both(mo, mt, ims)
    assert len(po) == 124
    assert np.abs(po - pt).max() < 1e-4, np.abs(po - pt).max()
    assert np.abs(Po - Pt).max() < 1e-4, np.abs(Po - Pt).max()
    assert (po.argmax(1) == pt.argmax(1)).all()

def test_zero_shot_onnx_matches_pytorch(bears):
    "The zero-shot model on ONNX Runtime (built once into the cache) agrees with torchvision's within 1e-4 on every other bear"
    from bear_lib.imagenet import ImageNetBears, zero_shot_onnx
    from bear_lib.images import load_image
    from bear_lib.settings import cache_dir
    assert zero_shot_onnx().parent == cache_dir() and zero_shot_onnx().stat().st_size > 1_000_000
    zo, zt = ImageNetBears(backend='onnx'), ImageNetBears(backend='torch')
    assert zo.card['runtime'] == 'ONNX Runtime' and zt.card['runtime'] == 'PyTorch'
    ims = [load_image(f) for f in _photos(bears, 2)]
    (po, Po), (pt, Pt) = _both(zo, zt, ims)
    assert np.abs(Po - Pt).max() < 1e-4, np.abs(Po - Pt).max()
    assert np.abs(po - pt).max() < 1e-4, np.abs(po - pt).max()

def _astronaut(tmp_path):
    from skimage import data
    fn = tmp_path/'astronaut.png'
    Image.fromarray(data.astronaut()).save(fn)
    return fn

SERVE = '''
import sys, json
from bear_lib.bundle import load_model
from bear_lib.infer import answer
m = load_model({model!r})
ims = {ims}
out = [a.code for a in answer(m, ims)]
print(json.dumps(dict(runtime=m.card['runtime'], answers=out, torch='torch' in sys.modules, fastai='fastai' in sys.modules)))
'''

def _serve(tmp_path, model, ims):
    "Run SERVE in a fresh process; its JSON"
    r = subprocess.run([sys.executable, '-c', SERVE.format(model=model and str(model), ims=ims)], capture_output=True, text=True,
                       cwd=tmp_path, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])

def test_onnx_inference_imports_no_torch(trained, bears, tmp_path):
    "Loading an ONNX model and answering decoded photos (a bear, an astronaut) needs neither torch nor fastai"
    from bear_lib.imagenet import zero_shot_onnx
    zero_shot_onnx()  # built here with torch, once; the serving process only reads it
    fns = [bears/'grizzly'/'grizzly_0002.jpg', _astronaut(tmp_path)]
    ims = f"[__import__('PIL.Image').Image.open(f).convert('RGB') for f in {[str(f) for f in fns]!r}]"
    for model in (trained, None):
        r = _serve(tmp_path, model, ims)
        assert r['runtime'] == 'ONNX Runtime' and r['answers'] == ['grizzly', 'none_of_these'], r
        assert not r['torch'] and not r['fastai'], r

def test_serving_onnx_imports_no_torch(trained, bears, tmp_path):
    "Answering photo files end to end (decoding included) on an ONNX model imports neither torch nor fastai"
    from bear_lib.imagenet import zero_shot_onnx
    zero_shot_onnx()
    ims = repr([str(bears/'grizzly'/'grizzly_0002.jpg'), str(_astronaut(tmp_path))])
    for model in (trained, None):
        r = _serve(tmp_path, model, ims)
        assert r['answers'] == ['grizzly', 'none_of_these'], r
        assert not r['torch'] and not r['fastai'], r

def test_failed_export_keeps_previous_model(bears, tmp_path, monkeypatch):
    "An export that fails half-way (a torn pickle, a failing ONNX step) leaves the previous pkl, onnx, feature bank and json as they were"
    import torch
    from fastai.vision.all import vision_learner, error_rate
    import bear_lib.train as bt, bear_lib.bundle as bundle
    from bear_lib.data import bear_dls
    from bear_lib.backbones import mobilenet_v2
    from bear_lib.gather import import_folder
    import_folder(bears, tmp_path/'data', n_per_class=8)  # what is checked is the files, not the model: 24 photos will do
    learn = vision_learner(bear_dls(tmp_path/'data', bs=8, size=64), mobilenet_v2, metrics=error_rate)
    tmp_path = tmp_path/'out'; tmp_path.mkdir()
    out = tmp_path/'export.pkl'
    bt.export_model(learn, out)
    names = ['export.pkl', 'export.onnx', 'export.bank.npy', 'export.json']
    before = {n: (tmp_path/n).read_bytes() for n in names}
    save = torch.save
    def torn_save(obj, f, *args, **kwargs):
        "write a few bytes where the pickle goes, then fail: a full disk or a crash"
        Path(f).write_bytes(b'PK\x03\x04 half a pickle')
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(torch, 'save', torn_save)
    with pytest.raises(OSError): bt.export_model(learn, out)
    assert {n: (tmp_path/n).read_bytes() for n in names} == before
    assert len(learn.dls.train_ds) > 0  # the learner itself survives the failed export
    monkeypatch.setattr(torch, 'save', save)
    def no_onnx(*args, **kwargs): raise RuntimeError('exporter crashed')
    monkeypatch.setattr(bundle, 'export_onnx', no_onnx)  # the bundle writes the ONNX file
    with pytest.raises(RuntimeError): bt.export_model(learn, out)
    assert {n: (tmp_path/n).read_bytes() for n in names} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)  # no temporary files left behind
