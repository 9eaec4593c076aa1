#!/usr/bin/env python3
"""Rebuild the sample bear photos (`../shared/data/bears`) from the public repository they come from, at a pinned commit.

The photos are not in this repository (their copyright stays with the photographers); `.ci/bears.tsv` is: for each photo its
file, label, source path in that repository, original size and perceptual hash. This script downloads the repository's archive
at the pinned commit, takes exactly the files the manifest names (regular files only: nothing else in the archive is read or
extracted), checks each is the photo the manifest names (its original size), scales it as the set was made (at most 320 px on
the long side, RGB, JPEG quality 85), checks what it built (size, perceptual hash within MAX_DIST of the manifest's, the class
counts) and only then moves the folder into place. An existing folder is never replaced: `--check` verifies one instead.

    python .ci/fetch_bears.py --dest ../shared/data/bears               # download and rebuild
    python .ci/fetch_bears.py --dest ../shared/data/bears --check       # verify a folder that is already there
    python .ci/fetch_bears.py --dest DIR --archive repo.tar.gz          # rebuild from an archive on disk
"""
import argparse, csv, hashlib, io, os, shutil, sys, tarfile, tempfile, urllib.request, warnings
from collections import Counter
from pathlib import Path, PurePosixPath

REPO, COMMIT = 'badriram939/BearClassifier', '7be542ca621193d2e280ae3e74731af6ff5f41d3'
URL = f'https://github.com/{REPO}/archive/{COMMIT}.tar.gz'
HERE = Path(__file__).resolve().parent
MAX_SIDE, QUALITY = 320, 85
MAX_DIST = 3          # the set has no two photos within perceptual-hash distance 6, so 3 can only match the photo itself
MAX_ARCHIVE = 1 << 30  # bytes we are willing to download
MAX_MEMBER = 64 << 20  # bytes of one source image

class FetchError(Exception): pass

def read_manifest(fn) -> list:
    "Rows of the manifest, each checked: a safe relative file name, a source in the pinned repository and commit"
    rows = list(csv.DictReader(open(fn, newline='', encoding='utf-8'), delimiter='\t'))
    if not rows: raise FetchError(f'{fn}: no rows')
    for r in rows:
        f, (repo_at, _, src) = PurePosixPath(r['file']), r['source'].partition(':')
        if f.is_absolute() or '..' in f.parts or len(f.parts) != 2 or f.parts[0] != r['label']:
            raise FetchError(f"{fn}: bad file name {r['file']!r}")
        if repo_at != f'{REPO}@{COMMIT}' or PurePosixPath(src).is_absolute() or '..' in PurePosixPath(src).parts:
            raise FetchError(f"{fn}: {r['file']} has a source outside {REPO}@{COMMIT}: {r['source']!r}")
        r['src'], r['size'] = src, tuple(int(o) for o in r['original_size'].split('x'))
    if len({r['file'] for r in rows}) != len(rows): raise FetchError(f'{fn}: a file is named twice')
    return rows

def download(url, dest:Path, limit=MAX_ARCHIVE):
    "Stream `url` into `dest`, at most `limit` bytes"
    n = 0
    with urllib.request.urlopen(url, timeout=60) as r, open(dest, 'wb') as f:
        while chunk := r.read(1 << 20):
            n += len(chunk)
            if n > limit: raise FetchError(f'{url}: more than {limit} bytes')
            f.write(chunk)

def _phash(im):
    import imagehash
    return imagehash.phash(im)

def _open(data:bytes, name):
    "A PIL image from `data`, refusing decompression bombs"
    from PIL import Image
    with warnings.catch_warnings():
        warnings.simplefilter('error', Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data)); im.load()
        except Exception as e: raise FetchError(f'{name}: not an image we can read ({type(e).__name__}: {e})') from None
    return im

def scaled(data:bytes, r:dict) -> bytes:
    "The photo as the set was made: RGB, at most MAX_SIDE px on the long side, JPEG quality QUALITY"
    im = _open(data, r['src'])
    if im.size != r['size']: raise FetchError(f"{r['src']} is {im.size[0]}x{im.size[1]}, the manifest says {r['original_size']}: not the same photo")
    im = im.convert('RGB')
    im.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO(); im.save(out, 'JPEG', quality=QUALITY)
    return out.getvalue()

