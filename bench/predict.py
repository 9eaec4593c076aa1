"""Single-photo latency from file to answer: our ONNX path (`answer` on `load_model`'s ONNX Runtime model) against plain PyTorch
doing the same work with the same preprocessing, on the same photos in the same run.

    python bench/predict.py [--model export.pkl | --zero-shot] [--threads 2] [--reps 3] [--n 48]

Both sides start from the file: decode with `load_image`, `preprocess` (numpy + Pillow), the model's network and, for the
out-of-domain check, the ImageNet network, then `decide`. Ours runs the networks on ONNX Runtime; the baseline runs the very same
networks in eager PyTorch (`torch.inference_mode`, batch of 1). Our PyTorch path (`answer` on the fastai export, fastai's own
transforms) is printed for reference. Without --model it exports a mobilenet_v2 `vision_learner` on the sample photos without
training it (the timings don't depend on the weights). Both sides must give the same answers.
Last line: ratio=<ours (ONNX Runtime) ms per photo / plain PyTorch ms per photo>. Goal: <= 0.5.
"""
import argparse, os, tempfile, time, warnings
from pathlib import Path

def per_photo(f, reps, n):
    "Best of `reps` runs of `f()` (which answers `n` photos), in seconds per photo"
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return min(ts) / n

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model'); ap.add_argument('--zero-shot', action='store_true')
    ap.add_argument('--threads', type=int, default=2); ap.add_argument('--reps', type=int, default=3); ap.add_argument('--n', type=int, default=48)
    a = ap.parse_args()
    os.environ['OMP_NUM_THREADS'] = str(a.threads)  # ONNX Runtime's intra-op threads (OnnxNet reads it)
    warnings.filterwarnings('ignore')
    import torch
    torch.set_num_threads(a.threads)
    from bear_lib.core import sample_bears
    from bear_lib.infer import answer, decide
    from bear_lib.bundle import load_model
    from bear_lib.images import load_image
    from bear_lib.onnx import preprocess
    from bear_lib.imagenet import imagenet_net, ImageNetBears, IMAGENET_PRE
    bears = sample_bears()
    if a.zero_shot:
        ours, theirs, what = ImageNetBears(backend='onnx'), ImageNetBears(backend='torch'), 'zero-shot ImageNet MobileNetV2'
        net, pre, act = None, None, None
    else:
        fname = a.model
        if not fname:
            from fastai.vision.all import vision_learner, error_rate
            from bear_lib.data import bear_dls
            from bear_lib.backbones import mobilenet_v2
            from bear_lib.train import export_model
            fname = Path(tempfile.mkdtemp())/'export.pkl'
            learn = vision_learner(bear_dls(bears, bs=16), mobilenet_v2, metrics=error_rate)
            learn.bear_meta = dict(arch='mobilenet_v2')
            export_model(learn, fname)
        ours, theirs = load_model(fname, backend='onnx'), load_model(fname, backend='torch')
        net, pre, act = theirs.learn.model.eval(), ours.card['preprocess'], theirs.learn.loss_func.activation
        what = f"{fname} ({ours.card.get('arch', '?')}{'' if a.model else ', head untrained'})"
    inet = imagenet_net()[0]
    idxs = getattr(ours, 'idxs', None)

    def plain(f):
        "The same work in plain PyTorch: decode, numpy preprocessing, eager forward passes, decide"
        im = load_image(f)
        with torch.inference_mode():
            P = inet(torch.from_numpy(preprocess(im, IMAGENET_PRE))[None]).softmax(1)[0].numpy() if ours.imagenet_map else None
            if net is None: p = P[idxs] / P[idxs].sum()
            else: p = act(net(torch.from_numpy(preprocess(im, pre))[None]))[0].numpy()
        return decide(p, ours.vocab, P, ours.imagenet_map)

    fns = sorted(bears.rglob('*.jpg'))[::7][:a.n]
    n = len(fns)
    def run_plain(): return [plain(f) for f in fns]
    def run_ours(): return [answer(ours, [f])[0] for f in fns]
    def run_torch(): return [answer(theirs, [f])[0] for f in fns]
    res = {f.__name__: f() for f in (run_plain, run_ours, run_torch)}  # warm up, and the answers to compare
    same = sum(x.code == y.code for x,y in zip(res['run_ours'], res['run_plain']))
    gap = max(max(abs(x.probs[c] - y.probs[c]) for c in x.probs) for x,y in zip(res['run_ours'], res['run_plain']))
    assert same == n, f'ONNX and PyTorch answer differently for {n - same} of {n} photos'
    tp, to, tt = [], [], []
    for _ in range(a.reps):  # interleaved, so that load from other processes hits all alike
        tp.append(per_photo(run_plain, 1, n)); to.append(per_photo(run_ours, 1, n)); tt.append(per_photo(run_torch, 1, n))
    tp, to, tt = min(tp), min(to), min(tt)
    print(f'model {what}, {n} photos from file to answer, {a.threads} threads (torch and ONNX Runtime), best of {a.reps}; '
          f'out-of-domain check: {"yes" if ours.imagenet_map else "no"}')
    print(f'same answers: {same} of {n}; largest probability difference ONNX vs PyTorch: {gap:.1e}')
    print(f'per photo: ours (ONNX Runtime) {to*1e3:.1f} ms   plain PyTorch {tp*1e3:.1f} ms   (our PyTorch path with fastai transforms: {tt*1e3:.1f} ms)')
    print(f'ratio={to/tp:.3f}')

if __name__ == '__main__': main()
