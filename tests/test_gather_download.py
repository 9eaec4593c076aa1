"Downloads against a loopback server that serves real bear photos and every fault we could think of (no network)"
import collections, http.server, io, json, struct, threading, time, zlib
from pathlib import Path
from urllib.parse import unquote
import pytest
from PIL import Image
from bear_lib.gather import download_images
from bear_lib.core import read_jsonl, sample_bears

CONNECT, READ, DEADLINE = 1, 1, 2  # seconds: the test's timeouts


def bomb_png(w=30000, h=30000):
    "A valid PNG of a few dozen bytes that claims to be w x h pixels"
    def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0))
            + chunk(b'IDAT', zlib.compress(b'\0' * 64)) + chunk(b'IEND', b''))


def jpeg(im, **kw):
    b = io.BytesIO(); im.save(b, 'JPEG', **kw); return b.getvalue()


class FaultServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    def handle_error(self, request, client_address): pass  # clients hanging up on slow answers is the point


def make_server(photos):
    hits = collections.Counter()
    escapes = {}
    lock = threading.Lock()
    rotated = Image.open(photos[5]); exif = rotated.getexif(); exif[0x0112] = 6
    rgba = Image.open(photos[6]).convert('RGBA'); b = io.BytesIO(); rgba.save(b, 'PNG'); rgba = b.getvalue()
    body = {
        '/ok/a.jpg': photos[0].read_bytes(), '/ok/b.jpg': photos[1].read_bytes(), '/ok/c.jpg': photos[2].read_bytes(),
        '/dup/one.jpg': photos[3].read_bytes(), '/dup/two.jpg': photos[3].read_bytes(),
        '/html.jpg': b'<!DOCTYPE html><html><body>Access denied</body></html>',
        '/truncated.jpg': photos[4].read_bytes()[:len(photos[4].read_bytes()) // 3],
        '/bomb.png': bomb_png(), '/empty.jpg': b'', '/rotated.jpg': jpeg(rotated, exif=exif), '/rgba.png': rgba,
        '/tiny.jpg': jpeg(Image.new('RGB', (12, 12), 'brown')),
    }

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'
        def log_message(self, *a): pass

        def send(self, code, data=b'', ctype='image/jpeg', length=None, headers=()):
            self.send_response(code)
            self.send_header('Content-Type', ctype)
            self.send_header('Content-Length', str(len(data) if length is None else length))
            for k, v in headers: self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            p = self.path
            with lock: hits[p] += 1
            try:
                if p in body: return self.send(200, body[p])
                if unquote(p).endswith('escape.jpg'):  # three ways to say ../, each a different photo
                    with lock: f = escapes.setdefault(p, photos[7 + len(escapes)])
                    return self.send(200, f.read_bytes())
                if p == '/404.jpg': return self.send(404, b'not found', 'text/plain')
                if p == '/500.jpg': return self.send(500, b'oops', 'text/plain')
                if p == '/slow_headers.jpg':
                    time.sleep(4); return self.send(200, photos[0].read_bytes())
                if p == '/slow_body.jpg':  # a byte every 0.3 s: never trips a read timeout, never ends
                    self.send_response(200); self.send_header('Content-Type', 'image/jpeg')
                    self.send_header('Content-Length', '100000'); self.end_headers()
                    for c in photos[0].read_bytes()[:40]:
                        self.wfile.write(bytes([c])); self.wfile.flush(); time.sleep(0.3)
                    self.close_connection = True; return
                if p.startswith('/loop/'):
                    nxt = '/loop/b' if p == '/loop/a' else '/loop/a'
                    return self.send(302, b'', 'text/plain', headers=[('Location', nxt)])
                if p == '/redirect.jpg': return self.send(301, b'', 'text/plain', headers=[('Location', '/ok/c.jpg')])
                if p == '/to_file.jpg': return self.send(302, b'', 'text/plain', headers=[('Location', 'file:///etc/passwd')])
                if p == '/lying.jpg':  # announces more than it sends, then hangs up
                    data = photos[0].read_bytes()
                    self.send(200, data, length=len(data) + 5000); self.close_connection = True; return
                if p == '/huge.jpg': return self.send(200, b'\xff\xd8' + b'\0' * 3_000_000)
                if p == '/huge_chunked.jpg':  # no Content-Length: the limit must hold while reading
                    self.send_response(200); self.send_header('Content-Type', 'image/jpeg'); self.end_headers()
                    self.close_connection = True
                    for _ in range(50): self.wfile.write(b'\0' * 100_000)
                    return
                return self.send(404, b'no route', 'text/plain')
            except (BrokenPipeError, ConnectionResetError): pass

    srv = FaultServer(('127.0.0.1', 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, hits


EXPECT = {
    '/ok/a.jpg': 'ok', '/ok/b.jpg': 'ok', '/redirect.jpg': 'ok', '/rotated.jpg': 'ok', '/rgba.png': 'ok',
    '/404.jpg': 'http_error', '/500.jpg': 'server_error', '/slow_headers.jpg': 'timeout', '/slow_body.jpg': 'timeout',
    '/loop/a': 'redirects', '/to_file.jpg': 'redirects', '/html.jpg': 'not_image', '/truncated.jpg': 'broken_image',
    '/lying.jpg': 'truncated', '/bomb.png': 'bomb', '/empty.jpg': 'not_image', '/tiny.jpg': 'too_small',
    '/huge.jpg': 'too_large', '/huge_chunked.jpg': 'too_large',
    '/photos/..%2F..%2F..%2Fescape.jpg': 'ok', '/photos/%2e%2e%2f%2e%2e%2fescape.jpg': 'ok',
}
# The same photo under two URLs: one is kept, the other is a 'duplicate'; which one depends on who finishes first
DUPS = ['/dup/one.jpg', '/dup/two.jpg']


def files_under(p): return {f for f in Path(p).rglob('*') if f.is_file()}


@pytest.fixture
def server():
    photos = sorted((sample_bears() / 'black').iterdir())[:10]
    srv, hits = make_server(photos)
    yield f'http://127.0.0.1:{srv.server_port}', hits
    srv.shutdown(); srv.server_close()


def test_faults(server, tmp_path):
    base, hits = server
    urls = [base + p for p in [*EXPECT, *DUPS]] + [base + '/../escape.jpg', base.replace('http', 'ftp') + '/x.jpg']
    dest = tmp_path / 'ds' / 'black'
    (tmp_path / 'elsewhere').mkdir(); (tmp_path / 'elsewhere' / 'keep.txt').write_text('x')
    before = files_under(tmp_path)
    kw = dict(timeout=(CONNECT, READ), deadline=DEADLINE, max_bytes=2_000_000, query='black bear')
    t = time.monotonic()
    rows = download_images(urls, dest, **kw)
    took = time.monotonic() - t
    st = {r['url'].removeprefix(base): r['status'] for r in rows}
    print(json.dumps(st, indent=1))
    for p, s in EXPECT.items(): assert st[p] == s, (p, st[p], [r['error'] for r in rows if r['url'] == base + p])
    assert sorted(st[p] for p in DUPS) == ['duplicate', 'ok']
    assert st['/../escape.jpg'] == 'ok'  # the client normalises the path to /escape.jpg
    assert st[base.replace('http', 'ftp').removeprefix(base) + '/x.jpg'] == 'bad_url'

    # nothing hangs: every download ends within its deadline plus one read timeout, the whole run soon after
    for r in rows: assert r['seconds'] <= DEADLINE + READ + 0.5, r
    assert took < DEADLINE + READ + 3, took

    # every row is in the manifest with the fields it promises and a clear error for each failure
    man = read_jsonl(tmp_path / 'ds' / 'manifest.jsonl')
    assert sorted(r['url'] for r in man) == sorted(urls)
    for r in man:
        for k in ('url', 'query', 'label', 'path', 'status', 'http', 'bytes', 'sha256', 'error', 'time'): assert k in r, (k, r)
        assert (r['status'] == 'ok') == (r['error'] is None), r
    by = {r['url'].removeprefix(base): r for r in man}
    assert by['/404.jpg']['http'] == 404 and by['/500.jpg']['http'] == 500
    assert by['/html.jpg']['error'] == 'not an image: an HTML page served as image/jpeg'
    assert 'empty' in by['/empty.jpg']['error']
    assert 'decompression bomb' in by['/bomb.png']['error']
    assert 'redirects' in by['/loop/a']['error']
    assert 'deadline' in by['/slow_body.jpg']['error']
    assert by['/ok/a.jpg']['http'] == 200 and by['/ok/a.jpg']['bytes'] > 1000 and len(by['/ok/a.jpg']['sha256']) == 64

    # nothing was written outside the dataset, and everything in the class folder is a good RGB image named safely
    new = files_under(tmp_path) - before
    assert all((tmp_path / 'ds') in f.parents for f in new), new
    kept = sorted(dest.iterdir())
    assert len(kept) == sum(s == 'ok' for s in st.values()) == 9
    for f in kept:
        with Image.open(f) as im: im.load(); assert im.mode == 'RGB'
        assert f.resolve().parent == dest.resolve()
    with Image.open(by['/rotated.jpg']['path']) as im, Image.open(sorted((sample_bears() / 'black').iterdir())[5]) as orig:
        assert im.size == orig.size[::-1]  # turned upright
    assert Path(by['/rgba.png']['path']).suffix == '.jpg'
    # the bytes of the failures that had bytes are kept in quarantine for a look, with the reason
    q = {Path(r['path']).parent for r in man if r['status'] in ('not_image', 'broken_image', 'bomb', 'too_small') and r['path']}
    assert q == {tmp_path / 'ds' / '_quarantine' / 'black'}
    assert len(read_jsonl(tmp_path / 'ds' / 'quarantine.jsonl')) == 4  # html, truncated, bomb, tiny (empty has no bytes)

    # a re-run downloads nothing twice: only passing faults (timeouts, 5xx, cut connections) are tried again
    hits_before = dict(hits)
    rows2 = download_images(urls, dest, **kw)
    again = {p for p in hits if hits[p] > hits_before.get(p, 0)}
    assert again == {'/500.jpg', '/slow_headers.jpg', '/slow_body.jpg', '/lying.jpg'}, again
    assert {r['url'].removeprefix(base): r['status'] for r in rows2 if r['status'] != 'skipped'} == \
        {'/500.jpg': 'server_error', '/slow_headers.jpg': 'timeout', '/slow_body.jpg': 'timeout', '/lying.jpg': 'truncated'}
    assert sorted(dest.iterdir()) == kept


def test_user_agent_and_pool(server, tmp_path):
    "One connection pool, our User-Agent"
    import bear_lib.gather as g
    base, hits = server
    sess = g._session(4)
    assert 'bear_lib' in sess.headers['User-Agent']
    assert sess.get_adapter(base)._pool_maxsize == 4
    rows = download_images([base + '/ok/a.jpg', base + '/ok/b.jpg'], tmp_path / 'ds' / 'x', n_workers=2, user_agent='test-agent/1')
    assert [r['status'] for r in rows] == ['ok', 'ok']
