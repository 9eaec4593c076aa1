"Search backends with ddgs replaced by recorded result lists (no network), end to end through gather and the CLI"
import functools, http.server, json, logging, os, subprocess, sys, threading
from pathlib import Path
import pytest
from PIL import Image
import ddgs.ddgs  # the real class: `ddgs.DDGS` is a lazy proxy until first use
from ddgs.exceptions import DDGSException, RatelimitException, TimeoutException
from bear_lib.gather import DDGSSource, SearchError, gather, search_images
from bear_lib.core import class_folders, copy_photos, sample_bears
from bear_lib.ledger import read_jsonl

BIN = Path(sys.executable).parent


def recorded(n, base='http://127.0.0.1:9/'):
    "A result list as ddgs returns it"
    return [dict(title=f'Grizzly {i}', image=f'{base}g{i}.jpg', thumbnail=f'https://tse.example/th{i}', url=f'https://example.org/p{i}',
                 height=480 + i, width=640, source='Bing') for i in range(n)]


class Fake:
    "Stands in for DDGS.images: raises the queued errors first, then returns the recorded results"
    def __init__(self, results, errors=()):
        self.results, self.errors, self.calls = results, list(errors), []

    def __get__(self, obj, cls):  # bind like a method
        return lambda query, **kw: self(obj, query, **kw)

    def __call__(self, ddgs_self, query, **kw):
        self.calls.append((query, kw))
        if self.errors: raise self.errors.pop(0)
        return self.results(query) if callable(self.results) else self.results


class Records(logging.Handler):
    "Keeps the records it handles (caplog can't see the `bear_lib` logger once a command has configured it)"
    def __init__(self): super().__init__(logging.DEBUG); self.records = []
    def emit(self, record): self.records.append(record)


def test_ratelimit_then_success(monkeypatch, tmp_path, capsys):
    fake = Fake(recorded(3), [RatelimitException('https://duckduckgo.com/ 202 Ratelimit'), TimeoutException('timed out')])
    monkeypatch.setattr(ddgs.ddgs.DDGS, 'images', fake)
    waits, log = [], Records()
    logging.getLogger('bear_lib.gather.search').addHandler(log)
    src = DDGSSource(sleep=waits.append, wait=1.5, type_image='photo')
    try: res = search_images('grizzly bear', 3, source=src, cache=tmp_path)
    finally: logging.getLogger('bear_lib.gather.search').removeHandler(log)
    assert waits == [1.5, 3.0]  # exponential backoff
    said = [(r.levelname, r.getMessage()) for r in log.records]
    assert [lvl for lvl,_ in said] == ['WARNING', 'WARNING'], said
    assert 'waiting 1.5 s before try 2 of 4' in said[0][1] and 'waiting 3 s before try 3 of 4' in said[1][1]
    assert capsys.readouterr().out == ''  # the library prints nothing: the retries are log lines
    assert [r['title'] for r in res] == ['Grizzly 0', 'Grizzly 1', 'Grizzly 2']
    assert set(res[0]) >= {'image', 'title', 'url', 'source', 'width', 'height'}
    q, kw = fake.calls[-1]
    assert q == 'grizzly bear' and kw['max_results'] == 3 and kw['type_image'] == 'photo' and 'size' not in kw
    # cached as JSON per query: a re-run doesn't search again unless asked to
    (fn,) = tmp_path.glob('*.json')
    assert fn.name.startswith('grizzly_bear-') and json.loads(fn.read_text())['results'] == list(res)
    assert search_images('grizzly bear', 3, source=src, cache=tmp_path) == res and len(fake.calls) == 3
    search_images('grizzly bear', 3, source=src, cache=tmp_path, refresh=True)
    assert len(fake.calls) == 4
    search_images('black bear', 3, source=src, cache=tmp_path)  # another query is another file
    assert len(fake.calls) == 5 and len(list(tmp_path.glob('*.json'))) == 2


