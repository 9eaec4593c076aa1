"""Our prediction path against a plain torch forward pass with identical preprocessing, on the same photos and model.

    python bench/predict.py [--model export.pkl] [--threads 1] [--reps 3]

Without --model it exports a mobilenet_v2 `vision_learner` on the sample photos without training it: the timings
don't depend on the weights. Single: `BearModel.predict(img)` vs PIL resize/crop + normalise + forward, batch 1, per photo.
Batch: `BearModel.probs(64 imgs)` vs the same plain preprocessing stacked into one batch. Both start from decoded RGB images.
Last line: ratio=<ours single-image latency / plain single-image latency> (target <= 1.3; batch throughput target >= 0.9 of plain).
"""
import argparse, statistics, tempfile, time, warnings
from pathlib import Path
import numpy as np, torch
from PIL import Image

def plain_preprocess(im, size=224, val_xtra=0.14, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)):
    "fastai's validation-mode RandomResizedCrop + ToTensor + IntToFloatTensor + Normalize, written with PIL and torch"
    big = size + int(np.ceil(size * val_xtra / 8) * 8)
    off = (big - size) // 2
    im = im.resize((big, big), Image.BILINEAR).crop((off, off, off + size, off + size))
    x = torch.from_numpy(np.asarray(im, dtype=np.uint8).copy()).permute(2, 0, 1).float().div_(255)
    return (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]

def timeit(f, reps):
    "Best of `reps` total times of `f()`"
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return min(ts)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model'); ap.add_argument('--threads', type=int, default=1); ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--n', type=int, default=64)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    warnings.filterwarnings('ignore')
    from fastai.vision.all import vision_learner
    from bear_lib.core import sample_bears
    from bear_lib.data import bear_dls
    from bear_lib.backbones import mobilenet_v2
    from bear_lib.infer import BearModel, load_image
    bears = sample_bears()
    fname = a.model
    if not fname:
        fname = Path(tempfile.mkdtemp())/'export.pkl'
        vision_learner(bear_dls(bears, bs=8), mobilenet_v2).export(fname)
    model = BearModel(fname)
    net = model.learn.model.eval()
    fns = sorted(bears.rglob('*.jpg'))[::3][:a.n]
    ims = [load_image(f) for f in fns]
    model.probs(ims[:1])  # warm up
    # identical preprocessing: the plain tensors equal fastai's
    ours_x = model._after_batch((torch.stack([model._after_item((im,))[0] for im in ims[:4]]),))[0]
    plain_x = torch.stack([plain_preprocess(im) for im in ims[:4]])
    assert torch.allclose(ours_x, plain_x, atol=1e-4), float((ours_x - plain_x).abs().max())

    def plain_single():
        for im in ims:
            with torch.inference_mode(): net(plain_preprocess(im)[None]).softmax(1)
    def ours_single():
        for im in ims: model.predict(im)
    def plain_batch():
        with torch.inference_mode(): net(torch.stack([plain_preprocess(im) for im in ims])).softmax(1)
    def ours_batch(): model.probs(ims)
    def learner_single():
        with model.learn.no_bar():
            for im in ims[:8]: model.learn.predict(im)

    for f in (plain_single, ours_single, plain_batch, ours_batch): f()  # warm up
    # interleave so that load from other processes hits both alike
    ps, os_, pb, ob = [], [], [], []
    for _ in range(a.reps):
        ps.append(timeit(plain_single, 1)); os_.append(timeit(ours_single, 1))
        pb.append(timeit(plain_batch, 1)); ob.append(timeit(ours_batch, 1))
    n = len(ims)
    ps, os_, pb, ob = min(ps) / n, min(os_) / n, min(pb), min(ob)
    lp = timeit(learner_single, 1) / 8
    what = model.card.get('arch', '?') if a.model else 'mobilenet_v2 vision_learner, head untrained'
    print(f'model {fname} ({what}), {n} photos, torch threads {a.threads}, best of {a.reps}')
    print(f'single image: ours {os_*1e3:.1f} ms  plain torch {ps*1e3:.1f} ms  (fastai Learner.predict: {lp*1e3:.1f} ms)')
    print(f'batch of {n}: ours {ob:.3f} s ({n/ob:.0f} img/s)  plain torch {pb:.3f} s ({n/pb:.0f} img/s)  throughput ours/plain {pb/ob:.2f}')
    print(f'ratio={os_/ps:.3f}')

if __name__ == '__main__': main()
