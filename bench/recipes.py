"""Recipe candidates for bear_train, compared cheaply: linear heads on frozen ImageNet MobileNetV2 features, 5 stratified folds.

A full cross-validation of one training recipe takes 4 to 10 minutes on 2 cores (222-585 s, 02a_evaluate), so the head-only candidates (which is what a
frozen body trains) are compared on features computed once: the pooled MobileNetV2 features of each photo (torchvision's
ImageNet preprocessing) as it is, greyscale, darkened to 25% and shrunk 8x and enlarged back. Each candidate trains a linear
head on 4 folds' features (AdamW, one-cycle, batch 32, dropout 0.2) and predicts the 5th; "shift augmentation" trains on all
four versions of the training photos. It has no random crops or flips, so it is a proxy for `train`, not `train` itself:
`bench/quality.py` cross-validates the real default recipe.

    OMP_NUM_THREADS=2 nice -n 10 python bench/recipes.py features [--images DIR]  # ~8 min: writes /tmp/bear_recipe_feats.npz
    OMP_NUM_THREADS=1 nice -n 10 python bench/recipes.py                          # ~1 min: the table
    OMP_NUM_THREADS=2 python bench/recipes.py --quick    # CI: both, on 8 sample photos a class, features in a temporary file

Prints ratio=<the best candidate's log loss / the zero-shot model's log loss, both over the table's four columns> last (a
loss, not the error count: on a few photos the zero-shot model often makes no error at all).
"""
import argparse
from pathlib import Path
from bear_lib.testing import scratch_dir

