"""Your own classes: does bear_train's features recipe win where ImageNet doesn't already know the answer, and how fast?

On each dataset (the clouds: 5 genera ImageNet lacks, a raw scrape; the bears: classes ImageNet has), 3 stratified folds (seed
0), the same folds for every candidate. Each candidate trains on two folds (the photos as they are)
and is judged on the third, which it never saw (copies in a temporary folder):

- `bear_train --recipe features`: `bear_lib.train.train(recipe='features')` + `export_model`, judged through the exported model
  (`load_model`, ONNX Runtime), features computed from nothing (an empty feature cache per fold);
- the book's recipe: fastai `vision_learner` + `fine_tune(4)` on the same offline MobileNetV2 weights, `RandomResizedCrop(224,
  min_scale=0.5)` and `aug_transforms()`, batches of 64, 20% of the training photos for its validation set, `learn.export()`;
- logistic regression (scikit-learn's defaults, on standardised features) on the frozen body's pooled features of a centre crop.

First, the heads the features recipe chooses among (and a few more), on both backbones: 5-fold cross-validation on cached
features, the error and log loss of each (`--candidates-only` stops there). Then, for each candidate above: the error over all held-out photos with its 95% Wilson interval, and the wall time from photos to a model (features
included), summed over the folds. Prints `ratio=` features error / the best baseline's error on the clouds (goal <= 1.0), then
`time_ratio=` features time / the book's time on the clouds (goal <= 0.35).

    OMP_NUM_THREADS=2 nice -n 10 python bench/own_classes.py [--clouds DIR] [--bears DIR] [--only clouds|bears] [--candidates-only]   # ~30 min on 2 cores
    OMP_NUM_THREADS=1 python bench/own_classes.py --quick   # make test: 8 photos a class, 64 px, fine_tune(1)
"""
import argparse, os, tempfile, time, warnings
from pathlib import Path
import numpy as np

def _fresh_cache(tmp):
    "An empty feature cache: the time from photos includes computing every feature"
    os.environ['BEAR_CACHE'] = tempfile.mkdtemp(dir=tmp)

def features_recipe(train_fns, held, tmp, size):
    from bear_lib.core import copy_photos
    from bear_lib.train import train, export_model
    from bear_lib.bundle import load_model
    from bear_lib.evaluate import model_probs
    from bear_lib.images import load_image
    _fresh_cache(tmp); t = time.time()
    learn = train(copy_photos(train_fns, tmp/'ds'), recipe='features', size=size, folds=5)
    export_model(learn, tmp/'export.pkl')
    secs = time.time() - t
    m = load_model(tmp/'export.pkl')  # the exported model, on ONNX Runtime
    return model_probs(m, [load_image(f) for f in held]), list(m.vocab), secs, learn.bear_meta['recipe']

def book_recipe(train_fns, held, tmp, size, epochs):
    from fastai.vision.all import vision_learner, error_rate
    from bear_lib.core import copy_photos
    from bear_lib.data import bear_block
    from bear_lib.backbones import mobilenet_v2
    from bear_lib.evaluate import learner_probs
    t = time.time()
    path = copy_photos(train_fns, tmp/'ds')
    dls = bear_block(size=size, method='random', min_scale=0.5, aug=True, valid_pct=0.2, seed=42).dataloaders(path, bs=64 if size >= 128 else 8, num_workers=0)
    learn = vision_learner(dls, mobilenet_v2, metrics=error_rate)
    with learn.no_bar(), learn.no_logging(): learn.fine_tune(epochs)
    learn.export(tmp/'book.pkl')
    secs = time.time() - t
    return learner_probs(learn, held), list(map(str, learn.dls.vocab)), secs, f'fine_tune({epochs})'

def logistic(train_fns, held, tmp, size):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from bear_lib.features import photo_features
    _fresh_cache(tmp); t = time.time()
    X = photo_features(train_fns, 'mobilenet_v2', size)
    y = [Path(f).parent.name for f in train_fns]
    m = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    secs = time.time() - t
    return m.predict_proba(photo_features(held, 'mobilenet_v2', size)), list(m.classes_), secs, 'C=1'

def candidates(images, size, quick):
    "The heads `train`'s features recipe could choose from, and others: 5-fold cross-validated on cached features (seed 42), two backbones"
    import pandas as pd
    from bear_lib.data import get_bear_files
    from bear_lib.features import photo_features, head_candidates, cv_heads
    from bear_lib.imagenet import imagenet_map
    fns = sorted(get_bear_files(images))
    if quick: fns = [f for c in sorted({f.parent.name for f in fns}) for f in [g for g in fns if g.parent.name == c][:8]]
    labels = [f.parent.name for f in fns]; vocab = sorted(set(labels))
    rows = []
    for arch in ('mobilenet_v2', 'efficientnet_lite0'):
        t = time.time(); X = photo_features(fns, arch, size); secs = time.time() - t
        cands = {f'logistic regression, wd {wd:g}': dict(wd=wd) for wd in (0.01, 0.1, 1., 3., 10.)}
        if imagenet_map({}, vocab): cands.update({k: v for k, v in head_candidates(vocab, arch).items() if 'ImageNet' in k})
        table, _ = cv_heads(X, labels, vocab, cands, arch, 3 if quick else 5, 42)
        table.insert(0, 'backbone', arch); table['features_s'] = round(secs, 1)
        rows.append(table)
    df = pd.concat(rows, ignore_index=True)
    print(f"\n{Path(images).name}: heads on cached features, {'3' if quick else '5'}-fold cross-validation (seed 42), {len(fns)} photos")
    print(df.drop(columns=['n', 'ci95']).to_string(index=False, float_format=lambda x: f'{x:.3f}'), flush=True)
    return df

