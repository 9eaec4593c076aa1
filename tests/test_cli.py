"The console scripts across processes: train on the sample bears, export, predict in a fresh process."
import csv, json, subprocess, sys
from pathlib import Path
import pytest
from conftest import BIN, run

def test_train_export(trained):
    card = json.loads(trained.with_suffix('.json').read_text())
    assert card['vocab'] == ['black', 'grizzly', 'teddy']
    assert card['n_train'] + card['n_valid'] == 371 and card['n_valid'] == 74
    assert card['error_rate'] <= 0.05, card['error_rate']
    assert card['arch'] == 'mobilenet_v2'
    for png in ['confusion_matrix.png', 'top_losses.png']: assert (trained.parent/png).stat().st_size > 1000

def test_sidecar_matches_run(trained, bears):
    "The sidecar describes this data and these libraries"
    from bear_lib.train import dataset_hash, versions
    from bear_lib.data import get_bear_files
    card = json.loads(trained.with_suffix('.json').read_text())
    assert card['dataset_sha256'] == dataset_hash(get_bear_files(bears), bears)
    assert card['versions'] == versions()
    assert card['size'] == 224 and card['seed'] == 42 and card['train_seconds'] > 0

def test_predict_fresh_process(trained, bears, tmp_path):
    "A process that never trained anything loads the export and labels the photos right"
    out = tmp_path/'preds.csv'
    run('bear_predict', bears, '--model', trained, '--csv', out, cwd=tmp_path)
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 371
    assert {'file', 'label', 'probability'} <= set(rows[0])
    right = sum(Path(r['file']).parent.name == r['label'] for r in rows)
    assert right/len(rows) >= 0.97, right

def test_predict_default_model(bears, tmp_path):
    "Without --model, the zero-shot ImageNet model answers"
    fns = [bears/c/f'{c}_0002.jpg' for c in ['black', 'grizzly', 'teddy']]
    r = run('bear_predict', *fns, cwd=tmp_path)
    labels = [l.split('\t')[1] for l in r.stdout.strip().splitlines()]
    assert labels == ['black', 'grizzly', 'teddy']

def test_predict_bad_input(tmp_path):
    (tmp_path/'notes.jpg').write_text('not a photo')
    r = run('bear_predict', tmp_path/'notes.jpg', cwd=tmp_path)
    assert 'ERROR' in r.stdout and 'not an image' in r.stdout
    r = run('bear_predict', tmp_path/'missing.jpg', cwd=tmp_path, check=False)
    assert r.returncode != 0 and 'No such file' in r.stderr
    r = run('bear_predict', tmp_path/'notes.jpg', '--model', tmp_path/'nope.pkl', cwd=tmp_path, check=False)
    assert r.returncode != 0 and 'bear_train' in r.stderr

def test_train_bad_folder(tmp_path):
    r = run('bear_train', '--images', tmp_path/'nothing', '--out', tmp_path/'e.pkl', check=False)
    assert r.returncode != 0 and 'No dataset' in r.stderr

def test_load_checks(trained, tmp_path):
    "Loading warns when the libraries differ from the sidecar's, and refuses files that are not exports"
    import shutil, pickle, warnings
    from bear_lib.infer import load_model
    shutil.copy(trained, tmp_path/'m.pkl')
    card = json.loads(trained.with_suffix('.json').read_text())
    card['versions']['torch'] = '1.6.0'
    (tmp_path/'m.json').write_text(json.dumps(card))
    with pytest.warns(UserWarning, match=r"other library versions.*torch.*1\.6\.0"): m = load_model(tmp_path/'m.pkl')
    assert list(m.vocab) == ['black', 'grizzly', 'teddy']
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter('always')
        load_model(trained)  # the untouched sidecar matches: no version warning
    assert not [w for w in ws if 'other library versions' in str(w.message)]
    (tmp_path/'d.pkl').write_bytes(pickle.dumps({'not': 'a learner'}))
    with pytest.raises(ValueError, match='bear_train'): load_model(tmp_path/'d.pkl')
