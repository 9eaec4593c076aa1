"The service's operations side: /metrics in Prometheus' text format, request ids in headers and log lines, --log-level."
import logging, re
from pathlib import Path
import pytest
from bear_lib.testing import bear_photos, start_serve, stop_app


def _hopper() -> Path:
    "Grace Hopper's portrait, which matplotlib ships: a photo that is not a bear"
    import matplotlib.cbook
    return Path(matplotlib.cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))


def _samples(text:str) -> dict:
    "{(sample name, sorted labels): value} of a Prometheus text page"
    from prometheus_client.parser import text_string_to_metric_families
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in text_string_to_metric_families(text) for s in f.samples}


class Records(logging.Handler):
    "Keeps each record it handles, after the request-id filter has run on it"
    def __init__(self):
        from bear_lib.serve import RequestIdFilter
        super().__init__(logging.DEBUG); self.records = []; self.addFilter(RequestIdFilter())
    def emit(self, record): self.records.append(record)


@pytest.fixture(scope='module')
def model():
    from bear_lib.bundle import load_model
    return load_model(None, 'onnx')


def test_metrics_count_requests_answers_and_refusals(bears, model, tmp_path):
    "A few sample bears, Grace Hopper and a file that isn't a photo: /metrics counts each by status, class or refusal, and times them"
    from fastapi.testclient import TestClient
    from bear_lib.serve import create_app
    from bear_lib.infer import answer
    from bear_lib.images import load_image
    photos = [*bear_photos(bears, 6), _hopper()]
    want = [answer(model, [load_image(f.read_bytes())])[0] for f in photos]  # what the service must say, found in this process
    assert not want[-1].sure and want[-1].code == 'none_of_these', want[-1]
    log = logging.getLogger('bear_lib')
    rec, old_level = Records(), log.level
    log.addHandler(rec); log.setLevel(logging.DEBUG)
    try:
        with TestClient(create_app(model, tmp_path/'log.db')) as client:
            rs = [client.post('/predict', files={'file': (f.name, f.read_bytes(), 'image/jpeg')}) for f in photos]
            bad = client.post('/predict', content=b'not a photo at all', headers={'content-type': 'image/jpeg'})
            client.get('/health')
            page = client.get('/metrics')
    finally: log.removeHandler(rec); log.setLevel(old_level)
    assert [r.status_code for r in rs] == [200] * len(photos) and bad.status_code == 422
    assert [r.json()['answer'] for r in rs] == [a.word for a in want]
    assert page.status_code == 200 and page.headers['content-type'].startswith('text/plain')
    got = _samples(page.text)
    req = lambda m, p, s: got.get(('bear_requests_total', (('method', m), ('path', p), ('status', s))))
    assert (req('POST', '/predict', '200'), req('POST', '/predict', '422'), req('GET', '/health', '200')) == (len(photos), 1, 1)
    # the latency histogram: cumulative buckets, +Inf equal to the count, a sum of real time
    lat = {dict(k[1])['le']: v for k,v in got.items() if k[0] == 'bear_request_duration_seconds_bucket' and ('path', '/predict') in k[1]}
    assert len(lat) > 5 and lat['+Inf'] == len(photos) + 1 == got[('bear_request_duration_seconds_count', (('method', 'POST'), ('path', '/predict')))]
    les = sorted((float(k), v) for k,v in lat.items())
    assert all(a[1] <= b[1] for a,b in zip(les, les[1:]))
    assert got[('bear_request_duration_seconds_sum', (('method', 'POST'), ('path', '/predict')))] > 0
    # answers by class and refusals, each as often as this process answered it
    for c in ['black', 'grizzly', 'teddy']:
        assert got[('bear_answers_total', (('label', c),))] == sum(a.label == c for a in want), c
    for c in ['not_sure', 'none_of_these']:
        assert got[('bear_refusals_total', (('reason', c),))] == sum(a.code == c for a in want), c
    assert got[('bear_refusals_total', (('reason', 'none_of_these'),))] >= 1
    # every request has its own id, in its response and on its log line
    ids = [r.headers['x-request-id'] for r in [*rs, bad]]
    assert len(set(ids)) == len(ids) and all(re.fullmatch('[0-9a-f]{32}', i) for i in ids)
    lines = {r.request_id for r in rec.records if r.name == 'bear_lib.serve' and 'POST /predict ->' in r.getMessage()}
    assert lines == set(ids)


def test_apps_count_apart(bears, model, tmp_path):
    "Two apps in one process have registries of their own: one's requests don't show in the other's /metrics"
    from fastapi.testclient import TestClient
    from bear_lib.serve import create_app
    photo = bear_photos(bears, 1)[0].read_bytes()
    with TestClient(create_app(model, tmp_path/'a.db')) as a, TestClient(create_app(model, tmp_path/'b.db')) as b:
        for _ in range(3): assert a.post('/predict', content=photo, headers={'content-type': 'image/jpeg'}).status_code == 200
        ga, gb = _samples(a.get('/metrics').text), _samples(b.get('/metrics').text)
    key = ('bear_requests_total', (('method', 'POST'), ('path', '/predict'), ('status', '200')))
    assert ga[key] == 3 and key not in gb
    assert sum(v for (n,_),v in gb.items() if n in ('bear_answers_total', 'bear_refusals_total')) == 0


def test_client_request_id_kept(model, tmp_path):
    "A plain X-Request-ID from the client (a proxy's) comes back as sent; one that could forge log lines is replaced"
    from fastapi.testclient import TestClient
    from bear_lib.serve import create_app
    with TestClient(create_app(model, tmp_path/'log.db')) as client:
        assert client.get('/health', headers={'x-request-id': 'lb-7f3a.1'}).headers['x-request-id'] == 'lb-7f3a.1'
        new = client.get('/health', headers={'x-request-id': 'x\n2026-01-01 INFO forged'}).headers['x-request-id']
    assert re.fullmatch('[0-9a-f]{32}', new)


def test_bear_serve_log_lines_carry_request_ids(tmp_path):
    "`bear_serve --log-level debug`: uvicorn's access line and bear_lib's lines carry the id the response's X-Request-ID names; /metrics is served"
    import httpx
    p, url = start_serve('--backend', 'onnx', '--log', tmp_path/'log.db', '--log-level', 'debug', cwd=tmp_path)
    try:
        r = httpx.get(f'{url}/health', headers={'x-request-id': 'probe-1'}, timeout=60)
        m = httpx.get(f'{url}/metrics', timeout=60)
    finally: stop_app(p)
    assert r.headers['x-request-id'] == 'probe-1'
    assert m.status_code == 200 and 'bear_request_duration_seconds_bucket' in m.text
    lines = [l for l in Path(p.log).read_text().splitlines() if '[probe-1]' in l]
    assert any('uvicorn.access' in l and 'GET /health' in l for l in lines), lines
    assert any('bear_lib.serve' in l and 'DEBUG' in l and 'GET /health -> 200' in l for l in lines), lines
    assert re.search(r'INFO bear_lib\.serve \[-\] Worker \d+ serving', Path(p.log).read_text())  # outside a request: '-'
