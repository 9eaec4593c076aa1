"""Is a trained model better than the one that needs no training, on photos it has never seen? One run, the same folds.

5-fold stratified cross-validation (seed 42) of `bear_train`'s default recipe (`bear_lib.train.train` with its defaults) and the
zero-shot ImageNet model, on the photos as they are and on shifted copies of each held-out fold (greyscale, darkened to 25%,
shrunk 8x and enlarged back). Then, for the trained models: the expected calibration error of the out-of-fold predictions
before and after temperature scaling (the temperature of fold k fitted on the other folds' out-of-fold predictions), the share
of out-of-domain images (those scikit-image, scikit-learn and matplotlib ship) each fold's model answers "not sure" or "not a
bear" (goal >= 90%), and the share of held-out bears it wrongly refuses (goal <= 3%), with `bear_lib.infer.decide` and the
check an export of the recipe makes: the distance to its training photos' embeddings (`bear_lib.train.feature_bank`, the
threshold picked from each fold's training photos alone, since the held-out fold is what is measured). The ImageNet check the
zero-shot model makes (ImageNet's probability of our classes) is printed beside it.
Prints ratio=<trained CV error / zero-shot CV error> last (goal <= 0.7).

    OMP_NUM_THREADS=2 nice -n 10 python bench/quality.py [--images /work/shared/data/bears] [--folds 5] [--oof-csv F] [--train JSON]
    OMP_NUM_THREADS=2 python bench/quality.py --quick    # CI: 8 photos a class, 2 folds; the recipe at 64 px, 1 epoch, batches of 8
"""
import argparse, json, time, warnings
import numpy as np
import torch
from fastprogress.fastprogress import progress_bar
from bear_lib.train import cross_validate
from bear_lib.evaluate import error_summary
from bear_lib.images import SHIFTS
from bear_lib.imagenet import ImageNetBears, IMAGENET_BEARS
from bear_lib.infer import decide
from bear_lib.scores import calibrate, fit_temperature
from bear_lib.images import load_image
from bear_lib.testing import ood_images, scratch_dir
from bear_lib.train import feature_bank, _LearnerAnswers

warnings.filterwarnings('ignore')
p = argparse.ArgumentParser()
p.add_argument('--images', default='/work/shared/data/bears'); p.add_argument('--folds', type=int, default=5)
p.add_argument('--oof-csv', default=None, help='also write the trained recipe\'s out-of-fold predictions here')
p.add_argument('--train', default='{}', help='`train` options for a candidate recipe, as JSON, e.g. \'{"freeze_body": false}\' (default: none, the default recipe)')
p.add_argument('--quick', action='store_true', help='8 photos a class, 2 folds; the recipe at 64 px, 1 epoch, batches of 8 (unless --train says otherwise)')
a = p.parse_args()
torch.set_num_threads(1 if a.quick else 2)  # quick: in make test, beside pytest's workers
t0 = time.time()
recipe = json.loads(a.train)
if a.quick:
    from pathlib import Path
    from bear_lib.gather import import_folder
    tiny = scratch_dir('bench_quality_')/'bears'
    import_folder(a.images, tiny, n_per_class=8)
    a.images, a.folds, recipe = str(tiny), 2, dict(epochs=1, size=64, bs=8, **recipe)

ood = ood_images()
ood_names, ood_ims = list(ood), list(ood.values())
zs = ImageNetBears()
vocab = zs.vocab
ood_P = zs.probs(ood_ims, imagenet=True)[1]  # ImageNet's 1000 probabilities: what `decide`'s out-of-domain check reads
ood_probs, far = {}, {}  # fold → the fold model's class probabilities of the OOD images; its distances (held-out bears, OOD images, threshold)
def on_fold(k, learn, held):
    bank, cfg = feature_bank(learn, valid=False)  # as `export_model` stores it, with the threshold from the training photos alone
    m = _LearnerAnswers(learn, {}, None, bank, cfg)
    ood_probs[k], d_ood = m.probs(ood_ims, far=True)
    far[k] = (dict(zip(map(str, held), m.probs(held, far=True)[1])), d_ood, cfg['threshold'])

