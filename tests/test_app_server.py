"""`bear_app` as a visitor or an attacker on the network meets it, without a browser: the token off loopback, the Host check,
`--clean` kept to loopback, the kernel cap's "busy" page, a websocket `execute_request` refused, and a service manager's SIGTERM;
and the token's URL in Chromium (the same app as the token's check without a browser)."""
import json, os, re, signal, socket, subprocess, time, urllib.error, urllib.request, uuid
import pytest
from bear_lib.testing import BIN, free_port, start_app, stop_app, log_tail, live_kernels, wait_kernels, classify

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs): return None

def get(url, headers=None, timeout=120):
    "(status, body) of a GET that follows no redirect"
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.build_opener(_NoRedirect).open(req, timeout=timeout) as r: return r.status, r.read().decode()
    except urllib.error.HTTPError as e: return e.code, e.read().decode(errors='replace')

def _lan_ip() -> str:
    "An address of this machine other than loopback, to reach a server on 0.0.0.0 as another machine would"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try: s.connect(('10.255.255.255', 1)); ip = s.getsockname()[0]  # UDP connect sends nothing
        except OSError: ip = '127.0.0.1'
    return ip

@pytest.fixture(scope='module')
def lan_app(tmp_path_factory):
    "One `bear_app --ip 0.0.0.0 --pool 0` for the token's two tests: (process, URL)"
    p, url = start_app('--ip', '0.0.0.0', '--pool', 0, cwd=tmp_path_factory.mktemp('lan'))
    try: yield p, url
    finally: stop_app(p)

def test_token_off_loopback(lan_app):
    "On 0.0.0.0 the app needs the token printed in its URL; without it a visitor gets the login page, not the app"
    p, url = lan_app
    shown = re.findall(r'http://\S+', log_tail(p))
    tok = [u for u in shown if 'token=' in u]
    assert tok, log_tail(p)
    token = tok[0].split('token=')[1]
    assert len(token) >= 32, token
    port = url.rsplit(':', 1)[1].strip('/')
    st, body = get(f'http://{_lan_ip()}:{port}/')
    assert st in (302, 403) and 'bear-classify' not in body and 'BearApp' not in body, (st, body[:300])
    st, body = get(f'http://{_lan_ip()}:{port}/?token=wrong{token}')
    assert st in (302, 403), st
    st, body = get(f'http://{_lan_ip()}:{port}/?token={token}')
    assert st == 200 and 'kernelId' in body, (st, body[:300])
    assert token not in ' '.join(psutil_cmdlines(p.pid)), 'the token is on a command line, for every local user to read'

def test_token_in_browser(lan_app, browser, bears):
    "Served on 0.0.0.0, the URL bear_app prints (with its token) gives a working app; the bare URL gives the login page"
    p, url = lan_app
    token = re.search(r'\?token=(\w+)', log_tail(p))[1]
    pg = browser.new_page()
    try:
        pg.goto(url)
        assert 'bear-classify' not in pg.content() and 'login' in pg.url, pg.url
        pg.goto(f'{url}?token={token}')
        pg.wait_for_selector('button.widget-upload', timeout=120_000)
        r, = classify(pg, bears/'grizzly'/'grizzly_0005.jpg')  # the widgets' websocket is let in too
        assert 'Prediction: grizzly' in r, r
    finally: pg.close()

def psutil_cmdlines(pid) -> list:
    import psutil
    out = []
    for q in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        try: out.append(' '.join(q.cmdline()))
        except psutil.Error: pass
    return out

def test_no_token_is_explicit(tmp_path):
    "`--no-token` serves 0.0.0.0 without a token, because the user said so"
    p, url = start_app('--ip', '0.0.0.0', '--no-token', '--pool', 0, cwd=tmp_path)
    try:
        assert 'token=' not in log_tail(p) and 'without a token' in log_tail(p), log_tail(p)
        st, _ = get(url)
        assert st == 200
    finally: stop_app(p)

def test_clean_refuses_non_loopback(tmp_path, bears):
    "--clean moves files: it is served on loopback only, whatever the token"
    (tmp_path/'m.pkl').write_bytes(b'not read')
    for extra in [[], ['--no-token']]:
        r = subprocess.run([str(BIN/'bear_app'), '--clean', str(bears), '--model', str(tmp_path/'m.pkl'), '--ip', '0.0.0.0', *extra,
                            '--port', str(free_port())], capture_output=True, text=True, timeout=60)
        assert r.returncode != 0 and 'loopback' in r.stderr and '0.0.0.0' in r.stderr, (r.stdout, r.stderr)

@pytest.fixture(scope='module')
def loopback_app(tmp_path_factory):
    "One `bear_app --pool 0` on loopback for the Host check and the websocket's `execute_request`: its URL"
    p, url = start_app('--pool', 0, cwd=tmp_path_factory.mktemp('loopback'))
    try: yield url
    finally: stop_app(p)

