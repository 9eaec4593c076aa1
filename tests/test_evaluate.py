"Honest evaluation of a trained export: a test folder's error in the sidecar, and the fitted temperature used by both backends."
import json, shutil
import numpy as np
from bear_lib.testing import trained_model

def test_train_records_test_folder(tiny, tmp_path):
    "`bear_train --test DIR` writes the error on DIR and its number of photos into the sidecar, beside the validation error"
    data, _ = tiny
    pkl = trained_model(data, tmp_path, epochs=1, size=64, bs=8, test=data)
    card = json.loads(pkl.with_suffix('.json').read_text())
    assert card['n_test'] == 24 and 0 <= card['test_error_rate'] <= 1
    lo, hi = card['test_ci95']
    assert lo <= card['test_error_rate'] <= hi
    assert card['test_dataset'] == data.name and str(data) not in json.dumps(card)  # the folder's name, never its path
    assert 'error_rate' in card and 'n_valid' in card  # the validation error is still there

def test_temperature_in_sidecar_used_by_both_backends(tiny, tmp_path):
    "The sidecar's temperature softens the probabilities on ONNX Runtime and PyTorch alike; T=1 gives the raw ones"
    from bear_lib.bundle import load_model
    from bear_lib.images import load_image
    data, pkl = tiny
    card = json.loads(pkl.with_suffix('.json').read_text())
    assert 0.5 <= card['temperature'] <= 5  # fitted on the validation photos by `export_model`
    ims = [load_image(f) for f in sorted(data.rglob('*.jpg'))[:6]]
    probs = {}
    for T in (1, 4):
        d = tmp_path/f't{T}'; d.mkdir()
        for f in pkl.parent.glob('export.*'): shutil.copy2(f, d/f.name)
        c = dict(card, temperature=T)
        (d/'export.json').write_text(json.dumps(c))
        probs[T] = [load_model(d/'export.pkl', backend=b).probs(ims) for b in ('onnx', 'torch')]
    for T in probs: assert np.abs(probs[T][0] - probs[T][1]).max() < 1e-4  # the backends agree at each temperature
    raw, soft = probs[1][0], probs[4][0]
    assert (soft.max(1) < raw.max(1) - 1e-6).all()  # hotter: less sure of every photo
    assert (soft.argmax(1) == raw.argmax(1)).all()  # the same classes
    z = np.log(np.clip(raw, 1e-12, None)) / 4  # as `calibrate` does: a probability of 0 stays tiny
    np.testing.assert_allclose(soft, np.exp(z) / np.exp(z).sum(1, keepdims=True), atol=1e-4)

def test_head_oof_finds_a_planted_label_error(dataset):
    "`head_oof`: every photo once, in stratified folds; a teddy filed under grizzly has the highest out-of-fold loss of its class"
    import pytest
    from bear_lib.train import head_oof
    from bear_lib.testing import toy_dataset
    teddy = sorted((dataset/'teddy').glob('*.jpg'))[0]
    planted = shutil.move(teddy, dataset/'grizzly'/teddy.name)
    oof = head_oof(dataset, folds=2, size=64)
    assert sorted(oof.file) == sorted(str(f) for f in dataset.glob('*/*.jpg'))
    assert (oof.groupby('fold').label.value_counts().min()) >= 3  # stratified: each fold holds several photos of each class
    assert np.allclose(oof.filter(like='p_').sum(axis=1), 1, atol=1e-5)
    grizzly = oof[oof.label == 'grizzly'].sort_values('loss', ascending=False)
    assert grizzly.file.iloc[0] == str(planted), grizzly.head(3)
    pets = head_oof(toy_dataset(dataset.parent/"pets", classes=("cat", "dog"), size=32), folds=2, size=32)  # class names ImageNet hasn't: the same cached-feature path
    assert len(pets) == len(list((dataset.parent/"pets").glob("*/*"))) and set(pets.label) == {"cat", "dog"}
