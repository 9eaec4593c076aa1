"Downloads against a loopback server that serves real bear photos and every fault we could think of (no network)"
import json, socket, sys, threading, time, warnings
from pathlib import Path
import pytest
from PIL import Image
from bear_lib.gather import download_images, gather, verify_folder, URLFileSource
from bear_lib.ledger import read_jsonl
from bear_lib.core import sample_bears
from bear_lib.testing import fault_server

CONNECT, READ, DEADLINE = 1, 1, 2  # seconds: the test's timeouts


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
    "A `fault_server` of black bears; yields (its URL, its hits per path, which also has `.srv`)"
    with fault_server(sorted((sample_bears() / 'black').iterdir())[:10]) as srv:
        srv.hits.srv = srv
        yield srv.url, srv.hits


def test_faults(server, tmp_path):
    base, hits = server
    urls = [base + p for p in [*EXPECT, *DUPS]] + [base + '/../escape.jpg', base.replace('http', 'ftp') + '/x.jpg']
    dest = tmp_path / 'ds' / 'black'
    (tmp_path / 'elsewhere').mkdir(); (tmp_path / 'elsewhere' / 'keep.txt').write_text('x')
    before = files_under(tmp_path)
    kw = dict(timeout=(CONNECT, READ), deadline=DEADLINE, max_bytes=2_000_000, query='black bear', allow_private=True)
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
    from bear_lib.gather.net import safe_session
    base, hits = server
    sess = safe_session(4)
    assert 'bear_lib' in sess.headers['User-Agent']
    assert sess.get_adapter(base)._pool_maxsize == 4
    rows = download_images([base + '/ok/a.jpg', base + '/ok/b.jpg'], tmp_path / 'ds' / 'x', n_workers=2, user_agent='test-agent/1',
                           allow_private=True)
    assert [r['status'] for r in rows] == ['ok', 'ok']


# ---- Hostile input (issue 10). Each test below failed on the code before the gather split (see the commit message).

def mod_of(f): return sys.modules[f.__module__]


def test_private_addresses_refused(server, tmp_path):
    "By default no request reaches loopback, private or link-local (metadata) addresses, nor ports other than 80/443"
    base, hits = server
    urls = [base + '/ok/a.jpg', 'http://localhost:%d/ok/b.jpg' % hits.srv.server_port, 'http://169.254.169.254/latest/meta-data/',
            'http://[::1]/x.jpg', 'http://10.0.0.1/x.jpg', 'http://0.0.0.0:80/x.jpg', 'http://[::ffff:127.0.0.1]:80/x.jpg']
    t = time.monotonic()
    rows = download_images(urls, tmp_path / 'ds' / 'black', timeout=(CONNECT, READ), deadline=DEADLINE)
    assert {r['url']: r['status'] for r in rows} == {u: 'blocked' for u in urls}, [(r['url'], r['status'], r['error']) for r in rows]
    assert time.monotonic() - t < 2  # refused before connecting, not timed out
    assert not hits  # the server saw nothing
    assert not list((tmp_path / 'ds' / 'black').iterdir())


def test_redirect_to_private_refused(server, tmp_path):
    "Every hop is checked: a public-looking first hop can't redirect into the private network"
    base, hits = server
    # the 'internal' service, on another loopback address
    with fault_server(sorted((sample_bears() / 'grizzly').iterdir())[:10], host='127.0.0.2') as other:
        inner = f'{other.url}/ok/a.jpg'
        urls = [base + '/to/' + inner, base + '/to/http://169.254.169.254/latest/meta-data/', base + '/redirect.jpg']
        # the first hop's address (127.0.0.1) is allowed, nothing else private is
        rows = download_images(urls, tmp_path / 'ds' / 'black', timeout=(CONNECT, READ), deadline=DEADLINE, allow_private=['127.0.0.1/32'])
        st = {r['url']: r['status'] for r in rows}
        assert st == {urls[0]: 'blocked', urls[1]: 'blocked', urls[2]: 'ok'}, [(r['url'], r['error']) for r in rows]
        assert not other.hits


