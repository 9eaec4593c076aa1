"Drift report: no false alarm on normal days, a shift flagged, too few answers not tested, odd log rows survived"
import json, os, subprocess, sys
import numpy as np, pandas as pd, pytest
from bear_lib.bundle import load_model
from bear_lib.infer import answer
from bear_lib.images import load_image
from bear_lib.log import PredictionLog, predictions
from bear_lib.bundle import model_id
from bear_lib.report import report, simulate_log, model_baseline
from bear_lib.images import shift_all, shift_image

@pytest.fixture(scope='module')
def zs(): return load_model(None)

@pytest.fixture(scope='module')
def bear_files(bears, zs): return sorted(f for c in zs.vocab for f in (bears/c).glob('*.jpg'))

@pytest.fixture(scope='module')
def normal(zs, bear_files): return answer(zs, bear_files)

def _days(rng, files, ans, names, n=60):
    "A day of `n` of `files` (drawn without replacement) per name: their answers (`ans`: one per file, or a function of the drawn indices) and bytes"
    out = []
    for day in names:
        i = rng.choice(len(files), n, replace=False)
        out.append((day, ans(i) if callable(ans) else [ans[j] for j in i], [files[j].read_bytes() for j in i]))
    return out

def test_no_false_alarm_on_normal_days(tmp_path, zs, bear_files, normal):
    "Eight days drawn from the baseline's own photos, each of 60 answers: none flagged, all tested"
    lg = PredictionLog(tmp_path/'log.db')
    simulate_log(lg, zs, _days(np.random.default_rng(0), bear_files, normal, [f'2026-05-{k:02d}' for k in range(1, 9)]))
    lg.close()
    d, words, page = report(tmp_path/'log.db', out=tmp_path/'r.html')
    assert len(d) == 8 and d['tested'].all() and not d['shifted'].any(), d
    assert all(w.endswith('no shift.') for w in words), words
    assert page.is_file() and page.with_suffix('.png').is_file()

def test_shift_flagged(tmp_path, zs, bear_files, normal):
    "Three normal days, then a greyscaled day and a dark+grey+blurred+shrunk day: only the last two flagged, and said how"
    def shifted(shift):  # the answers to the drawn photos only: a day uses 60 of the 371
        return lambda i: answer(zs, [shift(load_image(bear_files[j])) for j in i])
    grey, worst = shifted(lambda im: shift_image(im, 'greyscale')), shifted(shift_all)
    rng = np.random.default_rng(1)
    days = _days(rng, bear_files, normal, ['2026-05-01', '2026-05-02', '2026-05-03'])
    days += _days(rng, bear_files, grey, ['2026-05-04']) + _days(rng, bear_files, worst, ['2026-05-05'])
    lg = PredictionLog(tmp_path/'log.db'); simulate_log(lg, zs, days); lg.close()
    d, words, _ = report(tmp_path/'log.db')
    assert list(d['shifted']) == [False, False, False, True, True], d
    assert words[3].startswith('2026-05-04: SHIFTED') and words[4].startswith('2026-05-05: SHIFTED'), words
    assert 'against' in words[4] and 'p=' in words[4]
    d2, _, _ = report(tmp_path/'log.db', since=pd.Timestamp('2026-05-04', tz='UTC').to_pydatetime())
    assert len(d2) == 2 and d2['shifted'].all()

def test_too_few_is_not_a_false_alarm(tmp_path, zs, bear_files, normal):
    "A day with 3 answers, all of them shifted badly, is 'too few to test', not a shift"
    ims = [load_image(f) for f in bear_files[:3]]
    bad = answer(zs, [shift_all(im) for im in ims])
    days = _days(np.random.default_rng(2), bear_files, normal, ['2026-05-01']) + [('2026-05-02', bad, [f.read_bytes() for f in bear_files[:3]])]
    lg = PredictionLog(tmp_path/'log.db'); simulate_log(lg, zs, days); lg.close()
    d, words, _ = report(tmp_path/'log.db')
    assert list(d['tested']) == [True, False] and not d['shifted'].any(), d
    assert 'too few to test' in words[1], words

def test_odd_rows_do_not_crash(tmp_path, zs):
    "Unknown classes, missing or non-numeric probabilities, markup as an answer, another model's rows"
    lg = PredictionLog(tmp_path/'log.db')
    mid = model_id(zs)
    probs = [{'panda': 1.0}, {}, {'teddy': 'high'}, {'black': -3, 'grizzly': 1e300}, {'teddy': None}, {'black': float('nan')}]
    rows = [dict(uid=f'{i:032x}', time=pd.Timestamp('2026-05-01T12:00Z').to_pydatetime(), source='app', model=mid, sha256='0'*64,
                 answer=a, probs=p) for i,(a,p) in enumerate(zip(['panda', 'grizzly', 'teddy', '<script>alert(1)</script>', '', 'not sure'], probs))]
    rows.append(dict(rows[0], uid='f'*32, model='another model'))
    with lg.engine.begin() as c: c.execute(predictions.insert(), rows)
    lg.close()
    d, words, page = report(tmp_path/'log.db', out=tmp_path/'odd', min_n=3)
    assert d['n'].tolist() == [6] and d['other'].tolist() == [3], d  # another model's row is not counted
    assert '<script>alert' not in page.read_text() and page.name == 'report.html'
    d, words, page = report(tmp_path/'empty.db', out=tmp_path/'empty.html')
    assert len(d) == 0 and words == [] and page.is_file()

