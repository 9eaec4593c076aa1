"""`bear_clean` across processes on real photos: the ranked suggestions find planted problems, nothing moves until asked,
`--apply-top` moves through the ledger and `--undo` puts everything back, a hostile CSV moves nothing outside the dataset, and
kill -9 in the middle of `--apply-top` loses nothing."""
import csv, os, signal, subprocess, time
from pathlib import Path
import pytest
from bear_lib.ledger import LEDGER, LOCK, read_jsonl
from bear_lib.testing import BIN, run, snapshot as _snapshot
from bear_lib.testing.plant import plant_problems, recall_at_k

SKIP = (LEDGER, LOCK, '_suggestions.csv')
def snapshot(root): return _snapshot(root, skip=SKIP)  # the ledger, its lock and the suggestions change by design

@pytest.fixture(scope='module')
def planted(bears, tmp_path_factory):
    "30 sample bears a class, with 9 flipped and 4 junk images of no class planted (a read-only original: tests copy it)"
    from bear_lib.gather import import_folder
    root = tmp_path_factory.mktemp('planted')
    import_folder(bears, root/'src', n_per_class=30)
    return root/'bears', plant_problems(root/'src', root/'bears')

@pytest.fixture(scope='module')
def ranked(planted, tmp_path_factory):
    "`bear_clean` run once on a copy of the planted bears: (the copy, its snapshot before, what it printed)"
    import shutil
    d = tmp_path_factory.mktemp('ranked')/'bears'
    shutil.copytree(planted[0], d)
    before = snapshot(d)
    return d, before, run('bear_clean', d).stdout

@pytest.fixture
def ds(planted, tmp_path):
    import shutil
    shutil.copytree(planted[0], tmp_path/'bears'); return tmp_path/'bears'

def _rows(fn): return list(csv.DictReader(open(fn)))

def test_ranks_planted_problems_and_moves_nothing(ranked, planted):
    ds, before, out = ranked
    assert f"{len(before)} photos ranked in" in out and 'flagged' in out, out
    rows = _rows(ds/'_suggestions.csv')
    assert {r['file'] for r in rows} == set(before)  # every photo once
    assert {'file', 'label', 'suggested', 'reason', 'flagged'} <= set(rows[0])
    r = recall_at_k([x['file'] for x in rows], planted[1])
    assert r['recall'] >= 0.8, r  # the planted flips and junk come first
    flagged = [x for x in rows if x['flagged'] == 'True']
    assert flagged and all(x['reason'] for x in flagged) and rows[:len(flagged)] == flagged  # flagged first, each with its reason
    assert snapshot(ds) == before  # ranking moves nothing

def test_apply_top_then_undo(ds, ranked):
    "The CSV a person looked at (the ranked copy's), applied to a fresh copy: its first three rows move, and come back"
    before, csv_ = snapshot(ds), ranked[0]/'_suggestions.csv'
    out = run('bear_clean', ds, '--suggestions', csv_, '--apply-top', '3').stdout
    led = read_jsonl(ds/LEDGER)
    assert len(led) == 3 and '--undo' in out, out
    top = _rows(csv_)[:3]
    assert [r['src'] for r in sorted(led, key=lambda r: r['src'])] == sorted(x['file'] for x in top)
    for r in led: assert (ds/r['dest']).is_file() and not (ds/r['src']).exists() and before[r['src']] == r['sha256']
    assert '3 moved back' in run('bear_clean', ds, '--undo').stdout
    assert snapshot(ds) == before

def test_with_model(dataset, tiny):
    "With --model, the model's backbone (and size, and head) rank the photos (a model of other classes: 98ha_suggest's tests)"
    out = run('bear_clean', dataset, '--model', tiny[1]).stdout
    assert f"{len(snapshot(dataset))} photos ranked in" in out and '(efficientnet_lite0 features)' in out, out

def test_hostile_csv_moves_nothing_outside(ds, tmp_path):
    "A shipped or edited CSV is hostile: rows leading outside the dataset are dropped, a bad class refuses the batch"
    outside = tmp_path/'outside.jpg'; outside.write_bytes(b'not yours')
    before, f0 = snapshot(ds), sorted(snapshot(ds))[0]
    bad = tmp_path/'bad.csv'
    hdr = 'file,label,suggested,reason,flagged\n'
    bad.write_text(hdr + f'../outside.jpg,x,<Delete>,,True\n{outside},x,<Delete>,,True\n{f0},x,../../evil,,True\n')
    r = run('bear_clean', ds, '--suggestions', bad, '--apply-top', 'flagged', check=False)
    assert r.returncode == 1 and "Can't mark" in r.stderr, r.stderr
    assert outside.read_bytes() == b'not yours' and snapshot(ds) == before and not (ds/LEDGER).exists()
    bad.write_text(hdr + f'../outside.jpg,x,<Delete>,,True\n{f0},x,<Delete>,,True\n')
    run('bear_clean', ds, '--suggestions', bad, '--apply-top', 'flagged')
    assert outside.read_bytes() == b'not yours' and [r['src'] for r in read_jsonl(ds/LEDGER)] == [f0]

def test_kill9_during_apply_then_undo(ds, tmp_path):
    "kill -9 in the middle of a batch, then --undo: every photo back where it was, byte for byte"
    before = snapshot(ds)
    every = tmp_path/'every.csv'
    every.write_text('file,label,suggested,reason,flagged\n' + ''.join(f'{f},x,<Delete>,test,True\n' for f in before))
    p = subprocess.Popen([str(BIN/'bear_clean'), str(ds), '--suggestions', str(every), '--apply-top', 'flagged'],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    led = ds/LEDGER
    try:
        t = time.time()
        while time.time() - t < 120 and p.poll() is None:
            if led.exists() and led.read_bytes().count(b'\n') >= 5: break
            time.sleep(0.001)
        os.kill(p.pid, signal.SIGKILL)
    finally: p.wait()
    n = led.read_bytes().count(b'\n')
    assert 5 <= n < len(before), (n, len(before))  # killed in the middle of the batch
    run('bear_clean', ds, '--undo')
    assert snapshot(ds) == before