def features(images=None, feats='/tmp/bear_recipe_feats.npz', threads=2):
    import time, numpy as np, torch
    from PIL import Image, ImageOps, ImageEnhance
    from bear_lib.core import sample_bears
    from bear_lib.imagenet import imagenet_net, IMAGENET_BEARS, imagenet_categories
    from bear_lib.data import get_bear_files
    from bear_lib.images import open_image
    torch.set_num_threads(threads)
    fns = sorted(get_bear_files(images or sample_bears()))
    net, tfm = imagenet_net()
    def shift(im, k):
        if k=='grey': return ImageOps.grayscale(im).convert('RGB')
        if k=='dark': return ImageEnhance.Brightness(im).enhance(0.25)
        if k=='low': w,h=im.size; return im.resize((max(1,w//8),max(1,h//8)), Image.BILINEAR).resize((w,h), Image.BILINEAR)
        return im
    out = {}
    t=time.time()
    for k in ['none','grey','dark','low']:
        F=[]
        for i in range(0,len(fns),32):
            x = torch.stack([tfm(shift(open_image(f),k)) for f in fns[i:i+32]])
            with torch.inference_mode(): F.append(net.features(x).mean((2,3)).numpy())
        out[k]=np.concatenate(F); print(k, time.time()-t, flush=True)
    np.savez(feats, files=np.array([str(f) for f in fns]), labels=np.array([f.parent.name for f in fns]), W=net.classifier[1].weight.detach().numpy(), b=net.classifier[1].bias.detach().numpy(), **out)


def table(feats='/tmp/bear_recipe_feats.npz'):
    import numpy as np, torch, torch.nn.functional as F
    from bear_lib.evaluate import stratified_folds
    from bear_lib.imagenet import imagenet_categories, IMAGENET_BEARS
    torch.set_num_threads(1)
    z = np.load(feats)
    X = {k: torch.tensor(z[k]) for k in ['none','grey','dark','low']}
    labels = z['labels']; vocab = ['black','grizzly','teddy']
    y = torch.tensor([vocab.index(l) for l in labels])
    rows = [imagenet_categories().index(IMAGENET_BEARS[c]) for c in vocab]
    W0, b0 = torch.tensor(z['W'][rows]), torch.tensor(z['b'][rows])
    fold = stratified_folds(labels, 5, 42)
    def fit(tr, start, epochs, lr, ls=0., aug=False, seed=0):
        torch.manual_seed(seed)
        lin = torch.nn.Linear(1280, 3)
        if start: lin.weight.data, lin.bias.data = W0.clone(), b0.clone()
        opt = torch.optim.AdamW(lin.parameters(), lr=lr, weight_decay=0.01)
        Xtr = torch.cat([X[k][tr] for k in (['none','grey','dark','low'] if aug else ['none'])]); ytr = y[tr].repeat(4 if aug else 1)
        steps = epochs * ((len(tr)+31)//32); sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps)
        s = 0
        while s < steps:
            for idx in torch.randperm(len(Xtr)).split(32):
                if s >= steps: break
                out = lin(F.dropout(Xtr[idx], 0.2)); loss = F.cross_entropy(out, ytr[idx], label_smoothing=ls)
                opt.zero_grad(); loss.backward(); opt.step(); sched.step(); s += 1
        return lin
    def zs(Xs): return (Xs @ W0.T + b0).softmax(1)
    C = {
     'zero-shot (no training)': None,
     'random head, 3 ep, lr 1e-3': dict(start=False, epochs=3, lr=1e-3),
     'random head, 20 ep, lr 1e-2': dict(start=False, epochs=20, lr=1e-2),
     'ImageNet head start, 3 ep, lr 1e-3': dict(start=True, epochs=3, lr=1e-3),
     'ImageNet head start, 3 ep, lr 1e-4': dict(start=True, epochs=3, lr=1e-4),
     'ImageNet head start, 10 ep, lr 1e-3': dict(start=True, epochs=10, lr=1e-3),
     'ImageNet head start, 3 ep, lr 1e-3, label smoothing 0.1': dict(start=True, epochs=3, lr=1e-3, ls=0.1),
     'ImageNet head start, 3 ep, lr 1e-3, shift augmentation': dict(start=True, epochs=3, lr=1e-3, aug=True),
     'random head 20 ep lr 1e-2, averaged with zero-shot': dict(start=False, epochs=20, lr=1e-2, avg=True),
     'ImageNet head start, 5 ep, lr 1e-3, shift augmentation': dict(start=True, epochs=5, lr=1e-3, aug=True),
     'ImageNet head start, 3 ep, lr 3e-3, shift augmentation': dict(start=True, epochs=3, lr=3e-3, aug=True),
     'ImageNet head start, 3 ep, lr 1e-3, shift augmentation, label smoothing 0.1': dict(start=True, epochs=3, lr=1e-3, aug=True, ls=0.1),
     'random head, 20 ep, lr 1e-2, shift augmentation': dict(start=False, epochs=20, lr=1e-2, aug=True),
    }
    print('| candidate (linear head on frozen features) | CV error | greyscale | dark | low-res |\n|---|---|---|---|---|')
    total, nll = {}, {}  # errors, and log loss, over the four columns
    for name, kw in C.items():
        wrong, nll[name] = {k: 0 for k in X}, 0.
        for k in range(5):
            tr, te = np.where(fold != k)[0], np.where(fold == k)[0]
            if kw is None: P = {s: zs(X[s][te]) for s in X}
            else:
                kw = dict(kw); avg = kw.pop('avg', False)
                lin = fit(tr, **kw).eval()
                with torch.no_grad(): P = {s: lin(X[s][te]).softmax(1) * (0.5 if avg else 1) + (0.5*zs(X[s][te]) if avg else 0) for s in X}
            for s in X:
                wrong[s] += int((P[s].argmax(1) != y[te]).sum())
                nll[name] -= float(P[s][torch.arange(len(te)), y[te]].clamp_min(1e-12).log().sum())
        n = len(y)
        print(f"| {name} | " + ' | '.join(f"{wrong[s]/n:.1%} ({wrong[s]})" for s in ['none','grey','dark','low']) + ' |', flush=True)
        total[name] = sum(wrong.values())
    base = 'zero-shot (no training)'
    best = min((k for k in nll if k != base), key=nll.get)
    m = 4 * len(y)
    print(f"{len(y)} photos x 4 columns: zero-shot {total[base]} errors, log loss {nll[base]/m:.4f}; "
          f"the best candidate by log loss ({best}) {total[best]} errors, log loss {nll[best]/m:.4f}")
    print(f"ratio={nll[best]/nll[base]:.3f}")


if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('step', nargs='?', choices=['features'], help='compute the features (else: the table from them)')
    p.add_argument('--images', help='the photos (default: the sample bears)'); p.add_argument('--feats', default='/tmp/bear_recipe_feats.npz')
    p.add_argument('--quick', action='store_true', help='features of 8 sample photos a class into a temporary file, then the table')
    a = p.parse_args()
    if a.quick:
        from bear_lib.core import sample_bears
        from bear_lib.gather import import_folder
        tmp = scratch_dir('bench_recipes_')
        import_folder(a.images or sample_bears(), tmp/'bears', n_per_class=8)
        features(tmp/'bears', tmp/'feats.npz', threads=1); table(tmp/'feats.npz')  # one thread: beside pytest in make test
    elif a.step == 'features': features(a.images, a.feats)
    else: table(a.feats)
