"""The prediction log on a real PostgreSQL, as replicas share it: a throwaway cluster (Debian's `postgresql` package,
`initdb` and `pg_ctl` in a temporary folder on a free port), two `bear_serve` workers writing to it at once."""
import glob, os, pwd, shutil, subprocess, tempfile, threading
from pathlib import Path
import pytest
from bear_lib.testing import free_port, stop_app, start_serve, post_many, check_logged_once, bear_photos, workers_of

def pg_bin():
    "The folder of the PostgreSQL server programs (Debian keeps them out of PATH), or None"
    for d in sorted(glob.glob('/usr/lib/postgresql/*/bin'), key=lambda d: int(Path(d).parent.name), reverse=True):
        if (Path(d)/'initdb').exists() and (Path(d)/'pg_ctl').exists(): return Path(d)
    w = shutil.which('initdb')
    return Path(w).resolve().parent if w and shutil.which('pg_ctl') else None

@pytest.fixture(scope='module')
def postgres():
    "A PostgreSQL cluster of its own on 127.0.0.1; yields a function that makes a fresh database and returns its URL"
    bin = pg_bin()
    if bin is None: pytest.skip("PostgreSQL server programs (initdb, pg_ctl) not found: `apt-get install -y postgresql`")
    d = Path(tempfile.mkdtemp(prefix='bear_pg_'))
    as_user = []
    if os.geteuid() == 0:  # initdb refuses to run as root: run the cluster as the package's `postgres` user
        user = 'postgres' if 'postgres' in {p.pw_name for p in pwd.getpwall()} else 'nobody'
        shutil.chown(d, user)
        as_user = ['runuser', '-u', user, '--']
    def pg(*args): subprocess.run([*as_user, *map(str, args)], check=True, capture_output=True, text=True)
    port = free_port()
    pg(bin/'initdb', '-D', d/'data', '-U', 'bear', '--auth=trust', '-E', 'UTF8', '--no-sync')
    def start(): pg(bin/'pg_ctl', '-D', d/'data', '-l', d/'server.log', '-w', '-t', '60', 'start',
                    '-o', f'-p {port} -k {d} -c listen_addresses=127.0.0.1 -c max_connections=100')
    def stop(): pg(bin/'pg_ctl', '-D', d/'data', '-m', 'fast', '-w', 'stop')
    start()
    import sqlalchemy as sa
    admin = sa.create_engine(f'postgresql+psycopg://bear@127.0.0.1:{port}/postgres', isolation_level='AUTOCOMMIT')
    n = iter(range(1000))
    def new_db():
        name = f'log{next(n)}'
        with admin.connect() as c: c.exec_driver_sql(f'CREATE DATABASE {name}')
        return f'postgresql+psycopg://bear@127.0.0.1:{port}/{name}'
    new_db.start, new_db.stop = start, stop  # a test may stop the server and start it again
    try: yield new_db
    finally:
        admin.dispose()
        subprocess.run([*as_user, str(bin/'pg_ctl'), '-D', str(d/'data'), '-m', 'fast', '-w', 'stop'], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)  # the throwaway cluster, in a temporary folder of its own

def test_postgres_roundtrip(postgres):
    "The same rows, types and reading helpers as on SQLite, through the same code"
    from bear_lib.answers import Answer
    from bear_lib.log import PredictionLog
    log = PredictionLog(postgres())
    a = Answer('grizzly', 'grizzly', {'black': 0.01, 'grizzly': 0.98, 'teddy': 0.01}, 'Prediction: grizzly')
    r = log.record(a, b'photo bytes', 'app', 'm@123', latency=0.05)
    df = log.frame()
    assert df.loc[0, ['uid', 'source', 'model', 'answer', 'label', 'latency_ms', 'p_grizzly']].tolist() == [r['uid'], 'app', 'm@123', 'grizzly', 'grizzly', 50.0, 0.98]
    assert df.loc[0, 'time'] == r['time'] and str(df['time'].dt.tz) == 'UTC'
    assert len(log.frame(source='service')) == 0 and log.count() == 1
    log.close()

def test_workers_starting_together_share_one_table(postgres):
    "Eight processes' first connections at once: the table is created once and every one of them can write"
    from bear_lib.log import PredictionLog
    url, barrier, errors, logs = postgres(), threading.Barrier(8), [], []
    def open_log():
        barrier.wait()
        try: logs.append(PredictionLog(url))
        except Exception as e: errors.append(e)
    ts = [threading.Thread(target=open_log) for _ in range(8)]
    for t in ts: t.start()
    for t in ts: t.join()
    assert not errors, errors
    for l in logs: l.close()

def test_two_workers_postgres_log_every_row(postgres, bears, tmp_path):
    "Two uvicorn workers, one PostgreSQL log: 50 concurrent requests, 50 rows, each answer exactly once"
    from bear_lib.log import PredictionLog
    url = postgres()
    p, base = start_serve('--workers', 2, '--log', url, cwd=tmp_path)
    try:
        assert len(workers_of(p)) == 2
        rs = post_many(f'{base}/predict', [f.read_bytes() for f in bear_photos(bears, 50)])
        assert [r.status_code for r in rs] == [200] * 50, [r.text for r in rs if r.status_code != 200][:3]
    finally: stop_app(p)
    log = PredictionLog(url)
    check_logged_once(log, rs, 0)
    log.close()

def test_ready_follows_the_log(postgres, bears):
    "GET /ready: 200 while the PostgreSQL log can be written, 503 with the reason while its server is down, 200 again once it is back; /health stays 200"
    from fastapi.testclient import TestClient
    from bear_lib.serve import create_app
    url, photo = postgres(), (bears/'grizzly'/'grizzly_0000.jpg').read_bytes()
    with TestClient(create_app(log=url)) as c:
        r = c.get('/ready'); assert r.status_code == 200 and r.json()['status'] == 'ready', r.text
        postgres.stop()
        try:
            r = c.get('/ready')
            assert r.status_code == 503 and r.json()['status'] == 'not ready', r.text
            assert "The prediction log can't be written (OperationalError" in r.json()['detail'], r.text
            assert c.get('/health').json()['status'] == 'ok'  # liveness: the worker itself is fine
            assert c.post('/predict', content=photo, headers={'content-type': 'image/jpeg'}).status_code == 503
        finally: postgres.start()
        r = c.get('/ready'); assert r.status_code == 200, r.text
        assert c.post('/predict', content=photo, headers={'content-type': 'image/jpeg'}).status_code == 200
