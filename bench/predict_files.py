"""Why `predict_files` (behind `bear_predict`) sends one photo at a time through the model: the same photos from disk in
batches of `bs` through `model.probs` (with the ImageNet check) and `decide`, against `predict_files` itself (one `answer` per
file), same model.

    python bench/predict_files.py [--model export.pkl] [--threads 1] [--reps 2] [--bs 16] [--backend onnx|torch]
    python bench/predict_files.py --quick    # CI: every 8th sample photo, one round, batches of 8

Without --model it uses the default zero-shot model. Both sides decode every photo from disk, and make the same
out-of-domain check `answer` makes: the distance to the training photos for an export with a feature bank, else ImageNet's.
Both must give the same answers.
Last line: ratio=<batched seconds / predict_files seconds>; above 1 means batching loses on this machine.
"""
import argparse, os, time, warnings

def best(f, reps):
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); r = f(); ts.append(time.perf_counter() - t)
    return min(ts), r

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model'); ap.add_argument('--threads', type=int, default=1); ap.add_argument('--reps', type=int, default=2)
    ap.add_argument('--bs', type=int, default=16); ap.add_argument('--backend')
    ap.add_argument('--quick', action='store_true', help='every 8th sample photo, one round, batches of 8')
    a = ap.parse_args()
    if a.quick: a.reps, a.bs = 1, min(a.bs, 8)
    os.environ['OMP_NUM_THREADS'] = str(a.threads)  # torch and ONNX Runtime read it
    warnings.filterwarnings('ignore')
    from fastprogress.fastprogress import progress_bar
    from bear_lib.core import sample_bears
    from bear_lib.bundle import load_model
    from bear_lib.images import load_image
    from bear_lib.infer import predict_files, decide
    from bear_lib.images import image_files as _expand
    model = load_model(a.model, backend=a.backend)
    fns = _expand(sample_bears())
    if a.quick: fns = fns[::8]
    def one_at_a_time(): return list(predict_files(model, fns).answer)
    def batched():
        out = []
        for b in progress_bar(range(0, len(fns), a.bs), leave=False):
            ims = [load_image(f) for f in fns[b:b+a.bs]]
            if model.bank is not None:  # as `answer` does for an export with the training photos' embeddings
                p,d = model.probs(ims, far=True)
                out += [decide(pi, model.vocab, far=float(di), max_far=model.ood['threshold']).code for pi,di in zip(p, d)]
                continue
            p,P = model.probs(ims, imagenet=True)
            out += [decide(pi, model.vocab, None if P is None else Pi, model.imagenet_map).code for pi,Pi in zip(p, p if P is None else P)]
        return out
    one_at_a_time()  # warm up
    t1, l1 = best(one_at_a_time, a.reps)
    tb, lb = best(batched, a.reps)
    same = sum(x == y for x,y in zip(l1, lb))
    print(f'{len(fns)} photos, model {a.model or "zero-shot"} on {model.card["runtime"]}, {a.threads} threads, best of {a.reps}')
    print(f'predict_files (one at a time): {t1:.2f} s ({len(fns)/t1:.0f} photos/s)  batches of {a.bs}: {tb:.2f} s ({len(fns)/tb:.0f} photos/s)')
    print(f'same answer for {same} of {len(fns)} photos')
    assert same == len(fns) == len(l1) == len(lb), f'batched and one at a time answer differently for {len(fns) - same} of {len(fns)} photos'
    print(f'ratio={tb/t1:.3f}')

if __name__ == '__main__': main()
