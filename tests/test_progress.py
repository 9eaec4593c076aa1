"""A redirected `bear_train` and `bear_predict` write a log, not progress bars: no `\\r` redraws, one line per stage (each epoch,
the predictions) with its count and time."""
import re, subprocess
from pathlib import Path
from bear_lib.testing import BIN, run_logged


def test_train_predict_log(tmp_path, bears):
    from bear_lib.gather import import_folder
    import_folder(bears, tmp_path/'ds', n_per_class=8)
    text = run_logged(tmp_path/'train.log', 'bear_train', '--images', tmp_path/'ds', '--out', tmp_path/'m'/'export.pkl',
                   '--recipe', 'fine_tune', '--epochs', 2, '--size', 64, '--bs', 8, cwd=tmp_path)
    assert '\r' not in text and '█' not in text, text[:3000]
    epochs = re.findall(r'^.* INFO bear_lib\.core: epoch (\d)/2: train_loss [\d.]+, valid_loss [\d.]+, error_rate [\d.]+, time \d\d:\d\d$', text, re.M)
    assert epochs == ['1', '2'], text  # the head only (the classes are ImageNet's): one fit of 2 epochs, a line each
    text = run_logged(tmp_path/'predict.log', 'bear_predict', tmp_path/'ds', '--model', tmp_path/'m'/'export.pkl', '--no-log', cwd=tmp_path)
    assert '\r' not in text and '█' not in text, text[:3000]
    assert len(re.findall(r'^.* INFO bear_lib\.core: predict: 24 files in \d+\.\d s$', text, re.M)) == 1, text
    assert len([l for l in text.splitlines() if '\t' in l]) == 24, text  # and the answers, one line a photo
    # the pickle of a learner trained without bars (its logger is `bear_lib.core.log_epoch`) loads and answers on PyTorch
    text = run_logged(tmp_path/'torch.log', 'bear_predict', tmp_path/'ds', '--model', tmp_path/'m'/'export.pkl', '--backend', 'torch', '--no-log', cwd=tmp_path)
    assert 'on PyTorch' in text and len([l for l in text.splitlines() if '\t' in l]) == 24 and '\r' not in text, text
