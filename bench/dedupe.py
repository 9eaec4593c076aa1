"""Near-duplicate search: `bear_lib.gather.dedupe.near_pairs` (the comparison `find_duplicates` runs: numpy xor and
`bitwise_count` over blocks of 64-bit perceptual hashes) against the Python double loop it replaced, in one run.

Random 64-bit hashes with planted near pairs (1 to 6 bits apart), which both must find. The double loop is timed at 1k and 5k
hashes; its time at 10k and 100k is an extrapolation (the loop is quadratic: time x (n / 5000)^2), not a measurement.
Also times `find_duplicates` end to end on the sample photos with 1 and 2 hashing threads.
Goal: 100k hashes in under 30 s. Prints `ratio=` (the double loop's extrapolated 100k time / near_pairs' measured 100k time) last.

    python bench/dedupe.py [--sizes 1000 10000 100000] [--loop-sizes 1000 5000]
    python bench/dedupe.py --quick    # CI: 1k and 10k hashes, the loop at 1k only, find_duplicates on 8 sample photos a class
"""
import argparse, time
from pathlib import Path
import numpy as np
from bear_lib.testing import scratch_dir


def planted(n, n_pairs, seed=0):
    "n random 64-bit hashes; the last `n_pairs` are copies of earlier ones with 1 to 6 bits flipped; the pairs (i, j) planted"
    rng = np.random.default_rng(seed)
    h = rng.integers(0, 2**64, n, dtype=np.uint64, endpoint=False)
    src = rng.choice(n - n_pairs, n_pairs, replace=False)
    for k, i in enumerate(src):
        bits = rng.choice(64, rng.integers(1, 7), replace=False)
        h[n - n_pairs + k] = h[i] ^ np.uint64(sum(1 << int(b) for b in bits))
    return h, {(int(i), n - n_pairs + k) for k, i in enumerate(src)}


def double_loop(hs, max_dist=6):
    "The comparison find_duplicates used to run"
    out = []
    for a in range(len(hs)):
        for b in range(a + 1, len(hs)):
            if (hs[a] ^ hs[b]).bit_count() <= max_dist: out.append((a, b))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--sizes', type=int, nargs='+', default=[1000, 10_000, 100_000])
    ap.add_argument('--loop-sizes', type=int, nargs='+', default=[1000, 5000])
    ap.add_argument('--quick', action='store_true', help='1k and 10k hashes, the loop at 1k, find_duplicates on a few photos')
    a = ap.parse_args()
    if a.quick: a.sizes, a.loop_sizes = [1000, 10_000], [1000]
    from bear_lib.gather.dedupe import near_pairs
    ours = {}
    for n in a.sizes:
        h, want = planted(n, 20)
        t = time.perf_counter(); got = near_pairs(h, max_dist=6); s = time.perf_counter() - t
        got = set(map(tuple, got.tolist()))
        assert want <= got, f'near_pairs missed {len(want - got)} planted pairs at n={n}'
        ours[n] = s
        print(f'near_pairs: {n:>7,} hashes, {n*(n-1)//2:>14,} pairs in {s:7.2f} s; found all {len(want)} planted pairs ({len(got)} in all)')
    loop = {}
    for n in a.loop_sizes:
        h, want = planted(n, 20)
        hs = [int(x) for x in h]
        t = time.perf_counter(); got = set(double_loop(hs)); s = time.perf_counter() - t
        assert want <= got and got == set(map(tuple, near_pairs(h).tolist())), 'the two disagree'
        loop[n] = s
        print(f'double loop: {n:>6,} hashes in {s:7.2f} s (measured; same pairs as near_pairs)')
    n0 = max(loop)
    for n in a.sizes:
        if n > n0: print(f'double loop: {n:>6,} hashes in about {loop[n0] * (n / n0)**2:7.0f} s (extrapolated from {n0:,}, not measured)')
    from bear_lib.core import sample_bears
    from bear_lib.gather.dedupe import find_duplicates
    photos = sample_bears()
    if a.quick:  # the first 8 photos of each class
        from bear_lib.gather import import_folder
        photos = scratch_dir('bench_dedupe_')/'bears'
        import_folder(sample_bears(), photos, n_per_class=8)
    for w in (1, 2):  # hashing on a thread pool: the sample photos end to end
        t = time.perf_counter(); g = find_duplicates(photos, n_workers=w); s = time.perf_counter() - t
        print(f'find_duplicates on {sum(1 for _ in photos.rglob("*.jpg"))} sample photos, n_workers={w}: {s:.2f} s, {len(g)} groups')
    big = max(a.sizes)
    if 100_000 in ours: print(f'goal: 100,000 hashes in under 30 s: {"met" if ours[100_000] < 30 else "NOT met"} ({ours[100_000]:.2f} s)')
    print(f'ratio={loop[n0] * (big / n0)**2 / ours[big]:.0f}')


if __name__ == '__main__': main()
