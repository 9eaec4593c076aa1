"CI's photo fetcher (.ci/fetch_bears.py) against fake repository archives made from the local photos: no network."
import csv, io, subprocess, sys, tarfile
from pathlib import Path
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SCRIPT, MANIFEST = ROOT/'.ci'/'fetch_bears.py', ROOT/'.ci'/'bears.tsv'
ROWS = list(csv.DictReader(open(MANIFEST, newline='', encoding='utf-8'), delimiter='\t'))
TOP = 'BearClassifier-7be542ca621193d2e280ae3e74731af6ff5f41d3'

def fetch(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=600)

def subset():
    "Two photos per class plus every photo whose source isn't a JPEG (PNG, GIF, odd names)"
    odd = [r for r in ROWS if not r['source'].lower().endswith(('.jpg', '.jpeg'))]
    return [r for c in ['black', 'grizzly', 'teddy'] for r in [x for x in ROWS if x['label'] == c][:2]] + odd[:6]

def original(bears, r, other=None) -> bytes:
    "A stand-in for the repository's original: the local photo scaled back up to the original size, in the source's format"
    im = Image.open(bears/(other or r)['file']).convert('RGB').resize(tuple(int(o) for o in r['original_size'].split('x')))
    ext = r['source'].rsplit('.', 1)[-1].lower()
    fmt = {'png': 'PNG', 'gif': 'GIF'}.get(ext, 'JPEG')
    if fmt == 'PNG': im = im.convert('RGBA')
    out = io.BytesIO(); im.save(out, fmt); return out.getvalue()

def make_archive(path, files:dict, links=()):
    "A .tar.gz laid out as GitHub's archive of the repository: {path in repo: bytes}, plus symlinks"
    with tarfile.open(path, 'w:gz') as tf:
        for name,data in files.items():
            ti = tarfile.TarInfo(f'{TOP}/{name}'); ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
        for name,target in links:
            ti = tarfile.TarInfo(f'{TOP}/{name}'); ti.type, ti.linkname = tarfile.SYMTYPE, target
            tf.addfile(ti)
    return path

def write_manifest(path, rows):
    with open(path, 'w', newline='', encoding='utf-8') as f:
        w = csv.DictWriter(f, fieldnames=list(ROWS[0]), delimiter='\t', lineterminator='\n')
        w.writeheader(); w.writerows(rows)
    return path

def src(r): return r['source'].split(':', 1)[1]

def test_manifest_matches_the_shared_set(bears):
    r = fetch('--dest', bears, '--check')
    assert r.returncode == 0, r.stderr
    assert '371 photos' in r.stdout and "'black': 117, 'grizzly': 129, 'teddy': 125" in r.stdout, r.stdout

def test_rebuild_from_archive(bears, tmp_path):
    rows = subset()
    files = {src(r): original(bears, r) for r in rows}
    files['README.md'] = b'not a photo'
    files['../../escape.jpg'] = files[src(rows[0])]  # never read: only the manifest's paths are
    archive = make_archive(tmp_path/'repo.tar.gz', files, links=[('bears/black/link.jpg', '/etc/passwd')])
    dest = tmp_path/'data'/'bears'
    r = fetch('--dest', dest, '--archive', archive, '--manifest', write_manifest(tmp_path/'m.tsv', rows))
    assert r.returncode == 0, r.stderr
    built = sorted(p.relative_to(dest).as_posix() for p in dest.rglob('*.jpg'))
    assert built == sorted(r['file'] for r in rows)
    for row in rows:
        with Image.open(dest/row['file']) as a, Image.open(bears/row['file']) as b:
            assert (a.size, a.mode, a.format) == (b.size, 'RGB', 'JPEG'), row['file']
    assert not (tmp_path/'escape.jpg').exists() and not (tmp_path/'data'/'escape.jpg').exists()
    assert (dest/'MANIFEST.tsv').is_file()
    assert fetch('--dest', dest, '--check', '--manifest', tmp_path/'m.tsv').returncode == 0

def test_refuses_other_photo(bears, tmp_path):
    "A photo of the right size that isn't the one the manifest names: nothing is built"
    rows = subset()[:4]
    files = {src(r): original(bears, r) for r in rows}
    files[src(rows[1])] = original(bears, rows[1], other=rows[3])
    dest = tmp_path/'bears'
    r = fetch('--dest', dest, '--archive', make_archive(tmp_path/'repo.tar.gz', files), '--manifest', write_manifest(tmp_path/'m.tsv', rows))
    assert r.returncode == 1 and f"{rows[1]['file']}: perceptual hash" in r.stderr, r.stderr
    assert not dest.exists() and list(tmp_path.glob('.bears.*')) == []

def test_refuses_wrong_size_symlink_and_missing(bears, tmp_path):
    rows = subset()[:3]
    m = write_manifest(tmp_path/'m.tsv', rows)
    good = {src(r): original(bears, r) for r in rows}
    small = {**good, src(rows[0]): (bears/rows[0]['file']).read_bytes()}  # the scaled photo, not the original
    cases = {'small': (small, [], 'the manifest says'),
             'link': ({k:v for k,v in good.items() if k != src(rows[2])}, [(src(rows[2]), '/etc/passwd')], 'not a regular file'),
             'missing': ({k:v for k,v in good.items() if k != src(rows[2])}, [], 'not in it')}
    for name,(files,links,msg) in cases.items():
        r = fetch('--dest', tmp_path/name, '--archive', make_archive(tmp_path/f'{name}.tar.gz', files, links), '--manifest', m)
        assert r.returncode == 1 and msg in r.stderr, (name, r.stderr)
        assert not (tmp_path/name).exists(), name

def test_never_replaces(tmp_path, bears):
    dest = tmp_path/'bears'; dest.mkdir(); (dest/'mine.txt').write_text('keep')
    r = fetch('--dest', dest, '--archive', tmp_path/'none.tar.gz')
    assert r.returncode == 1 and 'exists: not replacing it' in r.stderr, r.stderr
    assert (dest/'mine.txt').read_text() == 'keep'

def test_manifest_sources_stay_in_the_pinned_repo(tmp_path):
    bad = dict(ROWS[0], source=ROWS[0]['source'].replace('bears/black', '../etc'))
    r = fetch('--dest', tmp_path/'b', '--archive', tmp_path/'none.tar.gz', '--manifest', write_manifest(tmp_path/'m.tsv', [bad]))
    assert r.returncode == 1 and 'has a source outside' in r.stderr, r.stderr

def test_download_over_http(bears, tmp_path):
    "The archive fetched from a URL (a loopback server standing in for GitHub)"
    import functools, http.server, threading
    rows = subset()[:3]
    make_archive(tmp_path/'repo.tar.gz', {src(r): original(bears, r) for r in rows})
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    with http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler) as srv:
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        url = f'http://127.0.0.1:{srv.server_address[1]}/repo.tar.gz'
        r = fetch('--dest', tmp_path/'bears', '--archive', url, '--manifest', write_manifest(tmp_path/'m.tsv', rows))
        srv.shutdown()
    assert r.returncode == 0, r.stderr
    assert f'downloading {url}' in r.stdout and '3 photos' in r.stdout, r.stdout