def test_host_check(loopback_app):
    "On loopback, a request naming another host (DNS rebinding: a web page's script reaching this server by its own name) is refused"
    url = loopback_app
    st, body = get(url, headers={'Host': 'evil.example.com'})
    assert st == 403 and 'kernelId' not in body, (st, body[:300])
    st, body = get(url, headers={'Host': f'localhost:{url.rsplit(":", 1)[1].strip("/")}'})
    assert st == 200 and 'kernelId' in body, st

def test_kernel_cap(tmp_path):
    "With a cap of 2 kernels (pre-heated ones included), the page beyond gets a clear 'busy' page; once a kernel goes, pages work again"
    p, url = start_app('--pool', 1, '--max-kernels', 2, cwd=tmp_path)  # its first page (start_app's check) holds one kernel
    try:
        wait_kernels(p.pid, 2, 120)  # that page's and the refilled pool's
        st, body = get(url, timeout=300)  # takes the pre-heated kernel; the pool can't refill: that would be a third
        assert st == 200 and 'kernelId' in body, (st, body[:500])
        kid = re.search(r'"kernelId": "([0-9a-f-]+)"', body)[1]
        time.sleep(4)  # Voilà tries to refill its pool a second after a page takes a kernel
        assert live_kernels(p.pid) == 2
        st, body = get(url, timeout=120)
        assert st == 503 and 'Busy' in body and 'try again in a minute' in body, (st, body[:500])
        assert 'Traceback' not in body and live_kernels(p.pid) == 2
        xsrf = uuid.uuid4().hex  # tornado's double-submit check: the same token in a cookie and a header, as a page sends it
        req = urllib.request.Request(url + f'voila/api/shutdown/{kid}', method='POST', data=b'',
                                     headers={'X-XSRFToken': xsrf, 'Cookie': f'_xsrf={xsrf}'})
        urllib.request.urlopen(req, timeout=60)  # the page is closed: Voilà shuts its kernel down, as on the page's beforeunload...
        time.sleep(2)
        wait_kernels(p.pid, 2, 120)  # ...and the pool is refilled
        st, body = get(url, timeout=300)
        assert st == 200 and 'kernelId' in body, (st, body[:500])
    except BaseException:
        print(log_tail(p)); raise
    finally: stop_app(p)

def _msg(msg_type, content, session):
    return {'header': {'msg_id': uuid.uuid4().hex, 'msg_type': msg_type, 'username': 'visitor', 'session': session,
                       'date': '2026-01-01T00:00:00Z', 'version': '5.3'},
            'parent_header': {}, 'metadata': {}, 'content': content, 'channel': 'shell', 'buffers': []}

def test_execute_request_refused(loopback_app, tmp_path):
    "A visitor's websocket sends execute_request to its page's kernel: the code must not run"
    from websockets.sync.client import connect
    url = loopback_app
    st, body = get(url, timeout=300)
    kid = re.search(r'"kernelId": "([0-9a-f-]+)"', body)[1]
    flag = tmp_path/'pwned'
    session = uuid.uuid4().hex
    with connect(url.replace('http', 'ws') + f'api/kernels/{kid}/channels?session_id={session}', open_timeout=60,
                 max_size=None) as ws:
        ex = _msg('execute_request', {'code': f'open({str(flag)!r}, "w").write("x")', 'silent': False, 'store_history': False,
                                      'user_expressions': {}, 'allow_stdin': False, 'stop_on_error': True}, session)
        info = _msg('kernel_info_request', {}, session)
        ws.send(json.dumps(ex)); ws.send(json.dumps(info))
        t = time.time()
        while time.time() - t < 60:  # the kernel handles shell messages in order: the execute first, if it got through
            m = json.loads(ws.recv(timeout=60))
            if m['parent_header'].get('msg_id') == info['header']['msg_id'] and m['msg_type'] == 'kernel_info_reply': break
        else: raise AssertionError('no kernel_info_reply: the test could not reach the kernel')
        time.sleep(1)
    assert not flag.exists(), 'the visitor ran code in the kernel'

@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGINT])
def test_stop_stops_voila_and_kernels(tmp_path, sig):
    "A service manager signals bear_app's pid only (not its group): Voilà and its kernels stop, the port is free again"
    import psutil
    p, url = start_app('--pool', 1, cwd=tmp_path)
    try:
        t = time.time()
        while live_kernels(p.pid) < 2 and time.time() - t < 120: time.sleep(1)  # start_app's page's kernel and the pool's
        assert live_kernels(p.pid) == 2
        kids = psutil.Process(p.pid).children(recursive=True)
        assert any('voila' in ' '.join(k.cmdline()) for k in kids)
        os.kill(p.pid, sig)
        p.wait(60)
        gone, alive = psutil.wait_procs(kids, timeout=60)
        assert not alive, [' '.join(a.cmdline())[:200] for a in alive]
        port = int(url.rsplit(':', 1)[1].strip('/'))
        with socket.socket() as s: s.bind(('127.0.0.1', port))  # free: nothing listens there any more
    finally:
        stop_app(p)
        for k in (kids if 'kids' in locals() else []):
            try: k.kill()
            except psutil.Error: pass
