"The cleaner driven from code: marks survive dropdown changes; apply then undo gives back exactly the same files."
import shutil
from collections import Counter
from pathlib import Path
import pytest
from bear_lib.core import sha256
from bear_lib.ledger import read_jsonl
from bear_lib.clean import clean_app, cleaning_learner, losses_csv, apply_csv, dropdowns, QUEUE, ranked_queue
from bear_lib.ledger import apply_clean, undo_clean, DELETE, KEEP, TRASH, LEDGER, LOCK
from bear_lib.testing import BIN, snapshot as _snapshot, toy_dataset as toy

def snapshot(root): return _snapshot(root, skip=(LEDGER, LOCK))  # the cleaner's ledger and lock change by design

def show(c, cat, split):
    c.dd_cats.value = cat; c.dd_ds.value = split

def test_marks_survive_dropdown_changes(tiny, dataset):
    c = clean_app(dataset, tiny[1], max_n=5)
    assert c.dd_cats.value == QUEUE and len(c.queue) == 24  # it opens on the ranked queue (`rank_photos`)
    show(c, 'black', 'Train')
    a, b = c.iw.fns[0], c.iw.fns[1]
    dropdowns(c)[0].value = DELETE
    dropdowns(c)[1].value = 'teddy'
    show(c, 'grizzly', 'Valid')
    g = c.iw.fns[0]
    dropdowns(c)[0].value = 'black'
    assert c.count.value == '3 marked: 1 to delete, 2 to relabel'
    for cat in ['teddy', 'black', 'grizzly']:
        for split in ['Train', 'Valid']: show(c, cat, split)
    show(c, 'black', 'Train')
    assert (c.iw.fns[0], c.iw.fns[1]) == (a, b)
    assert dropdowns(c)[:3].attrgot('value') == [DELETE, 'teddy', KEEP]
    show(c, 'grizzly', 'Valid')
    assert c.iw.fns[0] == g and dropdowns(c)[0].value == 'black'
    assert c.marks == {Path(a).resolve(): DELETE, Path(b).resolve(): 'teddy', Path(g).resolve(): 'black'}
    dropdowns(c)[0].value = KEEP
    assert c.count.value == '2 marked: 1 to delete, 1 to relabel'

def test_fastai_cleaner_loses_marks(tiny, dataset):
    "The bug this module fixes (fastai#3084), so the test above could fail"
    from fastai.vision.widgets import ImageClassifierCleaner
    plain = ImageClassifierCleaner(cleaning_learner(dataset, tiny[1]), max_n=3)
    dropdowns(plain)[0].value = DELETE
    show(plain, 'grizzly', 'Train'); show(plain, 'black', 'Train')
    assert dropdowns(plain)[0].value == KEEP

def test_apply_then_undo_restores_files(tiny, dataset):
    before = snapshot(dataset)
    c = clean_app(dataset, tiny[1], max_n=30)  # every photo of a view: the relabelled one is in the new class's, wherever it ranks
    show(c, 'black', 'Train')
    gone, moved = Path(c.iw.fns[0]), Path(c.iw.fns[1])
    dropdowns(c)[0].value = DELETE
    dropdowns(c)[1].value = 'teddy'
    # a file of the same name already in teddy/: the relabel must not overwrite it
    shutil.copy(dataset/'teddy'/sorted(p.name for p in (dataset/'teddy').iterdir())[0], dataset/'teddy'/moved.name)
    before = snapshot(dataset)
    c.btns['preview'].click()
    assert c.status.value == 'Dry run: 1 to delete (move to _trash/); 1 to relabel (black → teddy: 1).'
    assert snapshot(dataset) == before
    c.btns['apply'].click()
    assert c.status.value == '1 deleted (moved to _trash/); 1 relabelled (black → teddy: 1).'
    new = dataset/'teddy'/f'{moved.stem} (1){moved.suffix}'
    assert sha256(dataset/TRASH/'black'/gone.name) == before[f'black/{gone.name}']
    assert sha256(new) == before[f'black/{moved.name}']
    assert sha256(dataset/'teddy'/moved.name) == before[f'teddy/{moved.name}']
    assert Counter(snapshot(dataset).values()) == Counter(before.values())
    assert c.marks == {} and c.count.value == '0 marked: 0 to delete, 0 to relabel'
    # the cleaner follows the moves: the relabelled file is shown under teddy, the deleted one nowhere
    show(c, 'teddy', 'Train')
    assert new.resolve() in c.iw.fns and gone.resolve() not in c.iw.fns
    show(c, 'black', 'Train')
    assert gone.resolve() not in c.iw.fns and moved.resolve() not in c.iw.fns
    rows = read_jsonl(dataset/LEDGER)
    assert sorted((r['action'], r['src'], r['dest']) for r in rows) == [
        ('delete', f'black/{gone.name}', f'{TRASH}/black/{gone.name}'), ('relabel', f'black/{moved.name}', f'teddy/{new.name}')]
    assert all({'sha256', 'time', 'batch'} <= set(r) for r in rows)
    c.btns['undo'].click()
    assert c.status.value == '2 moved back.'
    assert snapshot(dataset) == before
    show(c, 'black', 'Train')
    assert gone.resolve() in c.iw.fns and moved.resolve() in c.iw.fns

