"""Why `predict_files` (behind `bear_predict`) sends one photo at a time through the model: the same photos from disk in
batches of `bs` through `model.probs`, against `predict_files` itself (one `model.predict(fn)` per file), same model.

    python bench/predict_files.py [--model export.pkl] [--threads 1] [--reps 2] [--bs 16]

Without --model it uses the default zero-shot model. Both sides decode every photo from disk.
Last line: ratio=<batched seconds / predict_files seconds>; above 1 means batching loses on this machine.
"""
import argparse, time, warnings
import torch

def best(f, reps):
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); r = f(); ts.append(time.perf_counter() - t)
    return min(ts), r

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model'); ap.add_argument('--threads', type=int, default=1); ap.add_argument('--reps', type=int, default=2)
    ap.add_argument('--bs', type=int, default=16)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    warnings.filterwarnings('ignore')
    from fastprogress.fastprogress import progress_bar
    from bear_lib.core import sample_bears
    from bear_lib.infer import load_model, load_image, predict_files, _expand
    model = load_model(a.model)
    fns = _expand(sample_bears())
    def one_at_a_time(): return list(predict_files(model, fns).label)
    def batched():
        out = []
        for b in progress_bar(range(0, len(fns), a.bs), leave=False):
            p = model.probs([load_image(f) for f in fns[b:b+a.bs]])
            out += [model.vocab[int(i)] for i in p.argmax(1)]
        return out
    one_at_a_time()  # warm up
    t1, l1 = best(one_at_a_time, a.reps)
    tb, lb = best(batched, a.reps)
    same = sum(x == y for x,y in zip(l1, lb))
    print(f'{len(fns)} photos, model {a.model or "zero-shot"}, torch threads {a.threads}, best of {a.reps}')
    print(f'predict_files (one at a time): {t1:.2f} s ({len(fns)/t1:.0f} photos/s)  batches of {a.bs}: {tb:.2f} s ({len(fns)/tb:.0f} photos/s)')
    print(f'same label for {same} of {len(fns)} photos')
    print(f'ratio={tb/t1:.3f}')

if __name__ == '__main__': main()
