"One version everywhere: settings.ini, `bear_lib.__version__`, the installed metadata and every console script's --version."
import configparser, re, subprocess
from pathlib import Path
import bear_lib
from bear_lib.testing import BIN

ROOT = Path(__file__).parent.parent


def _settings():
    cfg = configparser.ConfigParser(delimiters=['='])
    cfg.read(ROOT/'settings.ini', encoding='utf-8')
    return cfg['DEFAULT']


def _scripts() -> list:
    "The console scripts settings.ini declares, as (name, module:function)"
    return [tuple(l.strip().split('=', 1)) for l in _settings()['console_scripts'].split() if l.strip()]


def test_version_agrees():
    "settings.ini's version is the library's, and the one the CHANGELOG's latest entry names"
    v = _settings()['version']
    assert bear_lib.__version__ == v
    assert re.search(r'^## (\S+)', (ROOT/'CHANGELOG.md').read_text(), re.M).group(1) == v


def test_every_console_script_prints_the_version():
    "Each `bear_* --version`, run as installed, prints its name and the library's version and exits 0"
    scripts = _scripts()
    assert {n for n,_ in scripts} >= {'bear_gather', 'bear_train', 'bear_eval', 'bear_predict', 'bear_app', 'bear_serve', 'bear_report'}
    for name, target in scripts:
        assert target.startswith('bear_lib.cli:'), target
        r = subprocess.run([str(BIN/name), '--version'], capture_output=True, text=True, timeout=120)
        assert (r.returncode, r.stdout) == (0, f'{name} (bear_lib {bear_lib.__version__})\n'), (name, r.stdout, r.stderr)


def test_every_console_script_takes_log_level():
    "Each command takes --log-level (its --help says so) and refuses a level `logging` doesn't have, before it does anything"
    for name, _ in _scripts():
        h = subprocess.run([str(BIN/name), '--help'], capture_output=True, text=True, timeout=120)
        assert h.returncode == 0 and '--log_level LEVEL' in h.stdout, (name, h.stdout)
        r = subprocess.run([str(BIN/name), '--log-level', 'loud'], capture_output=True, text=True, timeout=120)
        assert r.returncode == 2 and "invalid choice: 'LOUD'" in r.stderr, (name, r.stderr)
