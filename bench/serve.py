"""Throughput and latency of the JSON service (`bear_serve`) under 8 concurrent clients over loopback, on the sample bears:
our service against a baseline service, both started the same way in the same run, measured in alternating rounds.

    python bench/serve.py [--model M] [--backend onnx] [--baseline-model M] [--baseline-backend torch]
                          [--workers 1] [--clients 8] [--requests 200] [--rounds 3]
                          [--threads N] [--client stdlib|httpx]
    python bench/serve.py --quick    # CI: one round of 48 requests a side, one warm-up request per client

The intended comparison is the service on ONNX Runtime (ours) against the same service on PyTorch (the baseline).
A backend is handed to the service as `$BEAR_BACKEND`, which it passes to `load_model(..., backend=)`; `auto` passes none
(load_model's own choice, e.g. by the model file). A side whose service can't start (e.g. a `load_model` without that
backend) stops the run with the service's output: no ratio is printed for a side that wasn't measured.
Each request POSTs one photo's bytes (Content-Type image/jpeg) and must get 200; every answer is also written to a
SQLite prediction log in a temporary folder, as in production. Clients and service share this machine's cores; each client
thread holds one keep-alive connection of `--client`'s library (the standard library's by default: it spends less of the
shared CPU per request than httpx, so more of it is left to the services being compared).
Each side's figures are from its median round by throughput.
Last line: ratio=<ours requests/s / baseline requests/s>; the goal is >= 2.5 with ours' p99 <= 100 ms.
"""
import argparse, os, sys, threading, time
from pathlib import Path
from bear_lib.testing import start_serve, stop_app, scratch_dir

def start(model, backend, workers, tmp, threads):
    "Start `bear_serve` on a free port; return (process, URL) once /health answers, else stop the run with its output"
    env = {'BEAR_BACKEND': None if backend == 'auto' else backend,  # None: not in the service's environment
           'OMP_NUM_THREADS': str(threads) if threads else os.environ.get('OMP_NUM_THREADS')}
    try: return start_serve('--workers', workers, '--log', tmp/f'log_{backend}_{workers}_{time.time_ns()}.db', *(['--model', model] if model else []),
                            cwd=tmp, env=env)
    except (RuntimeError, TimeoutError) as e: sys.exit(f'The service (model {model or "default"}, backend {backend}) did not start: {e}')

def _stdlib_post(url):
    "A POST of one photo over one keep-alive `http.client` connection: (status, text)"
    import http.client
    from urllib.parse import urlsplit
    u = urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    def post(data):
        c.request('POST', '/predict', body=data, headers={'Content-Type': 'image/jpeg'})
        r = c.getresponse(); text = r.read()
        return r.status, text
    return post, c.close

def _httpx_post(url):
    import httpx
    c = httpx.Client(timeout=120)
    def post(data):
        r = c.post(f'{url}/predict', content=data, headers={'content-type': 'image/jpeg'})
        return r.status_code, r.text
    return post, c.close

CLIENTS = {'stdlib': _stdlib_post, 'httpx': _httpx_post}

def load(url, photos, clients, n, warmup, kind='stdlib'):
    "`n` requests from `clients` threads, each with its own keep-alive connection; (seconds, latencies in s)"
    lats, lock, errors = [], threading.Lock(), []
    todo = iter(range(n))
    def client(k):
        post, close = CLIENTS[kind](url)
        try:
            for i in range(warmup): post(photos[(k + i) % len(photos)])
            go.wait()
            while True:
                with lock: i = next(todo, None)
                if i is None: return
                t = time.perf_counter()
                status, text = post(photos[i % len(photos)])
                dt = time.perf_counter() - t
                with lock:
                    if status != 200: errors.append(str(text)[:200])
                    lats.append(dt)
        finally: close()
    go = threading.Event()
    ts = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in ts: t.start()
    time.sleep(0.5 + 0.2 * warmup * clients)  # let the warm-up requests finish
    t0 = time.perf_counter(); go.set()
    for t in ts: t.join()
    if errors: sys.exit(f'{len(errors)} requests failed, e.g. {errors[0]}')
    return time.perf_counter() - t0, lats

def pct(xs, q):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--model', help='our model file (default: load_model\'s default)')
    ap.add_argument('--backend', default='onnx', choices=['onnx', 'torch', 'auto'])
    ap.add_argument('--baseline-model', help='the baseline\'s model file (default: --model)')
    ap.add_argument('--baseline-backend', default='torch', choices=['onnx', 'torch', 'auto'])
    ap.add_argument('--workers', type=int, default=1); ap.add_argument('--clients', type=int, default=8)
    ap.add_argument('--requests', type=int, default=200); ap.add_argument('--rounds', type=int, default=3); ap.add_argument('--warmup', type=int, default=2)
    ap.add_argument('--threads', type=int, default=0, help='OMP_NUM_THREADS of the service (default: bear_serve\'s: cores / workers)')
    ap.add_argument('--client', default='stdlib', choices=list(CLIENTS),
                    help="the clients' HTTP library: the standard library's http.client (default) costs the shared cores less than httpx")
    ap.add_argument('--quick', action='store_true', help='one round of 48 requests a side, one warm-up request per client')
    a = ap.parse_args()
    if a.quick: a.rounds, a.requests, a.warmup = 1, min(a.requests, 48), min(a.warmup, 1)
    from bear_lib.core import sample_bears
    fns = sorted(f for c in sorted(sample_bears().iterdir()) if c.is_dir() for f in c.glob('*.jpg'))
    photos = [f.read_bytes() for f in fns]
    tmp = scratch_dir('bench_serve_')
    sides = {'baseline': (a.baseline_model or a.model, a.baseline_backend), 'ours': (a.model, a.backend)}
    print(f'{len(photos)} sample photos, {a.clients} concurrent clients, {a.rounds} rounds of {a.requests} requests per side, '
          f'{a.workers} worker(s) per service, {a.client} clients, {os.cpu_count()} cores shared by clients and services')
    procs, urls, runs = [], {}, {k: [] for k in sides}
    try:
        for name, (model, backend) in sides.items():
            p, urls[name] = start(model, backend, a.workers, tmp, a.threads)
            procs.append(p)
        # both services are up (an idle one costs nothing); rounds alternate between them, so a slow spell of this
        # shared machine falls on both sides, not on one
        for r in range(a.rounds):
            for name in (list(sides) if r % 2 == 0 else list(sides)[::-1]):
                runs[name].append(load(urls[name], photos, a.clients, a.requests, a.warmup, a.client))
    finally:
        for p in procs: stop_app(p)
    rps = {}
    for name, (model, backend) in sides.items():
        by = sorted(runs[name], key=lambda x: len(x[1]) / x[0])
        secs, lats = by[len(by) // 2]  # the median round by throughput
        rps[name] = len(lats) / secs
        print(f'{name:8s} model {model or "default"}, backend {backend}: {rps[name]:.1f} requests/s, p50 {pct(lats, .5)*1000:.0f} ms, '
              f'p99 {pct(lats, .99)*1000:.0f} ms (median round; rounds: {", ".join(f"{len(l)/t:.1f}" for t,l in runs[name])} requests/s)', flush=True)
    if sides['ours'] == sides['baseline']: print('(both sides are the same service: a check of the harness, not a comparison)')
    print(f'ratio={rps["ours"] / rps["baseline"]:.3f}')

if __name__ == '__main__': main()
