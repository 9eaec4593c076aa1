"""Single-photo latency from file to answer: our ONNX path (`answer` on `load_model`'s ONNX Runtime model) against plain PyTorch
doing the same work with the same preprocessing, on the same photos in the same run.

    python bench/predict.py [--model export.pkl | --zero-shot] [--threads 2] [--reps 3] [--n 48]

    python bench/predict.py --quick     # CI: a tiny trained model (cached, see below), 6 photos, one round

Both sides start from the file: decode with `load_image`, `preprocess` (numpy + Pillow), the model's network, the
export's temperature (`calibrate`), the out-of-domain check, then `decide`, as `answer` does. The out-of-domain check is, for an
export with a feature bank (`.bank.npy`, what `bear_train` writes), the distance of the photo's embedding (the same forward pass)
to its `k`-th nearest training photo (`knn_distance`) against the export's threshold; for one without (and the zero-shot
model), the ImageNet network. Ours runs the networks on ONNX Runtime; the baseline runs the very same networks in eager PyTorch
(`torch.inference_mode`, batch of 1). Our PyTorch path (`answer` on the fastai export, fastai's own transforms) is printed for
reference. Without --model it exports a mobilenet_v2 `vision_learner` on the sample photos without training it (the timings
don't depend on the weights); with --quick, a model `bear_train` trains on 8 sample photos a class (64 px, 1 epoch), kept in
`bear_lib.testing.trained_model`'s cache ($BEAR_TEST_CACHE). Both sides must give the same answers.
Last line: ratio=<ours (ONNX Runtime) ms per photo / plain PyTorch ms per photo>. Goal: <= 0.5.
"""
import argparse, collections, os, time, warnings
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
    ap.add_argument('--quick', action='store_true', help='a tiny trained model (unless --model or --zero-shot), 6 photos, one round')
    a = ap.parse_args()
    if a.quick: a.n, a.reps, a.threads = min(a.n, 6), 1, 1  # one thread a side: in make test it runs beside pytest's workers
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
    from bear_lib.scores import calibrate, knn_distance, unit
    bears = sample_bears()
    if a.zero_shot:
        ours, theirs, what = ImageNetBears(backend='onnx'), ImageNetBears(backend='torch'), 'zero-shot ImageNet MobileNetV2'
        net, pre, act = None, None, None
    else:
        fname = a.model
        if not fname and a.quick:
            from bear_lib.gather import import_folder
            from bear_lib.testing import trained_model, scratch_dir
            tmp = scratch_dir('bench_predict_')
            import_folder(bears, tmp/'bears', n_per_class=8)
            (tmp/'bears'/'manifest.jsonl').unlink()  # it records paths and times: the same photos must give the cache the same key
            fname = trained_model(tmp/'bears', tmp, epochs=1, size=64, bs=8)
        elif not fname:
            from fastai.vision.all import vision_learner, error_rate
            from bear_lib.data import bear_dls
            from bear_lib.backbones import mobilenet_v2
            from bear_lib.train import export_model
            from bear_lib.testing import scratch_dir
            fname = scratch_dir('bench_predict_')/'export.pkl'
            learn = vision_learner(bear_dls(bears, bs=16), mobilenet_v2, metrics=error_rate)
            learn.bear_meta = dict(arch='mobilenet_v2')
            export_model(learn, fname)
        ours, theirs = load_model(fname, backend='onnx'), load_model(fname, backend='torch')
        net, pre, act = theirs.learn.model.eval(), ours.card['preprocess'], theirs.learn.loss_func.activation
        what = f"{fname} ({ours.card.get('arch', '?')}{'' if a.model else ', tiny, trained' if a.quick else ', head untrained'})"
    bank = ours.bank  # the training photos' embeddings: the out-of-domain check in feature space, instead of ImageNet's
    if bank is not None:
        assert isinstance(net, torch.nn.Sequential) and len(net) == 2, 'the embedding is the body\'s output: a (body, head) model'
        body, head, k, max_far = net[0], net[1], ours.ood['k'], ours.ood['threshold']
    inet = imagenet_net()[0] if ours.imagenet_map and bank is None else None
    idxs, T = getattr(ours, 'idxs', None), ours.card.get('temperature')

    def plain(f):
        "The same work in plain PyTorch: decode, numpy preprocessing, eager forward passes, the out-of-domain check, decide"
        im = load_image(f)
        with torch.inference_mode():
            if bank is not None:  # one forward pass: the probabilities and the embedding (the body's output averaged over the image)
                e = body(torch.from_numpy(preprocess(im, pre))[None])
                p = calibrate(act(head(e)).numpy(), T)[0]
                d = knn_distance(unit(e.mean((2, 3)).numpy()), bank, k)[0]
                return decide(p, ours.vocab, far=float(d), max_far=max_far)
            P = inet(torch.from_numpy(preprocess(im, IMAGENET_PRE))[None]).softmax(1)[0].numpy() if inet is not None else None
            if net is None: p = P[idxs] / P[idxs].sum()
            else: p = calibrate(act(net(torch.from_numpy(preprocess(im, pre))[None])).numpy(), T)[0]
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
    pairs = list(zip(res['run_ours'], res['run_plain']))
    assert all((x.far is None) == (y.far is None) for x,y in pairs), 'one side measured the distance to the training photos, the other not'
    far_gap = max((abs(x.far - y.far) for x,y in pairs if x.far is not None), default=None)
    assert far_gap is None or far_gap < 1e-3, f'ONNX and PyTorch measure distances to the training photos up to {far_gap:.1e} apart'
    tp, to, tt = [], [], []
    for _ in range(a.reps):  # interleaved, so that load from other processes hits all alike
        tp.append(per_photo(run_plain, 1, n)); to.append(per_photo(run_ours, 1, n)); tt.append(per_photo(run_torch, 1, n))
    tp, to, tt = min(tp), min(to), min(tt)
    print(f'model {what}, {n} photos from file to answer, {a.threads} threads (torch and ONNX Runtime), best of {a.reps}; '
          f'out-of-domain check: {"feature space (distance to the training photos)" if bank is not None else "ImageNet" if ours.imagenet_map else "none"}')
    codes = collections.Counter(x.code for x in res['run_ours'])
    print(f'same answers: {same} of {n} ({", ".join(f"{c} {k}" for c,k in sorted(codes.items()))}); '
          f'largest difference ONNX vs PyTorch: probability {gap:.1e}, distance to the training photos '
          f'{"(not measured)" if far_gap is None else f"{far_gap:.1e}"}')
    print(f'per photo: ours (ONNX Runtime) {to*1e3:.1f} ms   plain PyTorch {tp*1e3:.1f} ms   (our PyTorch path with fastai transforms: {tt*1e3:.1f} ms)')
    print(f'ratio={to/tp:.3f}')

if __name__ == '__main__': main()
