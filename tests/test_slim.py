"""`pip install bear_lib` is the serving core; training, the app, gathering, the service and the report are extras.

Quick tests: each command whose extra is missing (simulated here by `sys.modules[name] = None`, what Python makes of a module
that isn't there) says the one `pip install` to run, and every module `bear_lib.core.EXTRAS` checks comes from its extra in
settings.ini. Slow tests (`wheel`): the wheel in a fresh venv with the core only, as a user gets it."""
import configparser, importlib.metadata, os, re, shlex, subprocess, sys, time
from pathlib import Path
import pytest
from bear_lib.core import EXTRAS, needs, MissingExtra
from bear_lib.testing import checkout, fresh_venv, venv_pip, venv_env

ROOT = checkout()

def _extras_ini() -> dict:
    "extra → the distribution names settings.ini lists for it (normalized); 'core' → `requirements`"
    cfg = configparser.ConfigParser(delimiters=['=']); cfg.read(ROOT/'settings.ini', encoding='utf-8')
    d = cfg['DEFAULT']
    norm = lambda r: re.sub(r'[-_.]+', '-', re.match(r'[A-Za-z0-9._-]+', r).group()).lower()
    out = {k[:-len('_requirements')]: {norm(r) for r in shlex.split(v)} for k,v in d.items() if k.endswith('_requirements')}
    out['core'] = {norm(r) for r in shlex.split(d['requirements'])}
    return out

def test_extras_match_settings():
    "Each module `needs` checks for an extra is installed by a distribution that extra (not the core) lists"
    ini, dists = _extras_ini(), importlib.metadata.packages_distributions()
    for extra, mods in EXTRAS.items():
        for m in mods:
            have = {re.sub(r'[-_.]+', '-', d).lower() for d in dists.get(m, [])}
            assert have & ini[extra], f"{m} (from {have}) isn't in {extra}_requirements: {sorted(ini[extra])}"
            assert not have & ini['core'], f"{m} is in the core requirements, so the {extra} extra needn't check it"
    assert 'torch' not in ini['core'] and 'torch' in ini['train']

def _blocked(mods, *args) -> subprocess.CompletedProcess:
    "Run a bear_lib console script in this venv as if `mods` weren't installed"
    code = (f"import sys; sys.modules.update(dict.fromkeys({list(mods)!r})); sys.argv = {list(args)!r}\n"
            f"from bear_lib.cli import {args[0]}; {args[0]}()")
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)

@pytest.mark.parametrize('cmd,extra', [('bear_train', 'train'), ('bear_eval', 'train'), ('bear_gather', 'gather'),
                                       ('bear_app', 'app'), ('bear_serve', 'serve'), ('bear_report', 'report')])
def test_missing_extra_one_sentence(cmd, extra):
    "A command whose extra is missing: exit 1, the one sentence on stderr, no traceback; `--help` too"
    want = f"{cmd} needs "
    for args in (['--help'], ['--images', 'x'] if cmd == 'bear_train' else []):
        r = _blocked(EXTRAS[extra], cmd, *args)
        assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
        assert r.stdout == '' and 'Traceback' not in r.stderr, r.stderr
        line, = r.stderr.strip().splitlines()
        assert line.startswith(want) and line.endswith(f"leaves out: pip install 'bear_lib[{extra}]'"), line

def test_train_sentence():
    r = _blocked(['torch', 'torchvision', 'fastai'], 'bear_train', '--images', 'x')
    assert r.stderr.strip() == ("bear_train needs PyTorch, torchvision and fastai, which the core install of bear_lib "
                                "leaves out: pip install 'bear_lib[train]'"), r.stderr

def test_predict_needs_nothing():
    "bear_predict, the core's command, checks no extra: with torch and fastai blocked it parses its line (`--help` works)"
    r = _blocked(['torch', 'torchvision', 'fastai', 'voila', 'fastapi'], 'bear_predict', '--help')
    assert r.returncode == 0 and 'usage: bear_predict' in r.stdout, r.stderr

def test_needs():
    needs('train', 'x')  # installed in this venv
    sys.modules['_bear_not_here'] = None
    try:
        with pytest.raises(MissingExtra, match=r"^A thing needs _bear_not_here, which .* pip install 'bear_lib\[gather\]'$"):
            needs('gather', 'A thing', 'requests', '_bear_not_here')
    finally: del sys.modules['_bear_not_here']