def test_undo_all(tiny, dataset):
    before = snapshot(dataset)
    c = clean_app(dataset, tiny[1], max_n=3)
    for cat in ['black', 'grizzly', 'teddy']:
        show(c, cat, 'Valid')
        dropdowns(c)[0].value = DELETE
        c.apply()
    assert len(list((dataset/TRASH).rglob('*.jpg'))) == 3
    c.undo('all')
    assert snapshot(dataset) == before
    assert c.undo('all') == []

def test_csv_apply_undo(tiny, dataset, tmp_path):
    before = snapshot(dataset)
    import pandas as pd
    csv = losses_csv(cleaning_learner(dataset, tiny[1]), tmp_path/'losses.csv', k=4, path=dataset)
    df = pd.read_csv(csv, keep_default_na=False)
    assert len(df) == 4 and df.loss.is_monotonic_decreasing and set(df.split) <= {'train', 'valid'}
    df['action'] = ['delete', 'keep', '', 'teddy' if df.label[3] != 'teddy' else 'black']
    df.to_csv(csv, index=False)
    assert sorted(r['action'] for r in apply_csv(csv, dataset, dry_run=True)) == ['delete', 'relabel']
    assert snapshot(dataset) == before
    rows = apply_csv(csv, dataset)
    assert sorted(r['action'] for r in rows) == ['delete', 'relabel']
    assert (dataset/TRASH/df.file[0]).is_file()
    undo_clean(dataset, 'all')
    assert snapshot(dataset) == before

def test_clear_errors(tiny, dataset):
    with pytest.raises(ValueError, match="use '<Delete>', '<Keep>' or a class name"):
        apply_clean({next((dataset/'black').iterdir()): 'panda'}, dataset)
    with pytest.raises(ValueError, match='not inside the dataset'):
        apply_clean({tiny[1]: DELETE}, dataset)
    with pytest.raises(FileNotFoundError, match='train one with'):
        cleaning_learner(dataset, dataset/'nope.pkl')
    (dataset/'panda').mkdir()
    shutil.copy(next((dataset/'black').iterdir()), dataset/'panda'/'p.jpg')
    with pytest.raises(ValueError, match='clean with a model trained on this dataset'):
        cleaning_learner(dataset, tiny[1])