shifts = list(SHIFTS)
print(f"zero-shot model, {a.folds} folds of {a.images}")
z = cross_validate(a.images, a.folds, zero_shot=True, shifts=shifts)
print(f"  {time.time()-t0:.0f} s\nbear_train's default recipe{' with ' + str(recipe) if recipe else ''}, the same {a.folds} folds")
t1 = time.time()
tr = cross_validate(a.images, a.folds, shifts=shifts, on_fold=on_fold, **recipe)
print(f"  {time.time()-t1:.0f} s ({(time.time()-t1)/a.folds:.0f} s per fold: training and evaluation)")
if a.oof_csv: tr[tr['shift'] == ''].to_csv(a.oof_csv, index=False)

rows = []
for s in ['', *shifts]:
    zz, tt = error_summary(z[z['shift'] == s]), error_summary(tr[tr['shift'] == s])
    rows.append((s or 'as they are', zz, tt))
print(f"\n| {len(z[z['shift']==''])} photos, {a.folds}-fold CV | zero-shot | trained (default recipe{' with ' + json.dumps(recipe) if recipe else ''}) |\n|---|---|---|")
for s,zz,tt in rows:
    f = lambda r: f"{r['error_rate']:.1%} ({r['errors']}; 95% CI {r['ci95'][0]:.1%}-{r['ci95'][1]:.1%})"
    print(f"| {s} | {f(zz)} | {f(tt)} |")
print(f"trained below zero-shot on every shift: {all(tt['error_rate'] < zz['error_rate'] for _,zz,tt in rows[1:])}")

# calibration: the temperature of fold k fitted on the other folds' out-of-fold predictions (none of them fold k's)
oof = tr[tr['shift'] == ''].reset_index(drop=True)
pc = [f'p_{c}' for c in vocab]
P, y = oof[pc].to_numpy(), np.array([vocab.index(l) for l in oof.label])
T = {k: fit_temperature(P[oof.fold != k], y[oof.fold != k]) for k in range(a.folds)}
cal = oof.copy()
for k in range(a.folds): cal.loc[cal.fold == k, pc] = calibrate(P[oof.fold == k], T[k])
print(f"\nECE (10 bins) of the trained models' out-of-fold predictions: {error_summary(oof)['ece']:.4f} before, "
      f"{error_summary(cal)['ece']:.4f} after temperature scaling (T per fold: {', '.join(f'{t:.2f}' for t in T.values())})")

# refusals, with the app's decision on calibrated probabilities: the feature-space check an export of this recipe makes, and
# the ImageNet check (ImageNet's probability of our classes) the zero-shot model makes, with the same probabilities
imap = dict(IMAGENET_BEARS)
files = list(oof.file)
bears_P = np.concatenate([zs.probs([load_image(f) for f in files[i:i+32]], imagenet=True)[1] for i in progress_bar(range(0, len(files), 32), leave=False)])
n_ood = len(ood_probs)*len(ood_ims)
ood_cal = {k: calibrate(ood_probs[k], T[k]) for k in ood_probs}
def bear_far(i): d, _, thr = far[oof.fold[i]]; return dict(far=float(d[files[i]]), max_far=thr)
for name, bear_kw, ood_kw in [
    ('feature space (what an export of this recipe checks)', bear_far, lambda k, j: dict(far=float(far[k][1][j]), max_far=far[k][2])),
    ('ImageNet check (the zero-shot model\'s)', lambda i: dict(imagenet=bears_P[i], imagenet_map=imap), lambda k, j: dict(imagenet=ood_P[j], imagenet_map=imap))]:
    refused = sum(not decide(cal.loc[i, pc].to_numpy(float), vocab, **bear_kw(i)).sure for i in range(len(oof)))
    caught = sum(not decide(ood_cal[k][j], vocab, **ood_kw(k, j)).sure for k in ood_probs for j in range(len(ood_ims)))
    print(f"{name}: out-of-domain images answered 'not sure' or 'none of these': {caught}/{n_ood} = {caught/n_ood:.1%} "
          f"({len(ood_ims)} images x {len(ood_probs)} fold models; goal >= 90%); held-out bears wrongly refused: "
          f"{refused}/{len(oof)} = {refused/len(oof):.1%} (goal <= 3%)")
print(f"total {time.time()-t0:.0f} s")
zr, trr = rows[0][1]['error_rate'], rows[0][2]['error_rate']
print(f"ratio={trr/zr if zr else float('nan') if trr == 0 else float('inf'):.3f}")
