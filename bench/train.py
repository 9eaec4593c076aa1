"""One epoch of bear_lib's fine-tuning against a plain PyTorch loop: same model, photos, batch size, image size, threads.

Ours: `bear_dls` (RandomResizedCrop + fastai's aug_transforms) and `vision_learner(...).fit_one_cycle(1)` on the unfrozen model.
Plain: the same network (fastai's body + head on MobileNetV2), torchvision RandomResizedCrop + flip, AdamW + OneCycleLR,
a hand-written train and validation loop. Both decode the same JPEGs in the main process (num_workers=0).
Prints images/s for both and, last, ratio=<ours epoch time / plain epoch time> (target <= 1.15).

    python bench/train.py [--threads 2] [--size 224] [--bs 32]
    python bench/train.py --quick    # CI: 8 sample photos a class, 64 px, batches of 8, one timed epoch each
"""
import argparse, copy, time
import torch, torchvision.transforms as T
from PIL import Image
from fastai.vision.all import vision_learner, create_vision_model, error_rate, imagenet_stats, set_seed
from bear_lib.core import sample_bears
from bear_lib.data import bear_dls
from bear_lib.backbones import mobilenet_v2
from bear_lib.testing import scratch_dir

p = argparse.ArgumentParser()
p.add_argument('--threads', type=int, default=2); p.add_argument('--size', type=int, default=224); p.add_argument('--bs', type=int, default=32)
p.add_argument('--quick', action='store_true', help='8 sample photos a class, 64 px, batches of 8, one timed epoch each')
a = p.parse_args()
if a.quick: a.threads = 1  # in make test it runs beside pytest's workers
torch.set_num_threads(a.threads)
set_seed(42)
images, rounds = sample_bears(), 2
if a.quick:
    from pathlib import Path
    from bear_lib.gather import import_folder
    images, rounds, a.size, a.bs = scratch_dir('bench_train_')/'bears', 1, 64, 8
    import_folder(sample_bears(), images, n_per_class=8)
dls = bear_dls(images, bs=a.bs, size=a.size)
vocab = list(dls.vocab)
n_train, n_valid = len(dls.train)*a.bs, len(dls.valid_ds)  # drop_last: full batches only
model0 = create_vision_model(mobilenet_v2, len(vocab))

def ours():
    learn = vision_learner(dls, mobilenet_v2, metrics=error_rate)
    learn.model.load_state_dict(model0.state_dict())
    learn.unfreeze()
    with learn.no_bar(), learn.no_logging():
        t = time.perf_counter(); learn.fit_one_cycle(1, 1e-3); return time.perf_counter() - t

class DS(torch.utils.data.Dataset):
    def __init__(self, items, tfm): self.items,self.tfm = items,tfm
    def __len__(self): return len(self.items)
    def __getitem__(self, i):
        f = self.items[i]
        return self.tfm(Image.open(f).convert('RGB')), vocab.index(f.parent.name)

def plain():
    norm = T.Normalize(*imagenet_stats)
    tr = DS(dls.train_ds.items, T.Compose([T.RandomResizedCrop(a.size, scale=(0.5, 1)), T.RandomHorizontalFlip(), T.ToTensor(), norm]))
    va = DS(dls.valid_ds.items, T.Compose([T.Resize(a.size), T.CenterCrop(a.size), T.ToTensor(), norm]))
    tdl = torch.utils.data.DataLoader(tr, a.bs, shuffle=True, drop_last=True)
    vdl = torch.utils.data.DataLoader(va, a.bs * 2)
    m = copy.deepcopy(model0)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 1e-3, total_steps=len(tdl))
    loss_fn = torch.nn.CrossEntropyLoss()
    t = time.perf_counter()
    m.train()
    for x,y in tdl:
        loss = loss_fn(m(x), y); loss.backward(); opt.step(); opt.zero_grad(); sched.step()
    m.eval(); wrong = 0
    with torch.no_grad():
        for x,y in vdl: wrong += (m(x).argmax(1) != y).sum().item()
    return time.perf_counter() - t

ours(); plain()  # warm up: first-touch allocations, file cache
to, tp = min(ours() for _ in range(rounds)), min(plain() for _ in range(rounds))
n = n_train + n_valid
print(f'threads={a.threads} size={a.size} bs={a.bs} train={n_train} valid={n_valid} (best of {rounds} epochs each, after one untimed)')
print(f'bear_lib (fastai fit_one_cycle): {to:6.1f} s/epoch  {n/to:6.1f} images/s')
print(f'plain PyTorch loop:              {tp:6.1f} s/epoch  {n/tp:6.1f} images/s')
print(f'ratio={to/tp:.3f}')