def run(images, folds, size, epochs, quick):
    from bear_lib.data import get_bear_files
    from bear_lib.evaluate import stratified_folds, wilson_interval
    fns = sorted(get_bear_files(images))
    if quick: fns = [f for c in sorted({f.parent.name for f in fns}) for f in [g for g in fns if g.parent.name == c][:8]]
    labels = np.array([f.parent.name for f in fns])
    fold = stratified_folds(labels, folds, 0)
    cands = dict(features=lambda tr, te, tmp: features_recipe(tr, te, tmp, size),
                 book=lambda tr, te, tmp: book_recipe(tr, te, tmp, size, epochs),
                 logistic=lambda tr, te, tmp: logistic(tr, te, tmp, size))
    out = {}
    for name, fit in cands.items():
        wrong, secs, picked = 0, 0., []
        for k in range(folds):
            tr, te = [f for f,i in zip(fns, fold) if i != k], [f for f,i in zip(fns, fold) if i == k]
            with tempfile.TemporaryDirectory() as tmp:
                P, vocab, s, what = fit(tr, te, Path(tmp))
            wrong += int(sum(vocab[i] != l for i, l in zip(np.asarray(P).argmax(1), labels[fold == k])))
            secs += s; picked.append(what)
            print(f'  {Path(images).name} fold {k}: {name} {s:.1f} s ({what})', flush=True)
        lo, hi = wilson_interval(wrong, len(fns))
        out[name] = dict(err=wrong/len(fns), wrong=wrong, n=len(fns), lo=lo, hi=hi, secs=secs, picked=picked)
    print(f"\n{Path(images).name}: {len(fns)} photos, {folds} folds (seed 0)\n| candidate | error (95% interval) | seconds, photos to model, all folds |\n|---|---|---|")
    for name, r in out.items():
        print(f"| {name} | {r['err']:.1%} ({r['wrong']}/{r['n']}; {r['lo']:.1%}-{r['hi']:.1%}) | {r['secs']:.0f} |")
    print(f"features recipe chose: {', '.join(out['features']['picked'])}", flush=True)
    return out

if __name__ == '__main__':
    warnings.filterwarnings('ignore')
    here = Path(__file__).resolve().parent.parent
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--clouds', default=str(here.parent/'shared'/'data'/'clouds'))
    p.add_argument('--bears', default=os.environ.get('BEARS_DIR') or str(here.parent/'shared'/'data'/'bears'))
    p.add_argument('--quick', action='store_true', help='8 photos a class, 64 px, fine_tune(1): that it runs, not what it finds')
    p.add_argument('--only', choices=['clouds', 'bears'], help='one dataset (the ratios need the clouds)')
    p.add_argument('--candidates-only', action='store_true', help="only the table of heads on cached features (a minute once the features are cached)")
    a = p.parse_args()
    import torch
    torch.set_num_threads(1 if a.quick else 2)
    size, epochs = (64, 1) if a.quick else (224, 4)
    t0 = time.time()
    saved = os.environ.get('BEAR_CACHE')
    try:
        sets = [(name, d) for name, d in (('clouds', a.clouds), ('bears', a.bears)) if a.only in (None, name)]
        for _, d in sets: candidates(d, size, a.quick)
        if a.candidates_only: raise SystemExit(0)
        res = {name: run(d, 3, size, epochs, a.quick) for name, d in sets}
    finally:
        if saved is None: os.environ.pop('BEAR_CACHE', None)
        else: os.environ['BEAR_CACHE'] = saved
    if 'clouds' not in res: raise SystemExit(0)  # --only bears: the tables alone
    c = res['clouds']
    best = min(('book', 'logistic'), key=lambda k: c[k]['err'])
    print(f"\nclouds: features {c['features']['err']:.1%} against the best baseline ({best}) {c[best]['err']:.1%}; "
          f"{c['features']['secs']:.0f} s against the book's {c['book']['secs']:.0f} s; {time.time()-t0:.0f} s in all")
    print(f"ratio={c['features']['err']/max(c[best]['err'], 1e-9):.3f}")
    print(f"time_ratio={c['features']['secs']/c['book']['secs']:.3f}")
