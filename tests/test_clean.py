"The cleaner driven from code: marks survive dropdown changes; apply then undo gives back exactly the same files."
import shutil
from collections import Counter
from pathlib import Path
import pytest
from bear_lib.gather import import_folder
from bear_lib.core import sha256, read_jsonl
from bear_lib.clean import (Cleaner, clean_app, cleaning_learner, apply_clean, undo_clean, losses_csv, apply_csv,
                            DELETE, KEEP, TRASH, LEDGER)

@pytest.fixture(scope='session')
def tiny(tmp_path_factory, bears):
    "A dataset of 8 sample photos per class and a model trained on it (64 px, 1 epoch): (dataset, export)"
    from bear_lib.train import train, export_model
    root = tmp_path_factory.mktemp('tiny')
    import_folder(bears, root/'bears', n_per_class=8)
    learn = train(root/'bears', epochs=1, size=64, bs=8)
    export_model(learn, root/'export.pkl')
    return root/'bears', root/'export.pkl'

@pytest.fixture
def dataset(tiny, tmp_path):
    "A fresh copy of the tiny dataset (without its manifest) for one test"
    dest = tmp_path/'bears'
    shutil.copytree(tiny[0], dest, ignore=shutil.ignore_patterns('*.jsonl'))
    return dest

def snapshot(root):
    "{relative path: sha256} of every file under `root` except the ledger"
    return {p.relative_to(root).as_posix(): sha256(p) for p in Path(root).rglob('*') if p.is_file() and p.name != LEDGER}

def dd(c, i): return c.iw.widget.children[i].children[1]

def show(c, cat, split):
    c.dd_cats.value = cat; c.dd_ds.value = split

def test_marks_survive_dropdown_changes(tiny, dataset):
    c = clean_app(dataset, tiny[1], max_n=5)
    show(c, 'black', 'Train')
    a, b = c.iw.fns[0], c.iw.fns[1]
    dd(c, 0).value = DELETE
    dd(c, 1).value = 'teddy'
    show(c, 'grizzly', 'Valid')
    g = c.iw.fns[0]
    dd(c, 0).value = 'black'
    assert c.count.value == '3 marked: 1 to delete, 2 to relabel'
    for cat in ['teddy', 'black', 'grizzly']:
        for split in ['Train', 'Valid']: show(c, cat, split)
    show(c, 'black', 'Train')
    assert (c.iw.fns[0], c.iw.fns[1]) == (a, b)
    assert (dd(c, 0).value, dd(c, 1).value, dd(c, 2).value) == (DELETE, 'teddy', KEEP)
    show(c, 'grizzly', 'Valid')
    assert c.iw.fns[0] == g and dd(c, 0).value == 'black'
    assert c.marks == {Path(a).resolve(): DELETE, Path(b).resolve(): 'teddy', Path(g).resolve(): 'black'}
    dd(c, 0).value = KEEP
    assert c.count.value == '2 marked: 1 to delete, 1 to relabel'

def test_fastai_cleaner_loses_marks(tiny, dataset):
    "The bug this module fixes (fastai#3084), so the test above could fail"
    from fastai.vision.widgets import ImageClassifierCleaner
    plain = ImageClassifierCleaner(cleaning_learner(dataset, tiny[1]), max_n=3)
    dd(plain, 0).value = DELETE
    show(plain, 'grizzly', 'Train'); show(plain, 'black', 'Train')
    assert dd(plain, 0).value == KEEP

def test_apply_then_undo_restores_files(tiny, dataset):
    before = snapshot(dataset)
    c = clean_app(dataset, tiny[1], max_n=4)
    show(c, 'black', 'Train')
    gone, moved = Path(c.iw.fns[0]), Path(c.iw.fns[1])
    dd(c, 0).value = DELETE
    dd(c, 1).value = 'teddy'
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
        dd(c, 0).value = DELETE
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
    from conftest import BIN
    def run(*args): return subprocess.run([str(BIN/'bear_app'), *map(str, args)], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    r = run('--clean', tmp_path/'nope', '--model', tiny[1])
    assert r.returncode != 0 and 'No dataset at' in r.stderr
    r = run('--clean', tiny[0])
    assert r.returncode != 0 and 'Cleaning needs a trained model' in r.stderr
