"bear_space: the folder it writes, and that folder as a Space: installed in a fresh venv (no torch), run, driven in Chromium."
import json, os, subprocess, sys, time, zipfile
from pathlib import Path
import pytest
from bear_lib.log import PredictionLog
from bear_lib.settings import Settings
from bear_lib.space import GRADIO, SPACE_DIR, space_log, wheel_requires, write_space
from bear_lib.testing import free_port, log_tail, stop_app, wait_http

ROOT = Path(__file__).parent.parent
PY = [sys.executable, '-c', 'from bear_lib.cli import bear_space; bear_space()']

def test_gradio_pin_is_constraints():
    "The Space installs the Gradio constraints.txt pins"
    assert f'gradio=={GRADIO}' in (ROOT/'constraints.txt').read_text().splitlines()

def test_refuses_a_full_folder(tmp_path):
    d = tmp_path/'space'; d.mkdir(); (d/'keep.txt').write_text('mine')
    with pytest.raises(FileExistsError): write_space(d)
    r = subprocess.run([*PY, str(d)], capture_output=True, text=True)
    assert r.returncode != 0 and "isn't an empty folder" in r.stderr, r.stdout + r.stderr
    assert [p.name for p in d.iterdir()] == ['keep.txt'] and (d/'keep.txt').read_text() == 'mine'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['space']  # no temporary folder left beside it

def test_cli_version_and_missing_model(tmp_path):
    r = subprocess.run([*PY, '--version'], capture_output=True, text=True)
    assert r.returncode == 0 and 'bear_lib' in r.stdout, r.stdout + r.stderr
    r = subprocess.run([*PY, str(tmp_path/'s'), '--model', str(tmp_path/'nope.pkl')], capture_output=True, text=True)
    assert r.returncode != 0 and 'No model at' in r.stderr and not (tmp_path/'s').exists()

