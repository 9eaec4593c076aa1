"The JSON service as a client sees it: `bear_serve` in its own processes (two uvicorn workers), over a socket."
import hashlib, json, socket, subprocess, sys, time
from pathlib import Path
import pytest
from bear_lib.testing import start_serve, stop_app, odd_images, serve_cmd, bear_photos, workers_of, post_many, check_logged_once

MAX_MIB, MAX_FILES = 2, 16

@pytest.fixture(scope='module')
def server(tmp_path_factory):
    "`bear_serve` with two workers, a SQLite log and a 2 MiB limit; yields (URL, log path, process)"
    d = tmp_path_factory.mktemp('serve')
    p, url = start_serve('--workers', 2, '--backend', 'onnx', '--log', d/'log.db', '--photos', d/'photos', '--max-mib', MAX_MIB, '--max-files', MAX_FILES, cwd=d)
    yield url, d/'log.db', p
    stop_app(p)

@pytest.fixture(scope='module')
def model():
    from bear_lib.bundle import load_model
    return load_model()

def test_import_loads_no_model_library():
    "Importing the service (as uvicorn does in each worker) imports neither torch nor fastai: the model is loaded at startup"
    code = "import sys, bear_lib.serve; print(sorted(m for m in ('torch', 'fastai', 'torchvision') if m in sys.modules))"
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == '[]'

def test_binds_to_loopback_by_default(server):
    import psutil
    _, _, p = server
    addrs = {c.laddr for w in [psutil.Process(p.pid), *workers_of(p)] for c in w.net_connections('tcp') if c.status == 'LISTEN'}
    assert addrs and {a.ip for a in addrs} == {'127.0.0.1'}, addrs
    assert len(workers_of(p)) == 2

def test_health_model_docs(server):
    import httpx
    url = server[0]
    h = httpx.get(f'{url}/health').json()
    assert h['status'] == 'ok' and h['model'].startswith('ImageNet MobileNetV2')
    card = httpx.get(f'{url}/model').json()
    assert card['vocab'] == ['black', 'grizzly', 'teddy'] and card['runtime'] == 'ONNX Runtime'  # --backend onnx
    assert httpx.get(f'{url}/docs').status_code == 200
    spec = httpx.get(f'{url}/openapi.json').json()
    assert {'/predict', '/predict/batch', '/health', '/model'} <= set(spec['paths'])
    assert set(spec['paths']['/predict']['post']['requestBody']['content']) == {'multipart/form-data', 'image/*', 'application/octet-stream'}

def _raw(port, head:bytes, parts, timeout=20):
    "Send `head` and the byte strings `parts` on one connection, then return (status, JSON body) of the response"
    with socket.create_connection(('127.0.0.1', port), timeout=timeout) as s:
        s.sendall(head)
        for b in parts:
            try: s.sendall(b)
            except (BrokenPipeError, ConnectionResetError): break
        data = b''
        t = time.time()
        while time.time() - t < timeout:
            try: chunk = s.recv(65536)
            except (ConnectionResetError, TimeoutError): break
            if not chunk: break
            data += chunk
            head_end = data.find(b'\r\n\r\n')
            if head_end > 0:
                hdrs = dict(l.split(b': ', 1) for l in data[:head_end].split(b'\r\n')[1:])
                n = int(hdrs.get(b'content-length', b'-1'))
                if len(data) - head_end - 4 >= n >= 0: break
    assert data, 'no response before the timeout: the server was still reading the body'
    status = int(data.split(b' ', 2)[1])
    return status, json.loads(data.split(b'\r\n\r\n', 1)[1])