def test_bear_app_clean_errors(tiny, tmp_path):
    "`bear_app --clean` says what to do when the dataset or the model is missing"
    import subprocess
    def run(*args): return subprocess.run([str(BIN/'bear_app'), *map(str, args)], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    r = run('--clean', tmp_path/'nope', '--model', tiny[1])
    assert r.returncode != 0 and 'No dataset at' in r.stderr
    r = run('--clean', tiny[0])
    assert r.returncode != 0 and 'Cleaning needs a trained model' in r.stderr

# --- The ranked queue (issue 29): the cleaner opens on `rank_photos`' ranking, a page at a time ---
import html, re
import pandas as pd
from bear_lib.suggest import rank_photos
from bear_lib.ledger import save_suggestions, SUGGESTIONS
from bear_lib.testing.plant import plant_mistakes

def tags(c):
    "The text under each photo of the page (each box: image, dropdown, reason)"
    return [html.unescape(re.sub('<[^>]+>', '', b.children[2].value)) for b in c.iw.widget.children]

def expected_tags(rows): return [f'{l} · {r} → {s}' if fl else f'{l} · —' for l,r,s,fl in zip(rows.label, rows.reason, rows.suggested, rows.flagged)]

def test_queue_view(tiny, dataset):
    "The ranking of a dataset with planted mistakes, 5 photos a page: its order, reasons, marks across pages, one click for a page's suggestions, apply and undo"
    plant_mistakes(dataset)
    q = rank_photos(dataset, tiny[1])
    assert q.flagged[:10].any() and not q.flagged[5:10].all(), q.head(10)  # pages 1 and 2 have suggestions, page 2 an unflagged photo
    bad = pd.DataFrame(dict(file=['../outside.jpg', 'black/gone.jpg'], label='black', suggested=DELETE, reason='x', flagged=True))
    c = clean_app(dataset, tiny[1], queue=pd.concat([bad, q, q[:1]], ignore_index=True), max_n=5)  # and the first row again
    n, pages = len(q), -(-len(q) // 5)
    res = lambda rows: [(dataset/f).resolve() for f in rows.file]
    suggested = lambda rows: {(dataset/f).resolve(): s for f,l,s,fl in zip(rows.file, rows.label, rows.suggested, rows.flagged) if fl and s != l}
    assert c.dd_cats.value == QUEUE and c.dd_cats.options[1:] == ('black', 'grizzly', 'teddy') and c.dd_ds.disabled
    assert list(c.iw.fns) == res(q[:5])  # the ranking's head; the rows outside the dataset, gone or listed twice are left out
    assert tags(c) == expected_tags(q[:5])
    assert c.count.value == f'Page 1 of {pages} · 5 of {n} looked at, {n - 5} left · 0 marked: 0 to delete, 0 to relabel'
    assert c.pager['prev'].disabled and not c.pager['next'].disabled
    c.pager['take'].click()
    p1 = suggested(q[:5])
    assert c.marks == p1 and dropdowns(c).attrgot('value') == [p1.get(f, KEEP) for f in res(q[:5])]
    c.pager['next'].click()
    assert list(c.iw.fns) == res(q[5:10]) and tags(c) == expected_tags(q[5:10])
    assert c.count.value.startswith(f'Page 2 of {pages} · 10 of {n} looked at, {n - 10} left · {len(p1)} marked: ')
    i = list(q.flagged[5:10]).index(False)
    dropdowns(c)[i].value = DELETE  # a photo the ranking doesn't flag, marked by hand
    c.pager['take'].click()
    p2 = {**suggested(q[5:10]), res(q[5:10])[i]: DELETE}
    assert c.marks == {**p1, **p2}
    c.pager['prev'].click()
    assert dropdowns(c).attrgot('value') == [p1.get(f, KEEP) for f in res(q[:5])]
    c.pager['next'].click()
    assert dropdowns(c).attrgot('value') == [p2.get(f, KEEP) for f in res(q[5:10])]
    c.dd_cats.value = 'black'  # a category: the Split is back, the marks stay
    assert not c.dd_ds.disabled and c.count.value.startswith(f'{len(p1) + len(p2)} marked: ')
    c.dd_cats.value = QUEUE
    assert list(c.iw.fns) == res(q[5:10])  # back on the page it was on
    # Apply: the files move, the page stays, a relabelled photo says where it came from, a deleted one leaves the queue
    before, marks = snapshot(dataset), dict(c.marks)
    c.btns['apply'].click()
    rows = read_jsonl(dataset/LEDGER)
    assert {(dataset/r['src']).resolve(): r['action'] for r in rows} == {f: 'delete' if v == DELETE else 'relabel' for f,v in marks.items()}
    assert all((dataset/r['dest']).is_file() and not (dataset/r['src']).exists() for r in rows)
    dest = {(dataset/r['src']).resolve(): (dataset/r['dest']).resolve() for r in rows}
    gone = {f for f,v in marks.items() if v == DELETE}
    left = q[[f not in gone for f in res(q)]]
    now = [dest.get(f, f) for f in res(left)]
    came = {dest[f]: f.parent.name for f,v in marks.items() if v != DELETE}
    assert list(c.iw.fns) == now[5:10]
    assert tags(c) == [f'{f.parent.name} · moved from {came[f]}' if f in came else t for f,t in zip(now[5:10], expected_tags(left[5:10]))]
    seen = {dest.get(f, f) for f in res(q[:10]) if f not in gone} | set(now[5:10])  # page 2 now shows photos of page 3 too
    assert c.count.value == (f'Page 2 of {-(-len(left) // 5)} · {len(seen)} of {len(left)} looked at, {len(left) - len(seen)} left · '
                             '0 marked: 0 to delete, 0 to relabel')
    c.btns['undo_all'].click()
    assert snapshot(dataset) == before
    assert list(c.iw.fns) == res(q[5:10]) and tags(c) == expected_tags(q[5:10])
    assert c.count.value.startswith(f'Page 2 of {pages} · {len(seen) + len(gone)} of {n} looked at, {n - len(seen) - len(gone)} left · 0 marked')

def test_ranked_queue_reads_matching_csv(dataset, monkeypatch):
    "`clean_app`'s quick start: `_suggestions.csv` when it lists exactly the dataset's photos now, else a new ranking"
    import bear_lib.clean as cm
    ranked = []
    monkeypatch.setattr(cm, 'rank_photos', lambda path, model=None: ranked.append(path) or 'ranked')
    files = sorted(p.relative_to(dataset).as_posix() for p in dataset.rglob('*.jpg'))
    assert ranked_queue(dataset) == 'ranked'  # no CSV
    df = pd.DataFrame(dict(file=files[::-1], label=[f.split('/')[0] for f in files[::-1]], suggested=KEEP, reason='', flagged=False))
    save_suggestions(pd.concat([df, df[:1].assign(file='../outside.jpg')]), dataset/SUGGESTIONS)  # a row outside: dropped
    assert list(ranked_queue(dataset).file) == files[::-1] and len(ranked) == 1
    shutil.copy(dataset/files[0], dataset/'teddy'/'new.jpg')  # a photo the CSV doesn't list: ranked again
    assert ranked_queue(dataset) == 'ranked' and len(ranked) == 2
    (dataset/'teddy'/'new.jpg').unlink(); (dataset/files[0]).unlink()  # a photo gone that it lists: ranked again
    assert ranked_queue(dataset) == 'ranked' and len(ranked) == 3
    (dataset/SUGGESTIONS).write_bytes(b'\xff\xfe\x00 not a CSV')
    assert ranked_queue(dataset) == 'ranked' and len(ranked) == 4
    # `bear_clean` run twice writes `_suggestions (1).csv`, then `(2)`: the newest that matches is opened, never the first by name
    import os
    cur = df[df.file != files[0]]
    a, b = save_suggestions(cur, dataset/SUGGESTIONS), save_suggestions(cur[::-1], dataset/SUGGESTIONS)
    assert (a.name, b.name) == ('_suggestions (1).csv', '_suggestions (2).csv')
    t = time.time()
    os.utime(a, (t, t)); os.utime(b, (t + 5, t + 5))
    assert list(ranked_queue(dataset).file) == list(cur.file[::-1]) and len(ranked) == 4
    os.utime(a, (t + 10, t + 10))
    assert list(ranked_queue(dataset).file) == list(cur.file) and len(ranked) == 4
    save_suggestions(cur[::-1], dataset/'_suggestions_x.csv'); os.utime(dataset/'_suggestions_x.csv', (t + 20, t + 20))  # not a name it writes
    assert list(ranked_queue(dataset).file) == list(cur.file)


# --- Hostile ledgers, crashes and two writers (issue 10). A toy dataset of tiny files: no model needed. ---
import json, subprocess, sys, time, warnings
import bear_lib.ledger as clean_mod
from bear_lib.ledger import append_jsonl

class Crash(Exception): "A simulated crash (power cut, kill -9) between two steps"

def crash_on(n, f):
    "`f`, but its `n`-th call raises `Crash` instead"
    calls = [0]
    def g(*args, **kwargs):
        calls[0] += 1
        if calls[0] == n: raise Crash(f'crash at call {n}')
        return f(*args, **kwargs)
    return g

def crashed_apply(tmp_path, monkeypatch, name):
    "A toy dataset and its snapshot, after an `apply_clean` that crashed at the second call of `clean_mod.<name>`"
    root = toy(tmp_path/'ds')
    before = snapshot(root)
    monkeypatch.setattr(clean_mod, name, crash_on(2, getattr(clean_mod, name)))
    with pytest.raises(Crash): apply_clean({'black/a.jpg': DELETE, 'black/b.jpg': 'teddy', 'black/c.jpg': DELETE}, root)
    monkeypatch.undo()
    return root, before

def rewrite_ledger(root, rows):
    (root/LEDGER).write_text(''.join(json.dumps(r) + '\n' for r in rows))

def test_undo_refuses_row_leading_outside(tmp_path):
    "A shared dataset's ledger says a trashed file came from '../outside/x.jpg': undo must not move it there"
    root, outside = toy(tmp_path/'ds'), tmp_path/'outside'
    outside.mkdir()
    apply_clean({'black/a.jpg': DELETE}, root)
    rows = read_jsonl(root/LEDGER)
    append_jsonl(root/LEDGER, [dict(rows[0], src='../outside/x.jpg', batch='evil')])
    before = snapshot(root)
    with pytest.raises(ValueError, match=r"\.\./outside/x\.jpg"): undo_clean(root)
    with pytest.raises(ValueError, match=r"\.\./outside/x\.jpg"): undo_clean(root, 'all', dry_run=True)
    assert snapshot(root) == before and list(outside.iterdir()) == []

def test_undo_refuses_absolute_path_before_first_move(tmp_path):
    "One bad row in a batch: the whole batch is refused before its first move, the message names the row"
    root, elsewhere = toy(tmp_path/'ds'), tmp_path/'elsewhere'
    apply_clean({'black/a.jpg': DELETE, 'black/b.jpg': 'teddy', 'grizzly/c.jpg': DELETE}, root)
    rows = read_jsonl(root/LEDGER)
    rows[0]['src'] = str(elsewhere/'a.jpg')
    rewrite_ledger(root, rows)
    before = snapshot(root)
    with pytest.raises(ValueError, match=f"record 1 .*{elsewhere/'a.jpg'}"): undo_clean(root)
    assert snapshot(root) == before and not elsewhere.exists()

@pytest.mark.parametrize('field,value', [
    ('dest', 'notes/a.jpg'),                # not a class folder: undo would read any file of the dataset
    ('dest', '_quarantine/black/a.jpg'),    # only _trash/<class>/ holds cleaned files
    ('src', 'black/../../x.jpg'),           # '..' on the way
    ('src', 'black/sub/a.jpg'),             # not directly in a class folder
    ('src', 'link/a.jpg'),                  # a symlinked folder leading outside
    ('src', 7),                             # not a path at all
    ('sha256', None)])                      # no hash: nothing to check the file against
def test_undo_refuses_malformed_rows(tmp_path, field, value):
    root = toy(tmp_path/'ds')
    (tmp_path/'out').mkdir(); (root/'link').symlink_to(tmp_path/'out')
    apply_clean({'black/a.jpg': DELETE, 'grizzly/a.jpg': DELETE}, root)
    rows = read_jsonl(root/LEDGER)
    rows[1][field] = value
    rewrite_ledger(root, rows)
    before = snapshot(root)
    with pytest.raises(ValueError, match='record 2'): undo_clean(root)
    assert snapshot(root) == before and list((tmp_path/'out').iterdir()) == []

def test_crash_between_move_and_ledger(tmp_path, monkeypatch):
    "A crash after a move: the move must already be in the ledger (write-ahead), so undo brings every file back"
    root, before = crashed_apply(tmp_path, monkeypatch, 'append_jsonl')
    # every file that left its place is in the ledger
    moved = {k for k in before if not (root/k).is_file()}
    assert moved <= set(read_jsonl(root/LEDGER).itemgot('src'))
    undo_clean(root)
    assert snapshot(root) == before

def test_crash_between_ledger_and_move(tmp_path, monkeypatch):
    "A crash after the row is written but before its move: the row is harmless, undo checks the file's sha256"
    root, before = crashed_apply(tmp_path, monkeypatch, 'move_new')
    assert len(read_jsonl(root/LEDGER)) == 2 and (root/'black/b.jpg').is_file()   # a row whose move never happened
    with warnings.catch_warnings():
        warnings.simplefilter('error')   # nothing to warn about: the file never moved
        rows = undo_clean(root)
    assert [(r['action'], r['dest']) for r in rows] == [('undo', 'black/a.jpg')]
    assert snapshot(root) == before

def test_torn_ledger_line(tmp_path):
    "A crash in the middle of writing a ledger line: undo skips it with a warning, the next apply starts a new line"
    root = toy(tmp_path/'ds')
    before = snapshot(root)
    apply_clean({'black/a.jpg': DELETE}, root)
    with open(root/LEDGER, 'ab') as f: f.write(b'{"action": "delete", "src": "black/b.j')
    apply_clean({'grizzly/a.jpg': 'teddy'}, root)
    lines = (root/LEDGER).read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[2])['src'] == 'grizzly/a.jpg'
    with pytest.warns(UserWarning, match='line 2 is not a JSON record'): undo_clean(root, 'all')
    assert snapshot(root) == before

def test_partial_undo_finishes_later(tmp_path, monkeypatch):
    "An undo that crashes half-way is finished by the next undo: undo is recorded per file, not per batch"
    root = toy(tmp_path/'ds')
    before = snapshot(root)
    apply_clean({'black/a.jpg': DELETE, 'black/b.jpg': DELETE, 'black/c.jpg': 'grizzly'}, root)
    monkeypatch.setattr(clean_mod, 'append_jsonl', crash_on(2, clean_mod.append_jsonl))
    with pytest.raises(Crash): undo_clean(root)
    monkeypatch.undo()
    assert snapshot(root) != before
    rows = undo_clean(root)
    assert len(rows) == 2 and {r['action'] for r in rows} == {'undo'}
    assert snapshot(root) == before
    assert undo_clean(root) == []

def test_undo_last_skips_batches_with_nothing_left(tmp_path):
    "The last batch's file was put back by hand: 'undo last' undoes the batch before instead of sticking"
    root = toy(tmp_path/'ds')
    before = snapshot(root)
    apply_clean({'black/a.jpg': DELETE}, root)
    apply_clean({'black/b.jpg': DELETE}, root)
    (root/TRASH/'black'/'b.jpg').rename(root/'black'/'b.jpg')
    rows = undo_clean(root)
    assert [(r['action'], r['dest']) for r in rows] == [('undo', 'black/a.jpg')]
    assert snapshot(root) == before
    assert undo_clean(root) == []

def test_move_never_replaces(tmp_path, monkeypatch):
    "A file appears at the destination after the check (another writer): it is not replaced"
    root = toy(tmp_path/'ds')
    dest = root/TRASH/'black'/'a.jpg'
    a = (root/'black'/'a.jpg').read_bytes()
    mkdir = Path.mkdir
    def racing_mkdir(self, *args, **kwargs):
        mkdir(self, *args, **kwargs)
        if self == dest.parent and not dest.exists(): dest.write_bytes(b'written by another writer')
    monkeypatch.setattr(Path, 'mkdir', racing_mkdir)
    with pytest.raises(FileExistsError): apply_clean({'black/a.jpg': DELETE}, root)
    monkeypatch.undo()
    assert dest.read_bytes() == b'written by another writer'
    assert (root/'black'/'a.jpg').read_bytes() == a

HOLDER = '''
import sys, time
import bear_lib.ledger as c
sha = c.sha256
def slow(fn):
    print('working', flush=True); time.sleep(float(sys.argv[2])); return sha(fn)
c.sha256 = slow
c.apply_clean({sys.argv[3]: c.DELETE}, sys.argv[1])
print('done', time.time(), flush=True)
'''

def test_two_writers(tmp_path):
    "Another process (a second page, the CLI) is cleaning: the second writer waits (bounded) or gets a clear 'in use'"
    root = toy(tmp_path/'ds')
    def holder(secs, fn):
        p = subprocess.Popen([sys.executable, '-c', HOLDER, str(root), str(secs), fn], stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline() == 'working\n'
        return p
    p = holder(4, 'black/a.jpg')
    t = time.time()
    with pytest.raises(TimeoutError, match='in use'): apply_clean({'grizzly/a.jpg': DELETE}, root, wait=0.5)
    with pytest.raises(TimeoutError, match='in use'): undo_clean(root, wait=0.5)
    assert time.time() - t < 2.5 and (root/'grizzly/a.jpg').is_file()
    apply_clean({'grizzly/a.jpg': DELETE}, root, wait=20)   # waits for the other batch to finish, then runs
    done = float(p.stdout.readline().split()[1]); p.wait(timeout=30)
    rows = read_jsonl(root/LEDGER)
    assert rows.itemgot('src') == ['black/a.jpg', 'grizzly/a.jpg'] and rows[1]['time'] >= done - 0.5

def test_symlinked_trash_is_not_followed(tmp_path):
    "A shared dataset whose _trash/ is a symlink to elsewhere: deleting must not move files out of the dataset"
    root, outside = toy(tmp_path/'ds'), tmp_path/'outside'
    outside.mkdir(); (root/TRASH).symlink_to(outside)
    with pytest.raises(ValueError, match='is outside .*refused'): apply_clean({'black/a.jpg': DELETE}, root)
    assert list(outside.iterdir()) == [] and (root/'black/a.jpg').is_file()

def test_lock_file_link_is_not_written(tmp_path):
    "A dataset's .clean.lock that is a symlink to one of the user's files: refused, the file is not truncated"
    root, victim = toy(tmp_path/'ds'), tmp_path/'notes.txt'
    victim.write_text('keep me')
    (root/LOCK).symlink_to(victim)
    with pytest.raises(ValueError, match='not a plain file'): apply_clean({'black/a.jpg': DELETE}, root)
    (root/LOCK).unlink(); (root/LOCK).hardlink_to(victim)
    with pytest.raises(ValueError, match='not a plain file'): undo_clean(root)
    assert victim.read_text() == 'keep me' and (root/'black/a.jpg').is_file()

LOCKER = "import fcntl, sys, time\nf = open(sys.argv[1], 'a+'); fcntl.flock(f, fcntl.LOCK_EX); print('holding', flush=True); time.sleep(60)"

def test_cleaner_says_in_use(tiny, dataset):
    "The page's Apply while another process holds the dataset's lock: a clear 'in use' status, nothing moved, marks kept"
    c = clean_app(dataset, tiny[1], max_n=2, wait=0.3)
    show(c, 'black', 'Train')
    fn = Path(c.iw.fns[0])
    dropdowns(c)[0].value = DELETE
    p = subprocess.Popen([sys.executable, '-c', LOCKER, str(dataset/LOCK)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == 'holding\n'
        c.btns['apply'].click()
        assert c.status.value.startswith(f"Couldn't do that: TimeoutError: {dataset.resolve()} is in use by another cleaner")
        assert fn.is_file() and c.count.value == '1 marked: 1 to delete, 0 to relabel'
    finally: p.kill(); p.wait()
    c.btns['apply'].click()
    assert c.status.value == '1 deleted (moved to _trash/).' and not fn.exists()

def test_ledger_row_on_disk_before_each_move(tmp_path, monkeypatch):
    "Write-ahead means on disk: before every move of apply and of undo, the ledger has been fsynced with that move's row"
    import os
    import bear_lib.ledger as bc
    root = toy(tmp_path/'ds')
    events, fsync, move = [], os.fsync, bc.move_new
    def rec_fsync(fd):
        events.append(('fsync', os.readlink(f'/proc/self/fd/{fd}'), os.fstat(fd).st_size)); return fsync(fd)
    def rec_move(src, dest):
        last = read_jsonl(root/LEDGER)[-1]  # the row of this very move is already in the ledger
        events.append(('move', (last['src'], Path(src).relative_to(root).as_posix()), (root/LEDGER).stat().st_size))
        return move(src, dest)
    monkeypatch.setattr(os, 'fsync', rec_fsync); monkeypatch.setattr(bc, 'move_new', rec_move)
    apply_clean({'black/a.jpg': DELETE, 'grizzly/a.jpg': 'teddy'}, root)
    undo_clean(root)
    moves = [i for i, e in enumerate(events) if e[0] == 'move']
    assert len(moves) == 4, events
    for i in moves:
        assert events[i][1][0] == events[i][1][1], events[i]
        prev = [e for e in events[:i] if e[0] == 'fsync' and e[1] == str((root/LEDGER).resolve())]
        assert prev and prev[-1][2] == events[i][2], events  # the last ledger fsync covered everything the ledger holds now