def test_zero_shot_space(tmp_path):
    "Without a model: the zero-shot ImageNet model's ONNX file, and the app that loads it"
    r = subprocess.run([*PY, str(tmp_path/'space')], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    d = tmp_path/'space'
    whl, = d.glob('bear_lib-*-py3-none-any.whl')
    assert (d/'requirements.txt').read_text().splitlines() == [f'gradio=={GRADIO}', f'./{whl.name}']
    assert 'bear_lib/space.py' in zipfile.ZipFile(whl).namelist()
    assert sorted(p.name for p in (d/SPACE_DIR).iterdir()) == ['imagenet_mobilenet_v2.onnx']
    front = (d/'README.md').read_text().split('---\n')[1]
    for line in ('sdk: gradio', f'sdk_version: {GRADIO}', 'app_file: app.py', 'license: apache-2.0'): assert line in front.splitlines()
    assert 'title: "Bears: black / grizzly / teddy"' in front
    app = (d/'app.py').read_text()
    compile(app, 'app.py', 'exec')
    assert 'MODEL = None' in app and 'load_model(' in app and 'answer(' in app and 'log.flag(' in app

def test_wheel_requires(tmp_path):
    "The wheel's unconditional requirements: settings.ini's `requirements`, none of an extra's"
    import configparser, shlex
    from bear_lib.space import space_wheel
    cfg = configparser.ConfigParser(delimiters=['=']); cfg.read(ROOT/'settings.ini', encoding='utf-8')
    want = sorted(r.split('[')[0].split('>')[0].split('<')[0].split('=')[0].split('!')[0].lower() for r in shlex.split(cfg['DEFAULT']['requirements']))
    got = wheel_requires(space_wheel(tmp_path))
    assert sorted(got) == want and 'gradio' not in got, (got, want)

def test_space_log(tmp_path):
    assert space_log(tmp_path, Settings(log='sqlite:////x/y.db')) == 'sqlite:////x/y.db'
    if not Path('/data').is_dir(): assert space_log(tmp_path, Settings()) == str(tmp_path/'predictions.db')

def _value(page, sel, timeout=120_000):
    "The text of the Gradio Textbox `sel` once it has one"
    js = f"(document.querySelector('{sel} textarea') || document.querySelector('{sel} input')).value"
    page.wait_for_function(f"{js}.length > 0", timeout=timeout)
    return page.evaluate(js)

def test_space_runs(trained, bears, browser, tmp_path):
    "The Space of a trained model: `pip install -r requirements.txt` in a fresh venv, `python app.py`, a bear, Grace Hopper, Wrong?"
    import matplotlib
    t0 = time.perf_counter()
    space = write_space(tmp_path/'space', trained)
    assert sorted(p.name for p in (space/SPACE_DIR).iterdir()) == ['export.bank.npy', 'export.json', 'export.onnx']
    whl, = space.glob('bear_lib-*.whl')
    # before the pip install, which would otherwise download gigabytes of PyTorch: settings.ini's plain requirements must be the core
    assert 'torch' not in wheel_requires(whl), f"{whl.name} requires torch: bear_lib's plain requirements aren't its torch-free core"
    env = {k: v for k, v in os.environ.items() if not k.startswith('BEAR_') and k not in ('PYTHONPATH', 'VIRTUAL_ENV')}
    venv = tmp_path/'venv'; py = venv/'bin'/'python'
    subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True, env=env)
    t = time.perf_counter()  # --no-compile: Python compiles what app.py imports; byte-compiling all of gradio took 12 of 31 s
    r = subprocess.run([str(py), '-m', 'pip', 'install', '-q', '--no-compile', '--disable-pip-version-check', '-r', 'requirements.txt'],
                       cwd=space, env=env, capture_output=True, text=True, timeout=1200)
    print(f'pip install -r requirements.txt: {time.perf_counter() - t:.1f} s')
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([str(py), '-c', 'import importlib.util as u, json; print(json.dumps([bool(u.find_spec(m)) for m in ("torch", "fastai", "gradio", "onnxruntime")]))'],
                       env=env, capture_output=True, text=True, cwd=tmp_path)
    assert json.loads(r.stdout) == [False, False, True, True], r.stdout + r.stderr  # no torch in the Space
    r = subprocess.run([str(py), '-m', 'pip', 'check'], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    log = Path(space_log(space, Settings()))  # no $BEAR_LOG: predictions.db beside app.py (or in /data on a Space)
    for i in range(3):  # the port was free when chosen, not necessarily when Gradio binds it
        port = free_port()
        out = tmp_path/f'space_{port}.log'
        with open(out, 'w') as fh:
            p = subprocess.Popen([str(py), 'app.py'], cwd=space, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
                                 env={**env, 'GRADIO_SERVER_NAME': '127.0.0.1', 'GRADIO_SERVER_PORT': str(port),
                                      'GRADIO_ANALYTICS_ENABLED': 'False', 'HF_HUB_OFFLINE': '1', 'OMP_NUM_THREADS': '1'})
        p.log = out
        url = f'http://127.0.0.1:{port}/'
        try:
            wait_http(url, p, timeout=180)
            break
        except RuntimeError:
            stop_app(p)
            if i == 2 or 'address already in use' not in log_tail(p).lower(): print(log_tail(p)); raise
    try:
        page = browser.new_page()
        def ask(photo):
            page.goto(url, wait_until='domcontentloaded')
            page.wait_for_selector('#photo input[type=file]', state='attached', timeout=120_000)
            page.set_input_files('#photo input[type=file]', str(photo))
            return _value(page, '#answer')
        text = ask(bears/'grizzly'/'grizzly_0010.jpg')
        assert text.startswith('Prediction: grizzly'), text
        body = page.inner_text('body')
        assert 'Trained model export.onnx' in body and 'ONNX Runtime' in body and 'model card' in body, body
        page.click('#wrong')
        page.wait_for_function("document.querySelector('#wrong').textContent.includes('Flagged')", timeout=60_000)
        assert 'Thanks' in page.inner_text('#note')
        hopper = Path(matplotlib.get_data_path())/'sample_data'/'grace_hopper.jpg'
        text = ask(hopper)
        assert text.startswith("This doesn't look like"), text
        page.close()
        rows = PredictionLog(log).frame()
        assert list(rows['answer']) == ['grizzly', 'none of these'], rows[['answer', 'text']]
        assert rows['flagged'].notna().tolist() == [True, False] and rows['queue'].tolist() == ['flagged', 'none of these']
        assert set(rows['source']) == {'app'} and Path(rows['photo'][0]).is_file()  # the flagged photo was kept for review
    except BaseException:
        print(log_tail(p)); raise
    finally: stop_app(p)
    print(f'test_space_runs: {time.perf_counter() - t0:.1f} s; the Space venv: {subprocess.run(["du", "-sh", str(venv)], capture_output=True, text=True).stdout.split()[0]}')