def test_dns_rebinding(server, tmp_path, monkeypatch):
    "The host is resolved once and the socket goes to the address that was checked, whatever DNS says next"
    base, hits = server
    real, calls = socket.getaddrinfo, []
    def fake(host, *a, **kw):
        if host != 'rebind.test': return real(host, *a, **kw)
        calls.append(host)  # first answer: the allowed address; every later one: somewhere private
        return real('127.0.0.1' if len(calls) == 1 else '10.255.255.1', *a, **kw)
    monkeypatch.setattr(socket, 'getaddrinfo', fake)
    url = base.replace('127.0.0.1', 'rebind.test') + '/ok/a.jpg'
    rows = download_images([url], tmp_path / 'ds' / 'black', timeout=(CONNECT, READ), deadline=DEADLINE, allow_private=['127.0.0.1/32'])
    assert rows[0]['status'] == 'ok', rows[0]
    assert calls == ['rebind.test'] and hits['/ok/a.jpg'] == 1


def test_environment_ignored(server, tmp_path, monkeypatch):
    "The session uses neither the environment's proxy nor its .netrc credentials"
    base, hits = server
    netrc = tmp_path / 'netrc'
    netrc.write_text('machine 127.0.0.1 login alice password s3cret\n'); netrc.chmod(0o600)
    monkeypatch.setenv('NETRC', str(netrc))
    monkeypatch.setenv('HTTP_PROXY', 'http://127.0.0.1:9'); monkeypatch.setenv('http_proxy', 'http://127.0.0.1:9')
    for k in ('NO_PROXY', 'no_proxy'): monkeypatch.delenv(k, raising=False)
    rows = download_images([base + '/ok/a.jpg'], tmp_path / 'ds' / 'black', allow_private=True)
    assert rows[0]['status'] == 'ok', rows[0]
    assert hits.srv.auth == []


def test_file_urls_only_from_folders(tmp_path):
    "A URL list can't read local files: file:// only from a FolderSource, and only inside its folder"
    secret = tmp_path / 'secret.jpg'
    secret.write_bytes((sorted((sample_bears() / 'black').iterdir())[0]).read_bytes())
    (tmp_path / 'urls.txt').write_text(f'black {secret.as_uri()}\nblack file:///etc/passwd\n')
    rows = gather(['black'], tmp_path / 'ds', source=URLFileSource(tmp_path / 'urls.txt'))
    assert [r['status'] for r in rows] == ['bad_url', 'bad_url'], rows
    assert not [f for f in (tmp_path / 'ds').rglob('*') if f.is_file() and f.name != 'manifest.jsonl']


