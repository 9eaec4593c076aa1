"The notebooks as committed: small, with their figures on the page, no local paths or tracebacks, and the README's tour = index.ipynb's"
import json, re, sys, tempfile
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'
MAX_BYTES = 1_000_000
# where a path of the machine that ran the notebook would start (the venv's own path too, wherever it is)
LOCAL = ('/work/', '/home/', '/tmp/', '/root/', '/var/folders/', tempfile.gettempdir().rstrip('/') + '/', sys.prefix, str(Path(sys.prefix).resolve()))

# Cells of the main path (and of 10_report, the drift on shifted bears) where a learner must see a figure or a table (an image, HTML or a printed table): notebook → cell ids
FIGURES = {
    'index.ipynb': ['c003'],
    '00_practice.ipynb': ['pr005', 'pr008', 'pr010', 'pr017'],
    '01_data.ipynb': ['bk000f', 'bk006', 'bk008', 'c010', 'c014', 'c015', 'c017', 'c019', 'c021'],
    '02_train.ipynb': ['bk101', 'bk103', 'bk104', 'c009', 'c015', 'oof103b', 'oof105'],
    '03_clean.ipynb': ['bk202', 'cl304', 'cl306', 'cl308', 'c045', 'cl401', 'cl402', 'cl411', 'cl412', 'cl421', 'cl422'],
    '04_infer.ipynb': ['c030'],
    '05_app.ipynb': ['bk406', 'bk407'],
    '06_cli.ipynb': ['cl005', 'cl007', 'cl011', 'cl015', 'cl017'],
    '07_log.ipynb': ['lg107', 'lg111'],
    '08_serve.ipynb': ['sv105', 'sv115'],
    '09_review.ipynb': ['rv103', 'rv107'],
    '11_deploy.ipynb': ['dp003', 'dp005', 'dp008', 'dp010', 'dp011', 'dp013'],
    '10_report.ipynb': ['rp027', 'rp031', 'rp033', 'rp033s'],
}

def notebooks(): return sorted(NBS.glob('*.ipynb'))
def cells(fn): return json.loads(Path(fn).read_text())['cells']

def _texts(o):
    "Every piece of text in one output"
    if 'text' in o: yield ''.join(o['text'])
    if 'traceback' in o: yield '\n'.join(o['traceback'])
    for k, v in o.get('data', {}).items():
        if k.startswith('text/') or k.endswith('json'): yield v if isinstance(v, str) else ''.join(v) if isinstance(v, list) else json.dumps(v)

WARNING = re.compile(r'^.*\b\w*Warning: .*$', re.M)  # a warning's line, as `warnings` prints it

def problems(fn) -> list:
    "What is wrong with the committed notebook `fn`: its size, local paths or errors in its outputs, a warning shown twice"
    fn, out, seen = Path(fn), [], set()
    if fn.stat().st_size > MAX_BYTES: out.append(f'{fn.name}: {fn.stat().st_size:,} bytes (at most {MAX_BYTES:,})')
    for c in cells(fn):
        for o in c.get('outputs', []):
            if o.get('output_type') == 'error': out.append(f"{fn.name} {c['id']}: an error output ({o.get('ename')})")
            for t in _texts(o):
                if 'Traceback (most recent call last)' in t: out.append(f"{fn.name} {c['id']}: a traceback")
                for w in WARNING.findall(t) if o.get('name') == 'stderr' else ():
                    if w.strip() in seen: out.append(f"{fn.name} {c['id']}: a warning shown again: {w.strip()[:80]}")
                    seen.add(w.strip())
                for p in LOCAL:
                    if p in t: out.append(f"{fn.name} {c['id']}: the local path {p!r} in an output")
    return out

def shows(c) -> bool:
    "Whether the cell `c` carries a figure or a table: an image, HTML, or a printed table of several lines"
    for o in c.get('outputs', []):
        d = o.get('data', {})
        if any(k.startswith('image/') or k == 'text/html' for k in d): return True
        if o.get('name') == 'stderr': continue  # a warning is not a table
        if len(''.join(o.get('text', d.get('text/plain', ''))).strip().splitlines()) >= 2: return True
    return False

@pytest.mark.parametrize('fn', notebooks(), ids=lambda p: p.name)
def test_committed_outputs(fn):
    "Under the size limit, no local path, no traceback or error in any output"
    assert problems(fn) == []

@pytest.mark.parametrize('name', sorted(FIGURES))
def test_figures_on_the_page(name):
    "Every listed cell of the main path is there and carries its figure or table"
    by_id = {c['id']: c for c in cells(NBS/name)}
    missing = [i for i in FIGURES[name] if i not in by_id]
    assert not missing, f'{name}: no cells {missing}'
    empty = [i for i in FIGURES[name] if not shows(by_id[i])]
    assert not empty, f'{name}: no figure or table in {empty}: run `make outputs`'

