"""Does ranking by out-of-fold loss find label errors sooner? Planted errors in a temporary copy of the bears.

Copies the dataset to a temporary folder, moves `--plant` seeded photos into a wrong class folder, then ranks every photo
 - before: by the loss of a model trained (bear_train's default recipe) on the copy, as the cleaner did (it trained on them);
 - after: by the out-of-fold loss of `--folds`-fold cross-validation of the same recipe (what `bear_eval` writes to `_oof.csv`).
Prints how many planted errors the first page (the `--page` highest losses) catches, each way, and how long `clean_app`
takes to build the category view of the cleaner (`queue=False`; the ranked queue has its own timing in 98h_clean) without and with `_oof.csv` (in this process, imports and the model already loaded).
Last line: ratio=<planted caught after / caught before>.

    OMP_NUM_THREADS=2 nice -n 10 python bench/clean_oof.py [--images /work/shared/data/bears] [--plant 15] [--folds 3] [--page 30]
    OMP_NUM_THREADS=2 python bench/clean_oof.py --quick    # CI: 8 photos a class, 3 planted, 2 folds, a page of 6; 64 px, 1 epoch
"""
import argparse, contextlib, io, random, shutil, time, warnings
from pathlib import Path
import pandas as pd
from bear_lib.data import get_bear_files
from bear_lib.train import train, export_model
from bear_lib.train import cross_validate
from bear_lib.clean import top_losses, clean_app, OOF
from bear_lib.testing import scratch_dir

warnings.filterwarnings('ignore')
p = argparse.ArgumentParser()
p.add_argument('--images', default='/work/shared/data/bears'); p.add_argument('--plant', type=int, default=15)
p.add_argument('--folds', type=int, default=3); p.add_argument('--page', type=int, default=30)
p.add_argument('--quick', action='store_true', help='8 photos a class, 3 planted, 2 folds, a page of 6; a tiny recipe (64 px, 1 epoch, batches of 8)')
a = p.parse_args()
recipe = {}  # `train` options: bear_train's defaults
if a.quick: a.plant, a.folds, a.page, recipe = 3, 2, 6, dict(epochs=1, size=64, bs=8)
tmp = scratch_dir('bench_clean_oof_')
root = tmp/'bears'
if a.quick:
    from bear_lib.gather import import_folder
    import_folder(a.images, root, n_per_class=8)
    (root/'manifest.jsonl').unlink()
else: shutil.copytree(a.images, root, ignore=shutil.ignore_patterns('*.csv', '*.jsonl', '_*'))
fns = sorted(get_bear_files(root))
classes = sorted({f.parent.name for f in fns})
rng = random.Random(0)
planted = set()
for f in rng.sample(fns, a.plant):
    dest = root/rng.choice([c for c in classes if c != f.parent.name])/f'planted_{f.name}'
    shutil.move(f, dest); planted.add(dest.resolve())
print(f"{len(fns)} photos, {len(planted)} moved into a wrong class folder")

learn = train(root, **{'recipe': 'fine_tune', **recipe})  # the cleaner's page ranks a fine-tuned learner's validation set
before = top_losses(learn, root)
caught_before = sum((root/f).resolve() in planted for f in before.file.head(a.page))
oof = cross_validate(root, a.folds, **recipe)
oof.to_csv(tmp/'oof.csv', index=False)
after = oof.sort_values('loss', ascending=False)
caught_after = sum(Path(f).resolve() in planted for f in after.file.head(a.page))
print(f"first page ({a.page} highest losses) catches {caught_before}/{len(planted)} planted errors ranked by the trained model's own loss, "
      f"{caught_after}/{len(planted)} ranked by {a.folds}-fold out-of-fold loss")

export_model(learn, tmp/'export.pkl', onnx=False)
with contextlib.redirect_stdout(io.StringIO()):  # outside a notebook its widgets print their reprs
    t = time.perf_counter(); clean_app(root, tmp/'export.pkl', queue=False); slow = time.perf_counter() - t
    shutil.copy(tmp/'oof.csv', root/OOF)
    t = time.perf_counter(); c = clean_app(root, tmp/'export.pkl', queue=False); fast = time.perf_counter() - t
assert c.oof is not None
print(f"clean_app builds the cleaner in {slow:.1f} s ranking with the model, {fast:.1f} s with {OOF}")
print(f"ratio={caught_after/caught_before if caught_before else float('inf'):.2f}")