class FakeDDGS:
    "A stand-in for the `ddgs.DDGS` client: `images` raises the queued errors first, then returns `results`"
    def __init__(self, results=(), errors=()): self.results, self.errors, self.calls, self.timeouts = list(results), list(errors), [], []
    def __call__(self, timeout): self.timeouts.append(timeout); return self  # DDGSSource makes a client per try
    def images(self, query, **kw):
        self.calls.append((query, kw))
        if self.errors: raise self.errors.pop(0)
        return self.results


def test_gives_up_with_advice():
    waits = []
    with pytest.raises(SearchError, match='unreachable: failed 3 times.*--from-folder'):
        search_images('grizzly bear', source=DDGSSource(retries=3, sleep=waits.append, wait=2, ddgs=FakeDDGS(errors=[RatelimitException('202')] * 5)))
    assert waits == [2, 4]
    fake = FakeDDGS([], [DDGSException('No results found.')])
    with pytest.raises(SearchError, match="found nothing: try another term") as e: search_images('qwzx bear', source=DDGSSource(sleep=waits.append, ddgs=fake))
    assert 'unreachable' not in str(e.value) and waits == [2, 4] and len(fake.calls) == 1  # nothing found is not retried
    with pytest.raises(SearchError, match='found nothing'): search_images('qwzx bear', source=DDGSSource(ddgs=FakeDDGS([])))


def test_what_ddgs_raises():
    """ddgs 9.16.1 turns a rate-limited or unreachable engine into a plain DDGSException carrying the engine's error (or a
    TimeoutException): both are retried with backoff, unlike "No results found." """
    waits = []
    errors = [DDGSException("https://duckduckgo.com/i.js?q=grizzly 403 Forbidden"), TimeoutException('https://duckduckgo.com/ timed out'),
              DDGSException("Ratelimit")]
    fake = FakeDDGS(recorded(2), errors)
    res = search_images('grizzly bear', 2, source=DDGSSource(sleep=waits.append, wait=1, ddgs=fake, timeout=7))
    assert waits == [1, 2, 4] and len(res) == 2 and fake.timeouts == [7] * 4
    fake = FakeDDGS([], [DDGSException('boom')] * 4)
    with pytest.raises(SearchError, match=r"unreachable: failed 4 times \(DDGSException: boom\)"):
        search_images('grizzly bear', source=DDGSSource(sleep=waits.append, ddgs=fake))


def test_real_client_class_errors(monkeypatch):
    "Without a `ddgs` argument the real `ddgs.DDGS` class is used: its DDGSException from a blocked page is retried"
    monkeypatch.setattr(ddgs.ddgs.DDGS, 'images', Fake(recorded(1), [DDGSException('https://duckduckgo.com/ 202 Ratelimit')]))
    waits = []
    assert len(search_images('grizzly bear', 1, source=DDGSSource(sleep=waits.append, wait=3))) == 1 and waits == [3]


@pytest.fixture
def photo_server(tmp_path):
    "Serves 4 black and 4 grizzly bear photos over loopback: /black/..., /grizzly/..."
    web = copy_photos([f for c in ('black', 'grizzly') for f in sorted((sample_bears() / c).iterdir())[:4]], tmp_path / 'web')
    class Q(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a): pass
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Q, directory=str(web)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{srv.server_port}/', web
    srv.shutdown(); srv.server_close()


def test_gather_with_ddgs(monkeypatch, tmp_path, photo_server):
    base, web = photo_server
    def results(q):
        c = q.split()[0]
        return [dict(image=base + f'{c}/{f.name}', title=f.name, url='https://example.org', source='Bing', width=320, height=240)
                for f in sorted((web / c).iterdir())] + [dict(image=base + 'missing.jpg', title='gone')]
    fake = Fake(results)
    monkeypatch.setattr(ddgs.ddgs.DDGS, 'images', fake)
    dest = tmp_path / 'bears'
    rows = gather(['grizzly bear', 'black bear'], dest, max_images=5, timeout=2, deadline=5, allow_private=True)
    assert sorted(r['status'] for r in rows) == ['http_error'] * 2 + ['ok'] * 8
    assert class_folders(dest).attrgot('name') == ['black', 'grizzly']
    assert {r['query'] for r in read_jsonl(dest / 'manifest.jsonl')} == {'grizzly bear', 'black bear'}
    assert len(list((dest / '_search').glob('*.json'))) == 2
    # a re-run neither searches nor downloads
    rows = gather(['grizzly bear', 'black bear'], dest, max_images=5, allow_private=True)
    assert len(fake.calls) == 2 and {r['status'] for r in rows} == {'skipped'}