def _bad_requests(bears):
    "(what, request function, expected status, words the answer must contain)"
    import httpx
    good = bear_photos(bears, 1)[0].read_bytes()
    def post(path='/predict', **kw): return lambda url: httpx.post(url + path, timeout=60, **kw)
    def raw(head, parts): return lambda url: _raw(int(url.rsplit(':', 1)[1]), head, parts)
    big = MAX_MIB * 2**20
    chunked = lambda n: b''.join(b'%x\r\n%s\r\n' % (len(c), c) for c in [b'\xff' * 2**16] * n)
    return [
        ('not an image', post(content=b'Just some text.\n' * 10, headers={'content-type': 'image/jpeg'}), 422, 'not an image'),
        ('truncated jpeg', post(content=good[:len(good)//2], headers={'content-type': 'image/jpeg'}), 422, 'cut short'),
        ('empty body', post(content=b'', headers={'content-type': 'image/jpeg'}), 400, 'empty'),
        ('empty file', post(files={'file': ('a.jpg', b'')}), 400, 'empty'),
        ('wrong content type', post(content=good, headers={'content-type': 'text/plain'}), 415, 'multipart/form-data'),
        ('form-urlencoded (curl --data-binary default)', post(content=good, headers={'content-type': 'application/x-www-form-urlencoded'}), 415, 'Content-Type: image/jpeg'),
        ('no content type', post(content=good), 415, 'multipart/form-data'),
        ('malformed multipart', post(content=b'--xyz\r\nnonsense without headers', headers={'content-type': 'multipart/form-data; boundary=xyz'}), 400, "can't be read"),
        ('multipart without boundary', post(content=b'abc', headers={'content-type': 'multipart/form-data'}), 400, 'boundary'),
        ('form without a file', post(content=b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\nnot a file\r\n--b--\r\n',
                                     headers={'content-type': 'multipart/form-data; boundary=b'}), 400, 'no file'),
        ('two files to /predict', post(files=[('file', ('a.jpg', good)), ('file', ('b.jpg', good))]), 413, '/predict/batch'),
        ('too many files', post('/predict/batch', files=[('files', (f'{i}.jpg', good)) for i in range(MAX_FILES + 1)]), 413, f'At most {MAX_FILES}'),
        # the attacker's uploads: a huge body must be refused before it is all sent
        ('Content-Length over the limit', raw(b'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n' % (100 * big), [b'\xff' * 2**16]), 413, f'{MAX_MIB} MiB'),
        ('chunked body over the limit', raw(b'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\n\r\n', [chunked(big // 2**16 + 2)]), 413, 'larger than'),
        ('chunked multipart over the limit', raw(b'POST /predict/batch HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\nTransfer-Encoding: chunked\r\n\r\n',
            [b'%x\r\n%s\r\n' % (75, b'--b\r\nContent-Disposition: form-data; name="files"; filename="a.jpg"\r\n\r\n'.ljust(75)), chunked(big // 2**16 + 2)]), 413, 'larger than'),
        ('GET /predict', lambda url: httpx.get(url + '/predict'), 405, 'Method Not Allowed'),
    ]

def test_bad_requests_then_good(server, bears):
    "Each bad request gets a 4xx JSON answer that says what to do, and the next good request is answered"
    import httpx
    url = server[0]
    good = bear_photos(bears, 1)[0].read_bytes()
    failures = []
    for what, send, status, words in _bad_requests(bears):
        t = time.time()
        r = send(url)
        got, body = r if isinstance(r, tuple) else (r.status_code, r.json())
        if got != status or words not in body.get('detail', ''): failures.append((what, got, body))
        assert time.time() - t < 20, what
        ok = httpx.post(f'{url}/predict', files={'file': ('bear.jpg', good)}, timeout=60)
        assert ok.status_code == 200 and ok.json()['label'] == 'black', (what, ok.text)
    assert not failures, failures

def mixed_folder(bears, dest) -> list:
    "Bears, other packages' pictures (not bears), odd formats and broken files"
    from PIL import Image
    import skimage.data
    dest.mkdir()
    out = bear_photos(bears, 6)
    for name in ['astronaut', 'coffee', 'chelsea', 'rocket', 'camera']:
        Image.fromarray(getattr(skimage.data, name)()).save(dest/f'{name}.jpg', quality=90); out.append(dest/f'{name}.jpg')
    return out + list(odd_images(out[0], dest/'odd').values())

def test_answers_equal_answer(server, bears, model, tmp_path):
    "On a mixed folder the service says what `answer` says in this process; a broken file gets `load_image`'s reason"
    import httpx
    from bear_lib.infer import answer
    from bear_lib.images import load_image, BadImage
    url = server[0]
    files = mixed_folder(bears, tmp_path/'mixed')
    want = []
    for f in files:
        try: want.append(answer(model, [load_image(f.read_bytes())])[0])
        except BadImage as e: want.append(str(e))
    assert sum(isinstance(w, str) for w in want) == 3 and sum(getattr(w, 'label', 1) is None for w in want) >= 4  # broken, and not answered
    def same(got, w):
        assert (got['label'], got['best'], got['text'], got['seen_as']) == (w.label, w.best, w.text, w.seen_as)
        assert got['probs'].keys() == w.probs.keys() and all(abs(got['probs'][k] - w.probs[k]) < 1e-5 for k in w.probs)
    for f, w in zip(files, want):
        r = httpx.post(f'{url}/predict', files={'file': (f.name, f.read_bytes())}, timeout=60)
        if isinstance(w, str): assert (r.status_code, r.json()['detail']) == (422, f'{f.name}: {w}'), f
        else: assert r.status_code == 200, (f, r.text); same(r.json(), w)
    some = list(range(3, len(files)))  # within the file limit, and with every odd and broken file
    assert len(some) <= MAX_FILES
    batch = httpx.post(f'{url}/predict/batch', files=[('files', (files[i].name, files[i].read_bytes())) for i in some], timeout=300)
    assert batch.status_code == 200, batch.text
    res = batch.json()['results']
    assert [x['file'] for x in res] == [files[i].name for i in some]
    for x, w in zip(res, [want[i] for i in some]):
        if isinstance(w, str): assert (x['error'], x['prediction']) == (f"{x['file']}: {w}", None)
        else: same(x['prediction'], w)

def test_concurrent_requests_logged_once(server, bears):
    "50 concurrent requests to two workers sharing a SQLite log: 50 answers, each in the log exactly once"
    from bear_lib.log import PredictionLog
    url, db, p = server
    log = PredictionLog(db)
    n_before = log.count()
    photos = [f.read_bytes() for f in bear_photos(bears, 50)]
    rs = post_many(f'{url}/predict', photos)
    assert [r.status_code for r in rs] == [200] * 50, [r.text for r in rs if r.status_code != 200][:3]
    assert [r.json()['sha256'] for r in rs] == [hashlib.sha256(b).hexdigest() for b in photos]
    check_logged_once(log, rs, n_before)
    assert len(workers_of(p)) == 2
    kept = log.frame().set_index('uid').loc[[r.json()['id'] for r in rs], 'photo']  # --photos: kept for review
    assert [hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in kept] == [r.json()['sha256'] for r in rs]
    assert all(Path(f).parent.parent == db.parent/'photos' for f in kept)
    log.close()

def test_unknown_backend_refused():
    r = subprocess.run([*serve_cmd(), '--backend', 'tensorflow'], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "Backend 'tensorflow' isn't known" in r.stderr

def test_missing_model_refused(tmp_path):
    r = subprocess.run([*serve_cmd(), '--model', tmp_path/'nope.pkl'], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and 'No model at' in r.stderr and 'bear_train' in r.stderr

def test_default_export_served_and_named(trained, tmp_path):
    "Without --model, `bear_serve` serves ./export.pkl when there is one (as its help says), and says which file it serves"
    import shutil, httpx
    for ext in ('.pkl', '.onnx', '.bank.npy', '.json'): shutil.copy(trained.with_suffix(ext), tmp_path/f'export{ext}')
    p, url = start_serve('--log', tmp_path/'log.db', cwd=tmp_path, env={'BEAR_MODEL': None})
    try:
        card = httpx.get(f'{url}/model', timeout=60).json()
        assert card['kind'] == 'trained' and card['name'] == 'Trained model export.pkl', card
        assert f"Serving model {(tmp_path/'export.pkl').resolve()}" in p.log.read_text()
    finally: stop_app(p)
    empty = tmp_path/'empty'; empty.mkdir()
    p, url = start_serve('--log', empty/'log.db', cwd=empty, env={'BEAR_MODEL': None})
    try:
        assert httpx.get(f'{url}/model', timeout=60).json()['kind'] == 'zero-shot'
        assert 'Serving the zero-shot ImageNet model' in p.log.read_text()
    finally: stop_app(p)
