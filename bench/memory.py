"""Memory of one app kernel, on ONNX Runtime against PyTorch (the baseline): a fresh process does what the Voilà kernel does
(import bear_lib.app, build `BearApp`, answer an uploaded photo through `BearApp.classify`), then reports its resident memory.

    python bench/memory.py [--model export.pkl] [--photo FILE] [--quick]

(`--quick` is accepted for `make bench`: one kernel per runtime answering one photo is already the least this bench can do.)

Without --model the app serves the zero-shot model (as `bear_app` does without one). Each runtime is chosen with $BEAR_BACKEND
and runs with OMP_NUM_THREADS=1, as `bear_app` starts its kernels. The kernel's own Jupyter machinery (ipykernel, zmq) is not
counted. Last line: ratio=<ONNX Runtime RSS / PyTorch RSS> after the first answer. Goal: at most 400 MB per visitor on ONNX.
"""
import argparse, json, os, subprocess, sys

KERNEL = r'''
import json, resource, sys, psutil
from pathlib import Path
from bear_lib.app import BearApp
from bear_lib.testing import fake_upload
app = BearApp()
loaded = psutil.Process().memory_info().rss
f = Path(sys.argv[1])
app.upload.value = (fake_upload(f),)
text = app.classify()
print(json.dumps(dict(rss=psutil.Process().memory_info().rss, loaded=loaded, peak=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      text=text, runtime=app.model.card.get('runtime'), torch='torch' in sys.modules, fastai='fastai' in sys.modules)))
'''

def kernel(backend, photo, model=None):
    "RSS and what was imported, of a fresh process that answers `photo` as the app kernel does"
    env = {**os.environ, 'BEAR_BACKEND': backend, 'OMP_NUM_THREADS': '1'}
    env.pop('BEAR_MODEL', None)
    if model: env['BEAR_MODEL'] = str(model)
    r = subprocess.run([sys.executable, '-c', KERNEL, str(photo)], capture_output=True, text=True, env=env)
    if r.returncode: sys.exit(r.stderr)
    return json.loads(r.stdout.strip().splitlines()[-1])

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model'); ap.add_argument('--photo')
    ap.add_argument('--quick', action='store_true', help='the same run: one kernel per runtime, one photo, is already the least')
    a = ap.parse_args()
    from bear_lib.core import sample_bears
    from bear_lib.imagenet import zero_shot_onnx
    zero_shot_onnx()  # the cached ImageNet ONNX file, built once (with torch) if it isn't there yet
    photo = a.photo or sample_bears()/'grizzly'/'grizzly_0002.jpg'
    res = {b: kernel(b, photo, a.model) for b in ('onnx', 'torch')}
    MB = 2**20
    print(f"model: {a.model or 'zero-shot'}; photo: {photo}")
    for b,r in res.items():
        print(f"{r['runtime']:>12}: {r['rss']/MB:.0f} MB after the first answer ({r['loaded']/MB:.0f} MB before it, peak {r['peak']/MB:.0f} MB); "
              f"torch imported: {r['torch']}, fastai imported: {r['fastai']}; answer: {r['text'][:60]!r}")
    said = {b: r['text'].split(';')[0] for b,r in res.items()}  # the answer, without the probability's last digits
    assert said['onnx'] == said['torch'], f'the two runtimes answer differently: {said}'
    print(f"ratio={res['onnx']['rss']/res['torch']['rss']:.3f}")

if __name__ == '__main__': main()