def _nb(tmp_path, outputs, pad=0):
    nb = dict(nbformat=4, nbformat_minor=5, metadata={}, cells=[dict(cell_type='code', id='x1', metadata={}, execution_count=None,
              source='x' * pad, outputs=outputs)])
    (tmp_path/'n.ipynb').write_text(json.dumps(nb)); return tmp_path/'n.ipynb'

def test_problems_are_seen(tmp_path):
    "The checker itself: each kind of problem is reported, a clean output is not"
    ok = [dict(output_type='stream', name='stdout', text=['3 bears\n'])]
    assert problems(_nb(tmp_path, ok)) == []
    assert 'bytes' in problems(_nb(tmp_path, ok, pad=MAX_BYTES))[0]
    path = [dict(output_type='execute_result', execution_count=None, metadata={}, data={'text/plain': [f"Path('{sys.prefix}/x.jpg')"]})]
    assert 'local path' in problems(_nb(tmp_path, path))[0]
    assert 'local path' in problems(_nb(tmp_path, [dict(output_type='stream', name='stdout', text=['/tmp/tmpab12/bears\n'])]))[0]
    err = [dict(output_type='error', ename='ValueError', evalue='x', traceback=['Traceback (most recent call last)', 'ValueError'])]
    assert 'error output' in problems(_nb(tmp_path, err))[0]
    tb = [dict(output_type='stream', name='stderr', text=['Traceback (most recent call last):\n', '  File "x"\n'])]
    assert 'traceback' in problems(_nb(tmp_path, tb))[0]
    warn = lambda s: dict(output_type='stream', name='stderr', text=[f'UserWarning: {s}\n'])
    assert problems(_nb(tmp_path, [warn('a'), warn('b')])) == []
    assert 'shown again' in problems(_nb(tmp_path, [warn('a'), warn('a')]))[0]
    assert not shows(cells(_nb(tmp_path, ok))[0]) and not shows(dict(outputs=[]))
    assert not shows(dict(outputs=[dict(output_type='stream', name='stderr', text=['UserWarning: a\n', 'b\n'])]))
    assert shows(dict(outputs=[dict(output_type='display_data', data={'image/jpeg': 'abc'}, metadata={})]))

# README ↔ index.ipynb. "Agree" means:
# 1. the notebook tables list the same notebooks, in the same order, with the same module (index.ipynb names a notebook `01_data`,
#    the README `nbs/01_data.ipynb`), and every notebook in nbs/ is in them, and every one they list exists;
# 2. every command of index.ipynb's ```sh blocks is a line of a ```sh block of the README (README may have more).
ROW = re.compile(r'^\|\s*`(?:nbs/)?([\w.-]+?)(?:\.ipynb)?`\s*\|\s*(`[\w.]+`)?\s*\|', re.M)

def tour(md:str) -> list:
    "(notebook, module) of each row of the notebook table in the markdown `md`"
    return [(n, m or '') for n, m in ROW.findall(md)]

def commands(md:str) -> set:
    "The non-blank lines of the ```sh blocks of `md`"
    return {l.strip() for b in re.findall(r'```sh\n(.*?)```', md, re.S) for l in b.splitlines() if l.strip()}

def index_md() -> str: return '\n'.join(''.join(c['source']) for c in cells(NBS/'index.ipynb') if c['cell_type'] == 'markdown')

def test_readme_and_index_agree():
    readme, index = (ROOT/'README.md').read_text(), index_md()
    assert tour(index) == tour(readme)
    assert sorted(n for n, _ in tour(index)) == sorted(p.stem for p in notebooks())
    assert commands(index) and commands(index) <= commands(readme), commands(index) - commands(readme)

def test_agree_is_strict():
    "The comparison sees a missing row, a changed module, a changed order and a command the README lacks"
    a = '| `01_data` | `bear_lib.data` | x |\n| `02_train` | `bear_lib.train` | y |\n| `app` | | z |'
    b = '| `nbs/01_data.ipynb` | `bear_lib.data` | x |\n| `nbs/02_train.ipynb` | `bear_lib.train` | y |\n| `nbs/app.ipynb` | | z |'
    assert tour(a) == tour(b) == [('01_data', '`bear_lib.data`'), ('02_train', '`bear_lib.train`'), ('app', '')]
    assert tour(a) != tour(b.replace('bear_lib.train', 'bear_lib.trainer'))
    assert tour(a) != tour('\n'.join(reversed(b.splitlines())))
    assert commands('```sh\nmake app\n```') <= commands('x\n```sh\nmake app\nmake test\n```')
    assert not commands('```sh\nmake outputs\n```') <= commands('```sh\nmake app\n```')