def run_cli(*args, cwd):
    env = {**os.environ, 'PYTHONPATH': str(Path(__file__).resolve().parents[1])}
    return subprocess.run([str(BIN / 'bear_gather'), *map(str, args)], cwd=cwd, capture_output=True, text=True, env=env, timeout=120)


def test_cli_sources(tmp_path, photo_server):
    base, web = photo_server
    # a file of `label url` lines
    (tmp_path / 'urls.txt').write_text('# my list\n' + ''.join(f'{c} {base}{c}/{f.name}\n' for c in ('black', 'grizzly')
                                                              for f in sorted((web / c).iterdir())))
    p = run_cli('--urls', 'urls.txt', '--dest', 'ds', '--max-side', 100, cwd=tmp_path)
    assert '8 URLs: blocked 8' in p.stdout, p.stdout  # a URL list can't reach this machine's (loopback) servers
    assert p.returncode == 1 and 'No photo gathered' in p.stderr, p.stderr  # nothing usable: a script can tell
    assert class_folders(tmp_path / 'ds').attrgot('name') == ['black', 'grizzly']
    assert not list((tmp_path / 'ds').rglob('*.jpg'))
    # a plain list needs its class name, and a class name can't be a path
    (tmp_path / 'plain.txt').write_text(''.join(f'{base}black/{f.name}\n' for f in sorted((web / 'black').iterdir())))
    p = run_cli('--urls', 'plain.txt', '--dest', 'ds2', cwd=tmp_path)
    assert p.returncode != 0 and '--labels' in p.stderr
    for bad in ('../../escaped', str(tmp_path / 'abs')):
        p = run_cli('--urls', 'plain.txt', '--dest', 'ds2', '--labels', bad, cwd=tmp_path)
        assert p.returncode != 0 and "can't be a class name" in p.stderr, (p.stdout, p.stderr)
    (tmp_path / 'evil.txt').write_text(f'../../escaped {base}black/x.jpg\n')
    p = run_cli('--urls', 'evil.txt', '--dest', 'ds2', cwd=tmp_path)
    assert p.returncode != 0 and "evil.txt:1: '../../escaped' can't be a class name" in p.stderr, p.stderr
    assert not (tmp_path / 'ds2').exists() and not (tmp_path.parent / 'escaped').exists() and not (tmp_path / 'abs').exists()
    # a folder with a copy (caught while gathering) and a smaller re-compressed copy (reported, then moved with --dedupe)
    first = sorted((web / 'grizzly').iterdir())[0]
    (web / 'grizzly' / 'again.jpg').write_bytes(first.read_bytes())
    with Image.open(first) as im: im.resize((im.width * 3 // 4, im.height * 3 // 4)).save(web / 'grizzly' / 'smaller.jpg', quality=70)
    p = run_cli('--from-folder', web, '--dest', 'ds3', cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert '10 URLs: ok 9, duplicate 1' in p.stdout and '1 copy within a class to be moved to _quarantine' in p.stdout, p.stdout
    assert len(list((tmp_path / 'ds3' / 'grizzly').iterdir())) == 5
    p = run_cli('--from-folder', web, '--dest', 'ds3', '--dedupe', cwd=tmp_path)
    assert '10 URLs: skipped 10' in p.stdout and '1 copy within a class moved to _quarantine' in p.stdout, p.stdout
    assert len(list((tmp_path / 'ds3' / 'grizzly').iterdir())) == 4
    assert [f.name.split('_')[0] for f in (tmp_path / 'ds3' / '_quarantine' / 'grizzly').iterdir()] == ['smaller']
    # errors say what to do
    p = run_cli('--from-folder', tmp_path / 'nowhere', cwd=tmp_path)
    assert p.returncode != 0 and 'class folders' in p.stderr
    p = run_cli(cwd=tmp_path)
    assert p.returncode != 0 and '--from-folder' in p.stderr
