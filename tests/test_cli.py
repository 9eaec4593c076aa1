"The console scripts across processes: train on the sample bears, export, predict in a fresh process."
import csv, json, os, shutil, subprocess
from pathlib import Path
import pytest
from bear_lib.testing import BIN, run

def _hopper():
    import matplotlib.cbook
    return Path(matplotlib.cbook.get_sample_data('grace_hopper.jpg', asfileobj=False))

def _lines(stdout):
    "bear_predict's lines as (file, answer, label, probability, text)"
    return [l.split('\t') for l in stdout.strip().splitlines()]

def test_train_export(trained):
    card = json.loads(trained.with_suffix('.json').read_text())
    assert card['vocab'] == ['black', 'grizzly', 'teddy']
    assert card['n_train'] == 371 and card['n_valid'] == 0  # the features recipe: every photo in training, measured by cross-validation
    assert card['cv']['folds'] == 5 and card['cv']['n'] == 371 and card['recipe'] in {r['candidate'] for r in card['cv']['candidates']}
    assert card['error_rate'] <= 0.05, card['error_rate']
    assert card['error_rate'] == min(r['error_rate'] for r in card['cv']['candidates'] if r['candidate'] == card['recipe'])
    assert card['arch'] == 'efficientnet_lite0'  # the default for class names ImageNet has
    onnx = trained.with_suffix('.onnx')
    assert onnx.stat().st_size > 1_000_000 and card['onnx']['file'] == onnx.name
    assert card['preprocess'] == dict(size=224, resample='bilinear', resize='random', val_xtra=0.14,
                                      mean=pytest.approx([0.5]*3), std=pytest.approx([0.5]*3))  # timm's Lite0 takes [-1, 1]
    for png in ['confusion_matrix.png', 'top_losses.png']: assert (trained.parent/png).stat().st_size > 1000

def test_sidecar_matches_run(trained, bears):
    "The sidecar describes this data and these libraries"
    from bear_lib.train import dataset_hash
    from bear_lib.bundle import versions
    from bear_lib.data import get_bear_files
    card = json.loads(trained.with_suffix('.json').read_text())
    assert card['dataset_sha256'] == dataset_hash(get_bear_files(bears), bears)
    assert card['versions'] == versions()
    assert card['size'] == 224 and card['seed'] == 42 and card['train_seconds'] > 0

def test_sidecar_has_no_machine_paths(trained, bears):
    "The card names the dataset and its hash, never a path of the training machine"
    text = trained.with_suffix('.json').read_text()
    card = json.loads(text)
    assert card['dataset'] == bears.resolve().name and 'path' not in card
    for p in {str(bears), str(bears.resolve()), str(trained.parent), str(Path.home())}: assert p not in text, p

def test_predict_fresh_process(trained, bears, tmp_path):
    "A process that never trained anything loads the export and labels the photos right"
    out = tmp_path/'preds.csv'
    run('bear_predict', bears, '--model', trained, '--csv', out, cwd=tmp_path)
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 371
    assert list(rows[0])[:5] == ['file', 'answer', 'label', 'probability', 'text']
    right = sum(Path(r['file']).parent.name == r['label'] for r in rows)
    assert right/len(rows) >= 0.97, right
    assert sum(r['answer'] == r['label'] for r in rows)/len(rows) >= 0.9  # answered, not "not sure"
    assert all(r['answer'] in (r['label'], 'not_sure', 'none_of_these') for r in rows)

def test_predict_same_answer_as_app(trained, bears, tmp_path):
    "bear_predict says what the app says, photo for photo: bears, a person, a file that is not a photo"
    from bear_lib.app import BearApp
    from bear_lib.testing import fake_upload
    from bear_lib.bundle import load_model
    from skimage import data
    from PIL import Image
    Image.fromarray(data.astronaut()).save(tmp_path/'astronaut.png')
    (tmp_path/'notes.jpg').write_text('not a photo')
    fns = [bears/'grizzly'/'grizzly_0002.jpg', bears/'black'/'black_0002.jpg', _hopper(), tmp_path/'astronaut.png', tmp_path/'notes.jpg']
    for model in ([trained], []):
        r = run('bear_predict', *fns, *(['--model', *model] if model else []), cwd=tmp_path)
        got = _lines(r.stdout)
        app = BearApp(load_model(*model))
        for f,(_, ans, label, prob, text) in zip(fns, got):
            app.upload.value = (fake_upload(f),)
            shown = app.classify()
            assert text in shown, (f.name, text, shown)
        assert [l[1] for l in got] == ['grizzly', 'black', 'none_of_these', 'none_of_these', 'error'], got

