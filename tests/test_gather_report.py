"""`bear_gather`'s duplicates report on real photos: a summary on the terminal, every duplicate file once in `DEST/_duplicates.csv`,
the worst groups in `_duplicates.png`; and its progress: one log line per stage in a file, a bar on a terminal.

The clouds (`shared/data/clouds`, 750 photos of five genera as a public dataset scraped them) are gathered into a folder of the
test's own (read only: `--from-folder` copies). Their counts below are what `find_duplicates` finds there: 25 photos filed twice
byte for byte, each under two genera, and near copies beside them."""
import os, pty, re, shutil, subprocess, sys
from pathlib import Path
import pandas as pd
import pytest
from PIL import Image
from bear_lib.testing import BIN, run_logged

CLOUDS = Path(os.environ.get('BEARS_DIR', '../shared/data/bears')).resolve().parent/'clouds'
GENERA = ['Altocumulus', 'Cirrus', 'Cumulonimbus', 'Cumulus', 'Stratus']


@pytest.mark.skipif(not CLOUDS.is_dir(), reason='no shared/data/clouds beside the bears')
def test_gather_clouds_report(tmp_path):
    "A summary of a few lines, not a line per group; the CSV lists each duplicate file once, with the counts of the clouds"
    ds = tmp_path/'clouds'
    text = run_logged(tmp_path/'gather.log', 'bear_gather', '--from-folder', CLOUDS, '--dest', ds, cwd=tmp_path)
    assert '\r' not in text, text[:2000]  # no bar redraws in a log
    for g in GENERA: assert len(re.findall(rf'^.* download {g}: 150 files in \d+\.\d s$', text, re.M)) == 1, text
    assert len(re.findall(r'^.* hash clouds: 750 photos in \d+\.\d s$', text, re.M)) == 1, text
    assert '42 groups of duplicates, 88 files:' in text, text
    assert 'exact copies:    0 within one class, 22 across classes' in text and 'near duplicates: 5 within one class, 15 across classes' in text, text
    assert '  Cumulonimbus & Cumulus: 27\n' in text and '5 copies within a class to be moved to _quarantine (--dedupe moves them)' in text, text
    assert len(text.splitlines()) < 30, text  # a summary: 42 groups are not 42 lines
    df = pd.read_csv(ds/'_duplicates.csv', keep_default_na=False)
    assert len(df) == 88 and df.file.is_unique, df  # every duplicate file, once
    assert df.group.nunique() == 42 and df[df.cross_class].group.nunique() == 37
    assert all((ds/f).is_file() and f.split('/')[0] == c for f,c in zip(df.file, df['class']))
    assert set(df[df.cross_class].action) == {'review'} and (df.action == 'quarantine').sum() == 5
    assert all(set(c.split('|')) == set(df[df.group == g]['class']) for g,c in zip(df.group, df.classes))
    shas = df.groupby('sha256')['class'].agg(list)
    twice = shas[shas.map(len) > 1]
    assert len(twice) == 25 and all(len(set(c)) == 2 for c in twice)  # the same bytes under two genera, 25 times
    with Image.open(ds/'_duplicates.png') as im: assert im.format == 'PNG' and im.height > 8*100
    # a second run writes a new report beside the first, which stays as it was
    before = (ds/'_duplicates.csv').read_bytes()
    text = run_logged(tmp_path/'gather2.log', 'bear_gather', '--from-folder', CLOUDS, '--dest', ds, cwd=tmp_path)
    assert (ds/'_duplicates.csv').read_bytes() == before and (ds/'_duplicates (1).csv').is_file() and (ds/'_duplicates (1).png').is_file()
    assert f"{ds/'_duplicates (1).csv'}" in text, text

def test_gather_dedupe_planted(tmp_path, bears):
    "Planted copies: a smaller re-compressed copy within a class is moved by --dedupe; a copy under another class is left, for review"
    src = tmp_path/'src'
    for c in ('black', 'grizzly'):
        (src/c).mkdir(parents=True)
        for f in sorted((bears/c).iterdir())[:5]: shutil.copy(f, src/c/f.name)
    g = sorted((src/'grizzly').iterdir())
    with Image.open(g[0]) as im: im.resize((im.width*3//4, im.height*3//4)).save(src/'grizzly'/'smaller.jpg', quality=70)
    shutil.copy(g[1], src/'black'/'filed_twice.jpg')
    ds = tmp_path/'ds'
    text = run_logged(tmp_path/'gather.log', 'bear_gather', '--from-folder', src, '--dest', ds, '--dedupe', cwd=tmp_path)
    assert '\r' not in text and '2 groups of duplicates, 4 files:' in text and '  black & grizzly: 1\n' in text, text
    assert '1 copy within a class moved to _quarantine' in text, text
    df = pd.read_csv(ds/'_duplicates.csv', keep_default_na=False)
    one = lambda prefix: df[df.file.str.startswith(prefix)].iloc[0]  # the files were renamed on the way in: `smaller_<hash>.jpg`
    small, twice = one('grizzly/smaller_'), one('black/filed_twice_')
    mate = lambda r: df[(df.group == r.group) & (df.file != r.file)].squeeze()  # the other file of its group (each has two)
    kept, orig = mate(small), mate(twice)
    assert small.action == 'quarantined' and small.moved_to.startswith('_quarantine/grizzly/smaller_') and kept.action == 'keep'
    assert twice.action == orig.action == 'review' and orig['class'] == 'grizzly'
    assert twice.kind == 'exact' and twice.classes == 'black|grizzly' and len(df) == 4
    assert not (ds/small.file).exists() and (ds/small.moved_to).is_file() and (ds/twice.file).is_file()

def test_gather_bar_on_terminal(tmp_path, bears):
    "On a terminal (a pseudo-terminal here) the bars draw, and the log lines that stand for them in a file don't"
    m, s = pty.openpty()
    p = subprocess.Popen([str(BIN/'bear_gather'), '--from-folder', str(bears), '--max', '3', '--dest', str(tmp_path/'ds')],
                         stdin=s, stdout=s, stderr=s, cwd=tmp_path, close_fds=True)
    os.close(s)
    out = b''
    while True:
        try: b = os.read(m, 1 << 16)
        except OSError: break  # the process closed its end
        if not b: break
        out += b
    os.close(m)
    assert p.wait(timeout=120) == 0, out
    text = out.decode(errors='replace')
    assert '\r |' in text and '100.00% [3/3' in text, text  # fastprogress's bar, drawn and redrawn
    assert 'download black: ' not in text and '9 URLs: ok 9' in text, text
