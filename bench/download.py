"""Download throughput: bear_lib's `download_images` (verify + sha256 + manifest included) against fastai's
`download_images(n_workers=8)`, on the same URLs, in one run.

The URLs are N sample bear photos (`sample_bears()`, 371 JPEGs) served over loopback by a server in another process that
adds LATENCY seconds before each answer (the round trip of a real image host), keeps connections alive and sets TCP_NODELAY
as real web servers do. fastai runs with 8 workers (the issue's baseline), bear_lib with its default, 16 (`--workers`);
bear_lib at 8 workers and fastai at bear_lib's count are printed too, for reference
(the ratio comes from running more downloads at once, which the shared pool and per-download deadline make safe). The last line printed is `ratio=<ours/fastai>`.

    python bench/download.py [--n 300] [--latency 0.05] [--workers 16] [--rounds 2]
    python bench/download.py --quick    # CI: 32 photos, one round
"""
import argparse, os, shutil, socket, subprocess, sys, tempfile, time
from pathlib import Path
from bear_lib.testing import FileServer, free_port


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--n', type=int, default=300, help='images to download')
    ap.add_argument('--latency', type=float, default=0.05, help='seconds the server waits before each answer')
    ap.add_argument('--workers', type=int, default=16, help="bear_lib's concurrent downloads (its default)")
    ap.add_argument('--rounds', type=int, default=2, help='rounds of both; the best of each is compared')
    ap.add_argument('--quick', action='store_true', help='32 photos, one round')
    a = ap.parse_args()
    if a.quick: a.n, a.rounds = min(a.n, 32), 1

    from bear_lib.core import sample_bears
    from bear_lib.gather import download_images as ours
    from fastai.vision.utils import download_images as fastai_dl
    bears = sample_bears()
    fns = sorted(f for d in sorted(bears.iterdir()) if d.is_dir() for f in sorted(d.iterdir()) if f.suffix == '.jpg')[:a.n]
    assert len(fns) == a.n, f'only {len(fns)} sample photos in {bears}'
    port = free_port()
    srv = subprocess.Popen([sys.executable, __file__, '--serve', str(bears), str(port), str(a.latency)])
    tmp = Path(tempfile.mkdtemp(prefix='bench_download_'))
    try:
        base = f'http://127.0.0.1:{port}/'
        for _ in range(100):
            try: socket.create_connection(('127.0.0.1', port), 0.1).close(); break
            except OSError: time.sleep(0.1)
        urls = [base + str(f.relative_to(bears)) for f in fns]
        print(f'{a.n} photos ({sum(f.stat().st_size for f in fns)/1e6:.1f} MB) over loopback, {a.latency*1000:.0f} ms added per request, '
              f'{os.cpu_count()} CPUs')
        best = {'fastai': 0., 'ours': 0.}
        for r in range(a.rounds):
            d = tmp / f'fastai{r}'
            t = time.perf_counter(); fastai_dl(d, urls=urls, n_workers=8); s = time.perf_counter() - t
            n = len(list(d.iterdir()))
            assert n == a.n, f'fastai downloaded {n} of {a.n}'
            print(f'round {r}: fastai download_images(n_workers=8): {n} files in {s:.2f} s = {n/s:.0f} images/s')
            best['fastai'] = max(best['fastai'], n / s)

            d = tmp / f'ours{r}' / 'bears'
            t = time.perf_counter(); rows = ours(urls, d, n_workers=a.workers, allow_private=True); s = time.perf_counter() - t  # the server is on loopback
            n = sum(x['status'] == 'ok' for x in rows)
            assert n == a.n == len(list(d.iterdir())), f'ours: {n} ok of {a.n}: {[x for x in rows if x["status"] != "ok"][:3]}'
            assert len(Path(d.parent / 'manifest.jsonl').read_text().splitlines()) == a.n
            print(f'round {r}: bear_lib download_images(n_workers={a.workers}), each verified, hashed, in the manifest: '
                  f'{n} files in {s:.2f} s = {n/s:.0f} images/s')
            best['ours'] = max(best['ours'], n / s)
        d = tmp / 'ours8' / 'bears'
        t = time.perf_counter(); rows = ours(urls, d, n_workers=8, allow_private=True); s = time.perf_counter() - t
        print(f"for reference, bear_lib with n_workers=8: {sum(x['status'] == 'ok' for x in rows)} files in {s:.2f} s = {a.n/s:.0f} images/s")
        d = tmp / 'fastai16'
        t = time.perf_counter(); fastai_dl(d, urls=urls, n_workers=a.workers); s = time.perf_counter() - t
        print(f"for reference, fastai with n_workers={a.workers}: {len(list(d.iterdir()))} files in {s:.2f} s = {a.n/s:.0f} images/s")
        print(f"best: fastai {best['fastai']:.0f} images/s, bear_lib {best['ours']:.0f} images/s")
        print(f"ratio={best['ours']/best['fastai']:.2f}")
    finally:
        srv.terminate(); srv.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    # the server runs in a process of its own, so that it doesn't share the GIL with the downloads it serves
    if len(sys.argv) == 5 and sys.argv[1] == '--serve': FileServer(root=sys.argv[2], port=int(sys.argv[3]), latency=float(sys.argv[4])).serve_forever()
    else: main()