def test_hostile_labels(tmp_path, server):
    "Class names from URL files and --labels can't leave the dataset"
    base, hits = server
    (tmp_path / 'urls.txt').write_text(f'../../escaped {base}/ok/a.jpg\n')
    with pytest.raises(ValueError, match="can't be a class name"): URLFileSource(tmp_path / 'urls.txt')
    (tmp_path / 'plain.txt').write_text(f'{base}/ok/a.jpg\n')
    for bad in ('../../escaped', str(tmp_path / 'abs'), '.hidden'):
        with pytest.raises(ValueError, match="can't be a class name"):
            gather(['x'], tmp_path / 'ds' / 'inner', labels=[bad], source=URLFileSource(tmp_path / 'plain.txt'), allow_private=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['plain.txt', 'urls.txt'] and not hits


def test_retry_after(server, tmp_path):
    "429 and 503 are tried again after the Retry-After wait (bounded), and the waits are recorded"
    base, hits = server
    waits = []
    urls = [base + p for p in ('/busy.jpg', '/busy_long.jpg', '/unavailable.jpg')]
    rows = download_images(urls, tmp_path / 'ds' / 'black', allow_private=True, sleep=waits.append, max_wait=5, deadline=30)
    by = {r['url'].removeprefix(base): r for r in read_jsonl(tmp_path / 'ds' / 'manifest.jsonl')}
    assert by['/busy.jpg']['status'] == 'ok' and by['/busy.jpg']['waits'] == [1.0]
    assert by['/busy_long.jpg']['status'] == 'rate_limited' and by['/busy_long.jpg']['waits'] == [5, 5]  # 3600 s asked, 5 s allowed
    assert by['/busy_long.jpg']['http'] == 429 and hits['/busy_long.jpg'] == 3
    assert by['/unavailable.jpg']['status'] == 'ok' and 1 < by['/unavailable.jpg']['waits'][0] <= 3  # an HTTP date
    assert sorted(waits) == sorted([1.0, 5, 5, by['/unavailable.jpg']['waits'][0]])
    # a Retry-After past the deadline gives up at once, and a re-run tries rate-limited URLs again
    rows = download_images(urls, tmp_path / 'ds' / 'black', allow_private=True, sleep=waits.append, deadline=3)
    assert {r['url'].removeprefix(base): r['status'] for r in rows if r['status'] != 'skipped'} == {'/busy_long.jpg': 'rate_limited'}
    assert hits['/busy_long.jpg'] == 4 and 'deadline' in rows[-1]['error']


def test_dangling_symlink(server, tmp_path):
    "A dangling link at the file name a download would take neither blocks the download nor is written through"
    from bear_lib.gather.download import _safe_name
    base, hits = server
    dest = tmp_path / 'ds' / 'black'; dest.mkdir(parents=True)
    url = base + '/ok/a.jpg'
    (dest / _safe_name(url, 'JPEG')).symlink_to(tmp_path / 'outside' / 'x.jpg')
    res = []
    t = threading.Thread(target=lambda: res.append(download_images([url], dest, allow_private=True)), daemon=True)
    t.start(); t.join(20)
    assert res, 'download_images did not return'
    assert res[0][0]['status'] == 'ok', res[0][0]
    assert not (tmp_path / 'outside').exists()
    assert Path(res[0][0]['path']).is_file() and not Path(res[0][0]['path']).is_symlink()


def test_failed_write_frees_its_hash(server, tmp_path, monkeypatch):
    "A write that fails doesn't leave its photo marked 'being written': the next copy of it is kept"
    base, hits = server
    mod = mod_of(download_images)
    real, calls = mod.write_new, []
    def full_disk(*a, **kw):
        calls.append(a)
        if len(calls) == 1: raise OSError(28, 'No space left on device')
        return real(*a, **kw)
    monkeypatch.setattr(mod, 'write_new', full_disk)
    rows = download_images([base + '/dup/one.jpg', base + '/dup/two.jpg'], tmp_path / 'ds' / 'black', n_workers=1, allow_private=True)
    assert [r['status'] for r in rows] == ['error', 'ok'], rows


def test_manifest_written_ahead(server, tmp_path, monkeypatch):
    "Each row is on disk before the file it describes is moved in place (download) or away (quarantine)"
    base, hits = server
    checked = []
    for mod in {mod_of(download_images), mod_of(verify_folder)}:
        def append(fn, rows, _real=mod.append_jsonl):
            for r in rows:
                if r.get('status') == 'ok' and r.get('path'): checked.append(('not yet there', Path(r['path']).exists()))
                if r.get('src') and not str(r['src']).startswith('http'): checked.append(('still there', Path(r['src']).exists()))
            return _real(fn, rows)
        monkeypatch.setattr(mod, 'append_jsonl', append)
    ds = tmp_path / 'ds'
    download_images([base + '/ok/a.jpg', base + '/ok/b.jpg'], ds / 'black', allow_private=True)
    (ds / 'black' / 'notes.jpg').write_text('not a photo')
    verify_folder(ds)
    assert checked == [('not yet there', False)] * 2 + [('still there', True)] * 2, checked  # quarantine.jsonl and the manifest


def test_resume_after_crash_and_torn_manifest(server, tmp_path):
    "A row whose file never arrived (a crash between the two) is downloaded again; a torn last line is skipped with a warning"
    base, hits = server
    ds = tmp_path / 'ds'
    rows = download_images([base + '/ok/a.jpg', base + '/ok/b.jpg'], ds / 'black', allow_private=True)
    a = next(r for r in rows if r['url'].endswith('/a.jpg'))
    Path(a['path']).unlink()  # as if the process died after the row, before the move
    with open(ds / 'manifest.jsonl', 'a') as f: f.write('{"url": "' + base + '/ok/c.jpg", "label": "black", "sta')  # torn
    with pytest.warns(UserWarning, match='torn'):
        rows = download_images([base + '/ok/a.jpg', base + '/ok/b.jpg', base + '/ok/c.jpg'], ds / 'black', allow_private=True)
    assert {r['url'].removeprefix(base): r['status'] for r in rows} == {'/ok/a.jpg': 'ok', '/ok/b.jpg': 'skipped', '/ok/c.jpg': 'ok'}
    assert hits['/ok/a.jpg'] == 2 and hits['/ok/b.jpg'] == 1
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        man = read_jsonl(ds / 'manifest.jsonl')
    assert len(w) == 1 and len(man) == 4  # the torn line is the only casualty; the next row started on a fresh line
    assert len(list((ds / 'black').glob('*.jpg'))) == 3


def test_quarantine_never_replaces(tmp_path, monkeypatch):
    "A quarantine move never replaces a file already in quarantine, even when the name it picked was taken meanwhile"
    ds = tmp_path / 'ds'
    (ds / 'black').mkdir(parents=True); (ds / '_quarantine' / 'black').mkdir(parents=True)
    (ds / 'black' / 'notes.jpg').write_text('not a photo')
    earlier = ds / '_quarantine' / 'black' / 'notes.jpg'
    earlier.write_text('quarantined before')
    monkeypatch.setattr(mod_of(verify_folder), 'unique_path', lambda p, taken=(): p)  # another writer took the name
    with pytest.raises(FileExistsError): verify_folder(ds)
    assert earlier.read_text() == 'quarantined before' and (ds / 'black' / 'notes.jpg').exists()


def test_resume_moved_dataset(server, tmp_path):
    "Files are looked up by name in the dataset: a moved dataset resumes without downloading again (a regression guard)"
    base, hits = server
    urls = [base + '/ok/a.jpg', base + '/html.jpg']
    download_images(urls, tmp_path / 'ds' / 'black', allow_private=True)
    (tmp_path / 'ds').rename(tmp_path / 'moved')
    rows = download_images(urls, tmp_path / 'moved' / 'black', allow_private=True)
    assert [r['status'] for r in rows] == ['skipped', 'skipped'] and hits['/ok/a.jpg'] == 1


def test_hostile_folder_labels(tmp_path):
    "Class names from a source folder's class folders are checked too: a folder named with a shell metacharacter or a newline is refused before anything is copied"
    from bear_lib.gather import import_folder, FolderSource
    from bear_lib.testing import toy_dataset
    for bad in ('bad$name', 'two\nlines', 'semi;colon'):
        src = toy_dataset(tmp_path / f'src{len(bad)}')
        (src / 'black').rename(src / bad)
        with pytest.raises(ValueError, match="can't be a class name"): import_folder(src, tmp_path / 'dest')
        with pytest.raises(ValueError, match="can't be a class name"): FolderSource(src).labels()
    assert not (tmp_path / 'dest').exists()


# ---- IPv6 forms that carry an IPv4 address (issue 20): judged by the IPv4 inside as well as by the IPv6 itself

SMUGGLED = ['http://[64:ff9b::a9fe:a9fe]/latest/meta-data',  # NAT64 of 169.254.169.254, the cloud metadata service
            'http://[64:ff9b::7f00:1]/',                     # NAT64 of 127.0.0.1
            'http://[2002:7f00:1::1]/',                      # 6to4 of 127.0.0.1
            'http://[2002:a9fe:a9fe::1]/',                   # 6to4 of 169.254.169.254
            'http://[::127.0.0.1]/',                         # IPv4-compatible 127.0.0.1
            'http://[::ffff:10.0.0.1]/']                     # IPv4-mapped 10.0.0.1


@pytest.fixture
def no_connect(monkeypatch):
    "Every socket connection attempt is recorded and fails before a packet leaves: a test that is wrong sends nothing"
    import urllib3.util.connection
    tried = []
    def refuse(*a, **kw):
        tried.append(a)
        raise OSError(101, 'Network is unreachable (connections are refused in this test)')
    def refuse_method(self, *a, **kw): return refuse(*a, **kw)
    monkeypatch.setattr(socket.socket, 'connect', refuse_method)
    monkeypatch.setattr(socket.socket, 'connect_ex', refuse_method)
    monkeypatch.setattr(socket, 'create_connection', refuse)
    monkeypatch.setattr(urllib3.util.connection, 'create_connection', refuse)
    return tried


def test_ipv6_carrying_private_ipv4_refused(tmp_path, no_connect):
    "NAT64, 6to4, IPv4-compatible and IPv4-mapped addresses of loopback, private or metadata addresses are blocked unconnected"
    (tmp_path / 'urls.txt').write_text(''.join(f'black {u}\n' for u in SMUGGLED))
    rows = gather(['black'], tmp_path / 'ds', source=URLFileSource(tmp_path / 'urls.txt'), timeout=(CONNECT, READ), deadline=DEADLINE)
    man = read_jsonl(tmp_path / 'ds' / 'manifest.jsonl')
    assert len(man) == 6 and {r['url']: r['status'] for r in man} == {u: 'blocked' for u in SMUGGLED}, \
        [(r['url'], r['status'], r['error']) for r in man]
    assert [r['status'] for r in rows] == ['blocked'] * 6
    assert not no_connect, no_connect  # not one connection was attempted
    assert 'carrying 169.254.169.254' in {r['url']: r['error'] for r in man}[SMUGGLED[0]]


def test_address_classifier():
    "Each IPv6 form that carries an IPv4 is judged by both; public addresses stay allowed"
    import ipaddress
    from bear_lib.gather.net import public_address, allowed_networks, embedded_ipv4
    refused = ['64:ff9b::a9fe:a9fe', '64:ff9b::7f00:1', '64:ff9b::a00:1', '64:ff9b:1::808:808', '64:ff9b:1:2::1',
               '2002:7f00:1::1', '2002:a9fe:a9fe::1', '2002:a00:1::1', '::127.0.0.1', '::10.0.0.1', '::', '::1',
               '::ffff:10.0.0.1', '::ffff:127.0.0.1', '::ffff:169.254.169.254',
               '2001:0:4136:e378:8000:63bf:3fff:fdd2',  # Teredo: server 65.54.227.120, client 192.0.2.45
               '2001:0:7f00:1:0:0:f5ff:fffe',            # Teredo with server 127.0.0.1 and client 10.0.0.1
               '127.0.0.1', '10.0.0.1', '169.254.169.254', '100.64.0.1', '224.0.0.1', 'ff0e::1', 'fe80::1%eth0', 'fd00::1']
    for a in refused: assert not public_address(a, []), a
    allowed = ['8.8.8.8', '::ffff:8.8.8.8', '2606:4700::1111', '64:ff9b::808:808', '93.184.216.34']
    for a in allowed: assert public_address(a, []), a
    # 6to4 of a public IPv4 is as public as Python's ipaddress says 2002::/16 is (3.13 calls it not globally reachable)
    assert public_address('2002:808:808::1', []) == ipaddress.ip_address('2002:808:808::1').is_global
    # networks a caller allows are allowed, under their IPv4-mapped name too, and nothing else private
    nets = allowed_networks(['127.0.0.1/32'])
    assert public_address('127.0.0.1', nets) and public_address('::ffff:127.0.0.1', nets)
    for a in ('127.0.0.2', '10.0.0.1', '::1', '64:ff9b::7f00:1', '2002:7f00:1::1'): assert not public_address(a, nets), a
    assert public_address('64:ff9b::7f00:1', allowed_networks(['64:ff9b::/96']))  # allowed by its own name
    assert public_address('10.0.0.1', allowed_networks(True)) and allowed_networks(None) == []
    # the IPv4 inside each form
    v4 = lambda *a: [ipaddress.ip_address(x) for x in a]
    assert embedded_ipv4('64:ff9b::a9fe:a9fe') == v4('169.254.169.254') and embedded_ipv4('2002:7f00:1::1') == v4('127.0.0.1')
    assert embedded_ipv4('::127.0.0.1') == v4('127.0.0.1') and embedded_ipv4('::ffff:10.0.0.1') == v4('10.0.0.1')
    assert embedded_ipv4('2001:0:7f00:1:0:0:f5ff:fffe') == v4('127.0.0.1', '10.0.0.1')
    assert embedded_ipv4('2606:4700::1111') == embedded_ipv4('8.8.8.8') == []


def test_regather_keeps_cleaning(server, tmp_path):
    "Gathering the same URLs again skips a photo moved since (to `_trash/`, `_quarantine/` or another class): a person's cleaning stays done"
    base, hits = server
    urls = [base + '/ok/a.jpg', base + '/ok/b.jpg', base + '/redirect.jpg']
    ds = tmp_path / 'ds'
    rows = download_images(urls, ds / 'black', allow_private=True)
    a, b, c = (Path(next(r['path'] for r in rows if r['url'] == u)) for u in urls)
    for f, to in ((a, ds / '_trash' / 'black'), (b, ds / '_quarantine' / 'black'), (c, ds / 'grizzly')):
        to.mkdir(parents=True, exist_ok=True); f.rename(to / f.name)
    before = files_under(ds)
    rows = download_images(urls, ds / 'black', allow_private=True)
    assert [r['status'] for r in rows] == ['skipped'] * 3
    assert {p: hits[p] for p in ('/ok/a.jpg', '/ok/b.jpg', '/redirect.jpg', '/ok/c.jpg')} == dict.fromkeys(
        ('/ok/a.jpg', '/ok/b.jpg', '/redirect.jpg', '/ok/c.jpg'), 1)  # each fetched once, the first time (the redirect and where it led)
    assert files_under(ds) - before == set() and not list((ds / 'black').glob('*.jpg'))


def test_reimport_keeps_relabels(tmp_path):
    "`bear_gather --from-folder SRC` again after the cleaner relabelled a photo: it stays in the class a person chose, not copied back"
    from bear_lib.gather import import_folder
    from bear_lib.core import copy_photos
    src = copy_photos([f for c in ('black', 'grizzly') for f in sorted((sample_bears() / c).iterdir())[:2]], tmp_path / 'src')
    ds = tmp_path / 'ds'
    import_folder(src, ds)
    a = sorted((ds / 'black').iterdir())[0]; a.rename(ds / 'grizzly' / a.name)  # the cleaner's relabel: black → grizzly
    before = {f: f.read_bytes() for f in files_under(ds)}
    rows = import_folder(src, ds)
    assert [r['status'] for r in rows] == ['skipped'] * 4 and str(ds / 'grizzly' / a.name) in [r['path'] for r in rows]
    assert {f: f.read_bytes() for f in files_under(ds)} == before and len(list((ds / 'black').iterdir())) == 1
    inc = copy_photos([sorted((sample_bears() / 'teddy').iterdir())[0]], ds / '_incoming')  # new photos put inside the dataset's folder
    assert [r['status'] for r in import_folder(inc, ds)] == ['ok'] and len(list((ds / 'teddy').iterdir())) == 1


def test_reimport_renamed_copy(tmp_path):
    "A photo copied under a new name (another file had its name) is found again by the name the manifest recorded, not copied once more a run"
    import json, shutil
    from bear_lib.gather import import_folder
    b = sorted((sample_bears() / 'black').iterdir())
    (tmp_path / 'src' / 'black').mkdir(parents=True); shutil.copy(b[0], tmp_path / 'src' / 'black' / 'x.jpg')
    ds = tmp_path / 'ds'; (ds / 'black').mkdir(parents=True); shutil.copy(b[1], ds / 'black' / 'x.jpg')  # another photo, the same name
    assert [r['status'] for r in import_folder(tmp_path / 'src', ds)] == ['ok']
    with open(ds / 'manifest.jsonl', 'a') as f:  # rows a hostile manifest could hold: ignored, nothing read or written outside
        for r in ({'url': ['x'], 'path': 'y'}, {'url': 'file:///etc/passwd', 'path': '../../../../etc/passwd'}): f.write(json.dumps(r) + '\n')
    for _ in range(2):
        assert [r['status'] for r in import_folder(tmp_path / 'src', ds)] == ['skipped']
        assert sorted(p.name for p in (ds / 'black').iterdir()) == ['x (1).jpg', 'x.jpg']


def test_second_dedupe_moves_nothing_again(tmp_path):
    "`bear_gather --from-folder SRC --dedupe` run twice: the near duplicate quarantined the first time is not copied in and quarantined again"
    from PIL import Image
    from bear_lib.gather import import_folder
    from bear_lib.gather.dedupe import dedupe
    from bear_lib.core import copy_photos
    src = copy_photos([f for c in ('black', 'grizzly') for f in sorted((sample_bears() / c).iterdir())[:2]], tmp_path / 'src')
    im = Image.open(sorted((src / 'black').iterdir())[0]); im.resize((im.width // 2, im.height // 2)).save(src / 'black' / 'small.jpg', quality=70)
    for i in range(2):
        import_folder(src, tmp_path / 'ds')
        moved = [m for g in dedupe(tmp_path / 'ds', dry_run=False) for m in g['moved']]
        assert len(moved) == (1 - i), (i, moved)  # the first run quarantines the smaller copy; the second finds nothing to do
    assert len(list((tmp_path / 'ds' / '_quarantine' / 'black').iterdir())) == 1 and len(list((tmp_path / 'ds' / 'black').iterdir())) == 2
