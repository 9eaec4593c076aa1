"""Out of domain in feature space, for any classes: how many photos of other things a trained model refuses, and how many of its
own classes' photos it wrongly refuses, on photos no fold model trained on.

k-fold stratified cross-validation (seed 42) of `bear_train`'s default recipe on the sample bears. Each fold's model gets the
feature bank `export_model` would store (`bear_lib.train.feature_bank`: the training photos' embeddings), with its threshold
picked from the training photos alone (each left out of its own neighbours: the held-out fold is what is measured). Then, with the
app's decision (`bear_lib.infer.answer`, no temperature): the held-out bears refused ("none of these" from the feature-space check, and
in all, with "not sure"), and the out-of-domain images (those scikit-image, scikit-learn and matplotlib ship) refused.
`--rename` runs the same on a copy whose classes are called `alpha`, `beta`, `gamma`: names ImageNet doesn't have, so the recipe
falls back to fastai's `fine_tune` with a new head, and no ImageNet check is possible; the feature-space one still is.
For the bears, the ImageNet check (`OOD_THRESHOLD` on ImageNet's probability of our classes), as the model had it before, is
printed beside it. Prints ratio=<OOD refused share / bears wrongly refused share> (feature-space check) last.

    OMP_NUM_THREADS=2 python bench/ood.py [--images ../shared/data/bears] [--folds 5] [--rename] [--k 5] [--q 0.99]
    OMP_NUM_THREADS=2 python bench/ood.py --quick [--rename]    # CI: 8 photos a class, 2 folds, a third of the other images; 64 px, 1 epoch, batches of 8
"""
import argparse, shutil, time, warnings
from pathlib import Path
import torch
from bear_lib.train import cross_validate
from bear_lib.infer import answer
from bear_lib.imagenet import IMAGENET_BEARS
from bear_lib.train import _LearnerAnswers, feature_bank
from bear_lib.core import sample_bears
from bear_lib.testing import ood_images, scratch_dir

warnings.filterwarnings('ignore')
p = argparse.ArgumentParser()
p.add_argument('--images', default=None); p.add_argument('--folds', type=int, default=5); p.add_argument('--rename', action='store_true')
p.add_argument('--k', type=int, default=5); p.add_argument('--q', type=float, default=0.99)
p.add_argument('--quick', action='store_true', help='8 photos a class, 2 folds, a third of the out-of-domain images; a tiny recipe (64 px, 1 epoch, batches of 8)')
a = p.parse_args()
torch.set_num_threads(1 if a.quick else 2)  # quick: in make test, beside pytest's workers
t0 = time.time()
src = Path(a.images) if a.images else sample_bears()
recipe = {}  # `train` options: bear_train's defaults
if a.quick:
    from bear_lib.gather import import_folder
    a.folds, recipe = 2, dict(epochs=1, size=64, bs=8)
    tiny = scratch_dir('bench_ood_')/'bears'
    import_folder(src, tiny, n_per_class=8)
    src = tiny
path = src
if a.rename:
    path = scratch_dir('bench_ood_')/'renamed'
    for c,new in zip(sorted(IMAGENET_BEARS), ['alpha', 'beta', 'gamma']): shutil.copytree(src/c, path/new)
ood_ims = list(ood_images().values())[::3 if a.quick else 1]  # quick: a third of them
res = dict(bears=0, bears_unfamiliar=0, bears_refused=0, ood=0, ood_refused=0, bears_imagenet=0, ood_imagenet=0)

def on_fold(k, learn, held):
    bank, ood_cfg = feature_bank(learn, a.k, a.q, valid=False)  # as `export_model` stores it, but the threshold from the training photos alone
    m = _LearnerAnswers(learn, {}, None, bank, ood_cfg)
    ab, ao = answer(m, held), answer(m, ood_ims)
    res['bears'] += len(ab); res['ood'] += len(ao)
    res['bears_unfamiliar'] += sum(x.unfamiliar for x in ab); res['bears_refused'] += sum(not x.sure for x in ab)
    res['ood_refused'] += sum(not x.sure for x in ao)
    if not a.rename:  # the ImageNet check the model had before, with the same model's probabilities
        m0 = _LearnerAnswers(learn, dict(IMAGENET_BEARS), None)
        res['bears_imagenet'] += sum(not x.sure for x in answer(m0, held)); res['ood_imagenet'] += sum(not x.sure for x in answer(m0, ood_ims))
    print(f"fold {k}: threshold {ood_cfg['threshold']:.3f}, bank {len(bank)}; running totals {res} ({time.time()-t0:.0f} s)", flush=True)

print(f"{a.folds}-fold CV of bear_train's {'recipe with ' + str(recipe) if recipe else 'default recipe'} on {path.name} ({'classes renamed alpha/beta/gamma' if a.rename else 'ImageNet class names'}), k={a.k}, quantile={a.q}")
cross_validate(path, a.folds, on_fold=on_fold, **recipe)
r = res
pct = lambda x, n: f"{x}/{n} = {x/n:.1%}"
print(f"\nfeature-space check: bears refused as unfamiliar {pct(r['bears_unfamiliar'], r['bears'])}; "
      f"bears refused in all (with 'not sure') {pct(r['bears_refused'], r['bears'])} (goal <= 3%); "
      f"out-of-domain images refused {pct(r['ood_refused'], r['ood'])} (goal >= 90%)")
if not a.rename:
    print(f"ImageNet check (before): bears refused in all {pct(r['bears_imagenet'], r['bears'])}; out-of-domain images refused {pct(r['ood_imagenet'], r['ood'])}")
print(f"total {time.time()-t0:.0f} s")
fr = r['bears_refused'] / r['bears']
print(f"ratio={(r['ood_refused']/r['ood']) / fr if fr else float('inf'):.2f}")