def test_predict_default_model(trained, bears, tmp_path):
    "Without --model, the zero-shot ImageNet model answers, even with an export.pkl in the folder (its help says so)"
    shutil.copy(trained, tmp_path/'export.pkl')
    fns = [bears/c/f'{c}_0002.jpg' for c in ['black', 'grizzly', 'teddy']] + [_hopper()]
    r = run('bear_predict', *fns, cwd=tmp_path)
    assert [l[1] for l in _lines(r.stdout)] == ['black', 'grizzly', 'teddy', 'none_of_these']
    assert 'zero-shot' in r.stderr and 'export.pkl' not in r.stderr
    # a default export in $BEAR_MODEL is used, and the command says which file it loaded
    env = {**os.environ, 'BEAR_MODEL': str(trained)}
    r = subprocess.run([str(BIN/'bear_predict'), str(fns[1])], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.returncode == 0 and f'$BEAR_MODEL: {trained}' in r.stderr and 'Trained model' in r.stderr, r.stderr

def test_predict_bad_input(tmp_path):
    (tmp_path/'notes.jpg').write_text('not a photo')
    r = run('bear_predict', tmp_path/'notes.jpg', cwd=tmp_path, check=False)
    assert _lines(r.stdout)[0][1] == 'error' and 'not an image' in r.stdout
    assert r.returncode == 1 and 'could be read as a photo' in r.stderr  # nothing usable: a script can tell
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
    from bear_lib.bundle import load_model
    shutil.copy(trained, tmp_path/'m.pkl'); shutil.copy(trained.with_suffix('.bank.npy'), tmp_path/'m.bank.npy')
    card = json.loads(trained.with_suffix('.json').read_text())
    card['versions']['torch'] = '1.6.0'
    card['ood']['file'] = 'm.bank.npy'
    (tmp_path/'m.json').write_text(json.dumps(card))
    with pytest.warns(UserWarning, match=r"other library versions.*torch.*1\.6\.0"): m = load_model(tmp_path/'m.pkl')
    assert list(m.vocab) == ['black', 'grizzly', 'teddy']
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter('always')
        load_model(trained)  # the untouched sidecar matches: no version warning
    assert not [w for w in ws if 'other library versions' in str(w.message)]
    (tmp_path/'d.pkl').write_bytes(pickle.dumps({'not': 'a learner'}))
    with pytest.raises(ValueError, match='bear_train'): load_model(tmp_path/'d.pkl')


# ---- Exit codes a script can trust (issue 20): 1 with a sentence on stderr when no input could be used, 0 when some could

def _photo_and_note(folder, bears, photo=True):
    "`folder` with one real photo (if `photo`) and a text file named like a photo"
    folder.mkdir(parents=True)
    if photo: shutil.copy(bears/'black'/'black_0002.jpg', folder/'bear.jpg')
    (folder/'notes.jpg').write_text('not a photo')
    return folder

def test_gather_exit_codes(tmp_path, bears):
    "All URLs refused or broken: exit 1 and say so; one good photo among bad ones: exit 0 with the counts"
    # loopback addresses only (refused before connecting: a regression would still send nothing off this machine)
    urls = ['http://127.0.0.1/a.jpg', 'http://[::1]/b.jpg', 'http://[::ffff:127.0.0.1]/c.jpg', 'http://127.0.0.1:8080/d.jpg',
            'ftp://127.0.0.1/e.jpg']
    (tmp_path/'urls.txt').write_text(''.join(f'black {u}\n' for u in urls))
    r = run('bear_gather', '--urls', tmp_path/'urls.txt', '--dest', tmp_path/'ds', cwd=tmp_path, check=False, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    assert '5 URLs: blocked 4, bad_url 1' in r.stdout, r.stdout
    assert 'No photo gathered' in r.stderr and 'manifest.jsonl' in r.stderr and 'Traceback' not in r.stderr, r.stderr
    # a folder whose only "photo" is a text file: nothing usable either
    only_bad = _photo_and_note(tmp_path/'bad'/'black', bears, photo=False).parent
    r = run('bear_gather', '--from-folder', only_bad, '--dest', tmp_path/'ds2', cwd=tmp_path, check=False, timeout=120)
    assert r.returncode == 1 and '1 URLs: not_image 1' in r.stdout and 'No photo gathered' in r.stderr, r.stdout + r.stderr
    # one good, one bad: partial success is success, with the counts
    mixed = _photo_and_note(tmp_path/'mixed'/'black', bears).parent
    r = run('bear_gather', '--from-folder', mixed, '--dest', tmp_path/'ds3', cwd=tmp_path, check=False, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert '2 URLs: ' in r.stdout and 'ok 1' in r.stdout and 'not_image 1' in r.stdout, r.stdout
    assert [f.name for f in (tmp_path/'ds3'/'black').iterdir()] != []

def test_predict_exit_codes(tmp_path, bears):
    "bear_predict exits 1 when no file is a photo (or there is no image file at all), 0 when at least one is"
    bad = _photo_and_note(tmp_path/'bad', bears, photo=False)
    (bad/'readme.txt').write_text('not an image file either')
    r = run('bear_predict', bad, '--no-log', cwd=tmp_path, check=False, timeout=120)
    assert r.returncode == 1 and 'None of the 1 files could be read as a photo' in r.stderr, r.stdout + r.stderr
    assert [l[1] for l in _lines(r.stdout)] == ['error']  # the line that says why is still printed
    (bad/'notes.jpg').unlink()
    r = run('bear_predict', bad, '--no-log', cwd=tmp_path, check=False, timeout=120)
    assert r.returncode == 1 and 'No image file' in r.stderr and not r.stdout, r.stdout + r.stderr
    mixed = _photo_and_note(tmp_path/'mixed', bears)
    r = run('bear_predict', mixed, '--no-log', cwd=tmp_path, check=False, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(l[1] for l in _lines(r.stdout)) == ['black', 'error'], r.stdout


def test_light_paths_never_import_torch(tmp_path):
    "A missing dataset is said before torch is imported, and a suggestions CSV is applied and undone without it: a `torch` that fails on import, first on the path, proves it"
    from bear_lib.testing import toy_dataset
    from bear_lib.ledger import LEDGER
    poison = tmp_path/'poison'/'torch'; poison.mkdir(parents=True)
    (poison/'__init__.py').write_text("raise ImportError('torch was imported')")
    env = {**os.environ, 'PYTHONPATH': str(poison.parent)}
    def run(*args): return subprocess.run([str(BIN/args[0]), *map(str, args[1:])], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    model = tmp_path/'export.pkl'; model.write_bytes(b'never read')
    for args in (('bear_train', '--images', tmp_path/'nothing'), ('bear_eval', '--images', tmp_path/'nothing'), ('bear_clean', tmp_path/'nothing'),
                 ('bear_app', '--clean', tmp_path/'nothing', '--model', model)):
        r = run(*args)
        assert r.returncode == 1 and r.stderr.startswith(f'No dataset at {tmp_path/"nothing"}'), (args, r.stderr[-2000:])
    ds = toy_dataset(tmp_path/'ds')
    (tmp_path/'s.csv').write_text('file,label,suggested,reason,flagged\nblack/a.jpg,black,<Delete>,a test,True\nteddy/b.jpg,teddy,grizzly,a test,True\n')
    r = run('bear_clean', ds, '--suggestions', tmp_path/'s.csv', '--apply-top', 'flagged')
    assert r.returncode == 0 and '1 deleted' in r.stdout and '1 relabelled' in r.stdout, r.stdout + r.stderr[-2000:]
    assert (ds/'_trash'/'black'/'a.jpg').is_file() and (ds/'grizzly'/'b (1).jpg').is_file()  # the toy has a grizzly/b.jpg: never replaced
    r = run('bear_clean', ds, '--undo')
    assert r.returncode == 0 and (ds/'black'/'a.jpg').is_file() and (ds/'teddy'/'b.jpg').is_file(), r.stdout + r.stderr[-2000:]
    assert len((ds/LEDGER).read_text().splitlines()) == 4  # two moves, two undos