# --- the wheel in a fresh venv, the core install only ---

@pytest.fixture(scope='module')
def core_venv(tmp_path_factory, wheel):
    "A fresh venv with `pip install -c constraints.txt WHEEL`: the core install; its bin folder"
    t = time.time()
    vbin = fresh_venv(tmp_path_factory.mktemp('core')/'venv', '-c', ROOT/'constraints.txt', wheel)
    print(f"core install: {time.time() - t:.1f} s")
    return vbin

def _run(vbin, *args, cwd=None, **env):
    return subprocess.run([str(vbin/args[0]), *map(str, args[1:])], capture_output=True, text=True, timeout=600, cwd=cwd,
                          env=venv_env(**env))

def test_core_has_no_torch(core_venv, tmp_path):
    "The core install: no torch, fastai, Voilà, FastAPI, ddgs or uvicorn; `pip check` clean"
    for m in ('torch', 'fastai', 'voila', 'fastapi', 'ddgs', 'uvicorn'):
        r = _run(core_venv, 'python', '-c', f'import {m}', cwd=tmp_path)
        assert r.returncode == 1 and f"ModuleNotFoundError: No module named '{m}'" in r.stderr, (m, r.stderr)
    # (`python -c` imports from the working folder first: not from the checkout's)
    r = _run(core_venv, 'python', '-c', 'import bear_lib, sys; print(bear_lib.__file__)', cwd=tmp_path)
    assert r.stdout.startswith(str(core_venv.parent)), r.stdout  # the installed copy, not this checkout
    venv_pip(core_venv, 'check')  # raises with pip's complaint if a dependency is missing or conflicts

def test_core_predict(core_venv, trained, bears, tmp_path):
    "bear_predict on ONNX Runtime in the core install: an answer per photo, the same answers as the full install's"
    photos = [sorted((bears/c).glob('*.jpg'))[0] for c in ('black', 'grizzly', 'teddy')]
    onnx = trained.with_suffix('.onnx')
    r = _run(core_venv, 'bear_predict', '--model', onnx, '--no-log', *photos, cwd=tmp_path, BEAR_CACHE=str(tmp_path/'cache'))
    assert r.returncode == 0, r.stderr
    assert 'on ONNX Runtime' in r.stderr and 'Traceback' not in r.stderr, r.stderr
    rows = [l.split('\t') for l in r.stdout.splitlines()]
    assert [Path(o[0]) for o in rows] == photos, r.stdout
    from bear_lib.bundle import load_model
    from bear_lib.infer import predict_files
    df = predict_files(load_model(onnx), photos)  # this venv: the full install
    assert [(o[1], o[2], o[3]) for o in rows] == [(a.answer, a.label or '-', f'{a.probability:.4f}') for a in df.itertuples()]
    assert any(o[1] == p.parent.name for o,p in zip(rows, photos)), r.stdout  # a bear answered as its class
    assert not (tmp_path/'predictions.db').exists()  # --no-log
    # the .pkl on PyTorch needs the train extra: one sentence, exit 1
    r = _run(core_venv, 'bear_predict', '--model', trained, '--backend', 'torch', '--no-log', photos[0], cwd=tmp_path)
    assert r.returncode == 1 and 'Traceback' not in r.stderr, r.stderr
    assert r.stderr.strip().endswith("pip install 'bear_lib[train]'") and 'export.pkl on PyTorch' in r.stderr, r.stderr

def test_core_missing_extra(core_venv, tmp_path):
    "The commands of the extras say what to install, in one line and exit 1"
    for args, extra in ((['bear_train', '--images', 'x'], 'train'), (['bear_app'], 'app'), (['bear_serve', '--help'], 'serve'),
                        (['bear_gather', 'grizzly bear'], 'gather')):
        r = _run(core_venv, *args, cwd=tmp_path)
        assert r.returncode == 1 and r.stdout == '' and 'Traceback' not in r.stderr, (args, r.stderr)
        line, = r.stderr.strip().splitlines()
        assert line.startswith(f'{args[0]} needs ') and line.endswith(f"pip install 'bear_lib[{extra}]'"), line