def test_cli(tmp_path, zs, bear_files, normal):
    "bear_report prints the verdict per day and writes the page; a missing log or a bad --since is a clear message"
    lg = PredictionLog(tmp_path/'log.db'); simulate_log(lg, zs, _days(np.random.default_rng(3), bear_files, normal, ['2026-05-01'])); lg.close()
    def cli(*args):
        return subprocess.run([sys.executable, '-c', 'import sys; from bear_lib.cli import bear_report; sys.argv[0] = "bear_report"; bear_report()', *args],
                              capture_output=True, text=True, cwd=tmp_path, env=dict(os.environ, OMP_NUM_THREADS='1'))
    r = cli('--log', 'log.db', '--out', 'out.html', '--min-n', '20')
    assert r.returncode == 0, r.stderr
    assert '2026-05-01: 60 answers, no shift.' in r.stdout and (tmp_path/'out.html').is_file() and (tmp_path/'out.png').is_file()
    r = cli('--log', 'missing.db'); assert r.returncode == 1 and 'No prediction log at' in r.stderr
    r = cli('--log', 'log.db', '--since', 'last tuesday'); assert r.returncode == 1 and 'is not a date' in r.stderr

def test_trained_export_has_baseline(trained, tmp_path, bear_files):
    "bear_train's sidecar carries the validation baseline, measured with the app's decision, and the report uses it"
    card = json.loads(trained.with_suffix('.json').read_text())
    b = card['baseline']
    assert b['n'] == card['cv']['n'] == len(b['conf']) and sum(b['mix'].values()) == b['n']  # out-of-fold answers of every photo
    assert b['conf_threshold'] == card['conf_threshold']
    assert set(b['mix']) == {*card['vocab'], 'not_sure', 'none_of_these'} and b['conf_deciles'] == sorted(b['conf_deciles'])
    m = load_model(trained)
    assert model_baseline(m) == b
    d, words, _ = report(tmp_path/'empty.db', trained)
    assert len(d) == 0
    # the same model's answers, logged by a PyTorch replica (as export.pkl) and an ONNX Runtime one (as export.onnx), all counted
    torch_m, onnx_m = load_model(trained, 'torch'), load_model(trained, 'onnx')
    ids = {model_id(torch_m), model_id(onnx_m)}
    assert len(ids) == 2
    photos = bear_files[::9][:20]
    for mm in (torch_m, onnx_m):
        lg = PredictionLog(tmp_path/'log.db')
        simulate_log(lg, mm, [('2026-05-01', answer(mm, photos[:20]), [f.read_bytes() for f in photos[:20]])])
        lg.close()
    d, _, _ = report(tmp_path/'log.db', trained, min_n=10)
    assert d['n'].tolist() == [40], d

def test_old_log_and_old_card_count_as_none_of_these(tmp_path):
    """A log written before the rename ('not a bear' as the answer and the queue) and a card whose baseline mix says `not_a_bear`:
    the report, the log's readers and the review queue count those refusals as `none_of_these`, and find no shift where none is"""
    from bear_lib.answers import NONE_OF_THESE, NOT_A_BEAR, code, word
    from bear_lib.report import log_answers, drift, window_tests, drift_words
    from bear_lib.review import review_answer, ReviewApp
    assert NOT_A_BEAR == NONE_OF_THESE == code('not a bear') == code('not_a_bear') == code('none of these') == 'none_of_these'
    assert word('not_a_bear') == word(NONE_OF_THESE) == 'none of these'
    vocab, t = ['black', 'grizzly', 'teddy'], pd.Timestamp('2026-05-01T12:00Z').to_pydatetime()
    probs = {'black': .9, 'grizzly': .05, 'teddy': .05}
    answers = ['not a bear']*20 + ['black']*20 + ['not sure']*5  # the words the log stored before the rename
    rows = [dict(uid=f'{i:032x}', time=t, source='app', model='m', sha256='0'*64, answer=a, probs=probs, label=None if ' ' in a else a,
                 queue=a if ' ' in a else None) for i,a in enumerate(answers)]
    lg = PredictionLog(tmp_path/'log.db')
    with lg.engine.begin() as c: c.execute(predictions.insert(), rows)
    df = lg.frame()
    assert (df['answer'] == 'none of these').sum() == 20 and 'not a bear' not in set(df['answer']) | set(df['queue'].dropna())
    a = log_answers(df, vocab)
    assert a['code'].value_counts().to_dict() == {NONE_OF_THESE: 20, 'black': 20, 'not_sure': 5}, a['code'].value_counts()
    # a card written before the rename: the same mix as the log, its refusal under the old code
    base = dict(n=45, mix={'black': 20, 'grizzly': 0, 'teddy': 0, 'not_sure': 5, 'not_a_bear': 20}, conf=[.9]*45, not_sure_rate=5/45, ood_rate=20/45)
    p = window_tests(a, base)
    assert p['none of these'] > .5 and p['class mix'] > .5, p
    d = drift(df, base, vocab, min_n=10)
    assert d['ood_rate'].tolist() == [20/45] and not d['shifted'].any(), d
    assert drift_words(d, base) == ['2026-05-01: 45 answers, no shift.']
    # the review queue: old refusals read in the new words, and the old word is still a reviewer's decision
    q = lg.queue()
    assert len(q) == 25 and {r['queue'] for r in q} == {'none of these', 'not sure'} and {r['answer'] for r in q} == {'none of these', 'not sure'}
    app = ReviewApp(lg, tmp_path/'bears', classes=vocab)
    assert 'none of these' in app.info.value and 'not a bear' not in app.info.value, app.info.value
    r = review_answer(lg, rows[0]['uid'], 'not a bear', tmp_path/'bears', vocab)
    assert r['reviewed'] == lg.get(rows[0]['uid'])['reviewed'] == 'none of these'
    lg.close()