def check(root:Path, rows:list) -> dict:
    "Check that `root` holds exactly the manifest's photos: sizes, perceptual hashes, class counts; return a summary"
    import imagehash
    from PIL import Image
    want = {r['file'] for r in rows}
    have = {p.relative_to(root).as_posix() for p in root.rglob('*') if p.is_file() and p.name != 'MANIFEST.tsv'}
    if have != want: raise FetchError(f'{root}: {len(want - have)} photos missing (e.g. {sorted(want - have)[:3]}), '
                                      f'{len(have - want)} extra files (e.g. {sorted(have - want)[:3]})')
    dists, same = [], 0
    for r in rows:
        p = root/r['file']
        with Image.open(p) as im:
            W,H = r['size']; s = min(1, MAX_SIDE / max(W, H))
            ok = im.format == 'JPEG' and im.mode == 'RGB' and max(im.size) <= MAX_SIDE and all(abs(a - b*s) <= 1 for a,b in zip(im.size, r['size']))
            if not ok: raise FetchError(f"{p}: {im.format} {im.mode} {im.size[0]}x{im.size[1]}, expected an RGB JPEG scaled from {r['original_size']}")
            d = _phash(im) - imagehash.hex_to_hash(r['phash'])
        if d > MAX_DIST: raise FetchError(f'{p}: perceptual hash {d} bits away from the manifest\'s: not the same photo')
        dists.append(d)
        same += hashlib.sha256(p.read_bytes()).hexdigest() == r['sha256']
    counts = Counter(r['label'] for r in rows)
    for label,n in counts.items():
        if len(list((root/label).glob('*'))) != n: raise FetchError(f'{root/label}: expected {n} photos')
    return dict(photos=len(rows), classes=dict(counts), max_dist=max(dists), byte_identical=same)

def rebuild(archive:Path, rows:list, dest:Path) -> dict:
    "Build `dest` from the manifest's files in the repository `archive` (a .tar.gz); check it; move it into place"
    srcs = {r['src'] for r in rows}
    members = {}
    with tarfile.open(archive, 'r:gz') as tf:
        for m in tf:  # names are `<repo>-<commit>/<path>`: look only at the paths the manifest names
            parts = PurePosixPath(m.name).parts
            path = PurePosixPath(*parts[1:]).as_posix() if len(parts) > 1 else ''
            if path not in srcs: continue
            if path in members: raise FetchError(f'{archive}: {path} is in the archive twice')
            if not m.isfile(): raise FetchError(f'{archive}: {path} is not a regular file')
            if m.size > MAX_MEMBER: raise FetchError(f'{archive}: {path} is {m.size} bytes, more than {MAX_MEMBER}')
            members[path] = tf.extractfile(m).read()
    missing = sorted(srcs - set(members))
    if missing: raise FetchError(f'{archive}: {len(missing)} photos of the manifest are not in it, e.g. {missing[:3]}')
    tmp = Path(tempfile.mkdtemp(prefix=f'.{dest.name}.', dir=dest.parent))
    try:
        for r in rows:
            (tmp/r['label']).mkdir(exist_ok=True)
            (tmp/r['file']).write_bytes(scaled(members[r['src']], r))
        summary = check(tmp, rows)
        with open(tmp/'MANIFEST.tsv', 'w', newline='', encoding='utf-8') as f:
            w = csv.writer(f, delimiter='\t', lineterminator='\n')
            w.writerow(['file', 'label', 'sha256', 'source', 'original_size'])
            for r in rows: w.writerow([r['file'], r['label'], hashlib.sha256((tmp/r['file']).read_bytes()).hexdigest(), r['source'], r['original_size']])
        os.rename(tmp, dest)  # fails rather than replace a folder that appeared meanwhile
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True); raise
    return summary

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--dest', type=Path, required=True, help='the folder to build (must not exist yet), e.g. ../shared/data/bears')
    p.add_argument('--manifest', type=Path, default=HERE/'bears.tsv', help='file, label, sha256, source, original_size, phash per photo')
    p.add_argument('--archive', help=f'the repository archive: a .tar.gz file or URL (default: {URL})', default=URL)
    p.add_argument('--check', action='store_true', help='only check an existing DEST against the manifest')
    a = p.parse_args(argv)
    try:
        rows = read_manifest(a.manifest)
        if a.check: summary = check(a.dest, rows)
        else:
            if a.dest.exists(): raise FetchError(f'{a.dest} exists: not replacing it (check it with --check)')
            a.dest.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory() as d:
                archive = Path(a.archive)
                if not archive.is_file():
                    print(f'downloading {a.archive}', flush=True)
                    download(a.archive, archive := Path(d)/'repo.tar.gz')
                summary = rebuild(archive, rows, a.dest)
    except (FetchError, OSError, tarfile.TarError) as e: sys.exit(f'fetch_bears: {e}')
    print(f"{a.dest}: {summary['photos']} photos {summary['classes']}, all within perceptual-hash distance {summary['max_dist']} "
          f"of the manifest ({summary['byte_identical']} byte-identical)")

if __name__ == '__main__': main()
