"""The human-in-the-loop loop end to end: the service (over HTTP, in-process) answers and queues, users flag, a reviewer decides,
the dataset grows through the cleaning ledger, undo takes it back; and the rollout modes."""
import io, json, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from bear_lib.ledger import LEDGER, undo_clean
from bear_lib.ledger import read_jsonl
from bear_lib.core import sha256
from bear_lib.data import bear_dls, get_bear_files
from bear_lib.log import PredictionLog, predictions
from bear_lib.review import SKIP, ReviewApp, review_answer
from bear_lib.serve import create_app

CLASSES = ['black', 'grizzly', 'teddy']

class ColourModel:
    "A stand-in classifier that needs no weights: the class probabilities are the photo's mean red, green and blue shares"
    vocab, card = CLASSES, dict(id='colour-test', vocab=CLASSES)
    def probs(self, ims, imagenet=False):
        p = np.stack([np.asarray(im, dtype=np.float64).mean((0, 1)) + 1 for im in ims])
        p = p / p.sum(1, keepdims=True)
        return (p, None) if imagenet else p

def jpeg(colour, size=32) -> bytes:
    b = io.BytesIO(); Image.new('RGB', (size, size), colour).save(b, 'JPEG', quality=95); return b.getvalue()

SURE = [jpeg((250, 2 + i, 2)) for i in range(6)]  # black, about 98%
UNSURE = [jpeg((90 + i, 85, 80)) for i in range(4)]  # about a third each: not sure

def post(client, data):
    r = client.post('/predict', content=data, headers={'content-type': 'image/jpeg'})
    assert r.status_code == 200, r.text
    return r.json()

@pytest.fixture
def dataset(tmp_path):
    "A small dataset: two photos in each class folder"
    root = tmp_path/'bears'
    for i,c in enumerate(CLASSES):
        (root/c).mkdir(parents=True)
        for j in range(2): (root/c/f'{j}.jpg').write_bytes(jpeg((40*i, 40*j, 100)))
    return root

def n_train(root) -> int:
    "How many photos `bear_train` would learn from: its DataLoaders' training plus validation items"
    dls = bear_dls(root, size=32, bs=4)
    return len(dls.train_ds) + len(dls.valid_ds)

def test_loop(tmp_path, dataset):
    db = tmp_path/'log.db'
    with TestClient(create_app(model=ColourModel(), log=db, rollout='full')) as client:
        sure = [post(client, d) for d in SURE[:3]]
        unsure = [post(client, d) for d in UNSURE[:2]]
        assert [p['answer'] for p in sure] == ['black']*3 and [p['answer'] for p in unsure] == ['not sure']*2
        assert all(p['shown'] and p['review'] is None for p in sure)
        assert all(p['review'] == 'not sure' for p in unsure)
        # a user says the second confident answer is wrong; full mode kept no photo of it, so the flag brings it
        f = client.post(f"/flag/{sure[1]['id']}", content=SURE[1], headers={'content-type': 'image/jpeg'})
        assert f.status_code == 200 and f.json() == dict(id=sure[1]['id'], review='flagged', photo_kept=True, reviewed=None)
        # a flag without the photo still queues the answer, but there is nothing to add to the dataset
        g = client.post(f"/flag/{sure[2]['id']}")
        assert g.status_code == 200 and g.json()['photo_kept'] is False
        assert client.post('/flag/' + 'x'*500).status_code == 404
    log = PredictionLog(db)
    queue = [r['uid'] for r in log.queue()]
    assert queue == [sure[1]['id'], sure[2]['id'], unsure[0]['id'], unsure[1]['id']]  # flagged first, then oldest first
    assert sure[0]['id'] not in queue

    before, ledger_before = n_train(dataset), len(read_jsonl(dataset/LEDGER))
    assert before == 6
    added = [review_answer(log, unsure[0]['id'], 'grizzly', dataset), review_answer(log, sure[1]['id'], 'teddy', dataset)]
    assert review_answer(log, unsure[1]['id'], SKIP, dataset)['added'] is None
    with pytest.raises(ValueError, match="wasn't kept"): review_answer(log, sure[2]['id'], 'black', dataset)
    assert review_answer(log, sure[2]['id'], SKIP, dataset)['reviewed'] == SKIP
    assert [a['added'] for a in added] == [f"grizzly/{unsure[0]['sha256']}.jpg", f"teddy/{sure[1]['sha256']}.jpg"]
    assert sha256(dataset/added[1]['added']) == sure[1]['sha256']
    assert log.queue() == []
    with pytest.raises(ValueError, match='reviewed already'): review_answer(log, unsure[0]['id'], 'black', dataset)
    rows = read_jsonl(dataset/LEDGER)[ledger_before:]
    assert [(r['action'], r['dest'], r['sha256']) for r in rows] == [
        ('add', added[0]['added'], unsure[0]['sha256']), ('add', added[1]['added'], sure[1]['sha256'])]
    assert len(get_bear_files(dataset)) == 8 and n_train(dataset) == 8  # bear_train's DataLoaders count them
    assert log.get(unsure[0]['id'])['added'] == added[0]['added']

    undo_clean(dataset); undo_clean(dataset)  # one add per batch: undo each
    assert n_train(dataset) == 6
    assert (dataset/'_trash'/added[0]['added']).is_file() and (dataset/'_trash'/added[1]['added']).is_file()  # nothing lost
    log.close()

def test_review_page(tmp_path, dataset):
    "The widget page drives the same decisions: a class button adds the photo, skip only records"
    db = tmp_path/'log.db'
    with TestClient(create_app(model=ColourModel(), log=db, rollout='manual')) as client:
        ids = [post(client, d)['id'] for d in (SURE[0], UNSURE[0])]
    app = ReviewApp(db, dataset)
    assert [b.description for b in app.choices.children] == CLASSES + ['none of these', 'skip']
    assert app.choices.children[0].button_style == 'success'  # the model's best: black
    app.choices.children[1].click()  # grizzly
    assert (dataset/'grizzly'/f"{PredictionLog(db).get(ids[0])['sha256']}.jpg").is_file()
    app.choices.children[-1].click()  # skip
    assert [PredictionLog(db).get(i)['reviewed'] for i in ids] == ['grizzly', 'skip'] and app.choices.children == ()

def test_hostile_photo_path(tmp_path, dataset):
    "A log row whose photo path was changed to a file outside the photo folder never reaches the dataset"
    db = tmp_path/'log.db'
    with TestClient(create_app(model=ColourModel(), log=db, rollout='full')) as client: p = post(client, UNSURE[0])
    log = PredictionLog(db)
    outside = tmp_path/'secret.jpg'; outside.write_bytes(UNSURE[0])  # even with the right bytes
    for bad in [str(outside), str(Path(log.get(p['id'])['photo']).parent/'..'/'..'/'secret.jpg')]:
        with log.engine.begin() as c: c.execute(predictions.update().where(predictions.c.uid == p['id']).values(photo=bad))
        with pytest.raises(ValueError, match="wasn't kept"): review_answer(log, p['id'], 'black', dataset)
    with pytest.raises(ValueError): review_answer(log, p['id'], '../../etc', dataset)
    assert len(get_bear_files(dataset)) == 6 and not (dataset/LEDGER).exists()

def test_manual_rollout(tmp_path):
    "Manual: the answer is logged but not returned, and every photo is queued with its photo kept (no photo folder given)"
    db = tmp_path/'log.db'
    with TestClient(create_app(model=ColourModel(), log=db, rollout='manual')) as client:
        out = [post(client, d) for d in (SURE[0], UNSURE[0])]
        assert client.get('/health').json()['rollout'] == 'manual'
    for p in out:
        assert (p['shown'], p['answer'], p['label'], p['best'], p['probs'], p['review']) == (False, None, None, None, None, 'manual')
        assert 'person' in p['text'] and 'black' not in json.dumps(p)
    log = PredictionLog(db)
    rows = [log.get(p['id']) for p in out]
    assert [r['answer'] for r in rows] == ['black', 'not sure'] and [r['queue'] for r in rows] == ['manual']*2
    assert all(Path(r['photo']).read_bytes() == d for r,d in zip(rows, (SURE[0], UNSURE[0])))
    assert [r['uid'] for r in log.queue()] == [p['id'] for p in out]

def test_limited_rollout_samples(tmp_path):
    "Limited: answers shown; not-sure always queued; about the set share of confident ones sampled (seeded)"
    db = tmp_path/'log.db'
    with TestClient(create_app(model=ColourModel(), log=db, rollout='limited:20', seed=1)) as client:
        out = [post(client, SURE[i % len(SURE)]) for i in range(300)]
        unsure = post(client, UNSURE[0])
    assert all(p['shown'] and p['answer'] == 'black' for p in out) and unsure['review'] == 'not sure'
    sampled = sum(p['review'] == 'sampled' for p in out)
    assert all(p['review'] in ('sampled', None) for p in out)
    assert 40 <= sampled <= 80, sampled  # 20% of 300 = 60; a binomial's sd is about 7
    assert len(PredictionLog(db).queue()) == sampled + 1

def test_full_rollout_queues_only_unsure_and_flagged(tmp_path):
    db = tmp_path/'log.db'
    with TestClient(create_app(model=ColourModel(), log=db, rollout='full')) as client:
        sure = [post(client, SURE[i % len(SURE)]) for i in range(100)]
        unsure = [post(client, d) for d in UNSURE]
        client.post(f"/flag/{sure[7]['id']}")
    assert all(p['review'] is None for p in sure) and all(p['review'] == 'not sure' for p in unsure)
    assert {r['uid'] for r in PredictionLog(db).queue()} == {sure[7]['id'], *(p['id'] for p in unsure)}
    assert all(PredictionLog(db).get(p['id'])['photo'] is None for p in sure)  # the operator kept no photos

def test_bear_serve_refuses_unknown_rollout():
    r = subprocess.run([sys.executable, '-c', 'from bear_lib.cli import bear_serve; bear_serve()', '--rollout', 'half'],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "Rollout 'half' isn't known" in r.stderr

def test_symlinked_class_folder(tmp_path, dataset):
    "A class folder that is a symlink out of the dataset (a hostile dataset) is refused: nothing is written through it"
    elsewhere = tmp_path/'elsewhere'; elsewhere.mkdir()
    (dataset/'panda').symlink_to(elsewhere, target_is_directory=True)
    db = tmp_path/'log.db'
    with TestClient(create_app(model=ColourModel(), log=db, rollout='full')) as client: p = post(client, UNSURE[0])
    with pytest.raises(ValueError, match='symlink'): review_answer(db, p['id'], 'panda', dataset)
    assert list(elsewhere.iterdir()) == [] and PredictionLog(db).get(p['id'])['reviewed'] is None

def test_review_page_in_browser(tmp_path, dataset, serve_app, browser):
    "`bear_app --review` in Chromium: the queue's photo is shown, a class button adds it to the dataset, undo takes it back"
    db = tmp_path/'log.db'
    with TestClient(create_app(model=ColourModel(), log=db, rollout='full')) as client: p = post(client, UNSURE[0])
    url = serve_app('--review', dataset, '--log', db)
    page = browser.new_page()
    try:
        page.goto(url)
        page.get_by_text('1 to review').wait_for(timeout=120_000)
        assert page.locator('img').first.get_attribute('src').startswith('blob:')  # the kept photo is on the page
        page.get_by_role('button', name='grizzly', exact=True).click()
        page.get_by_text('Nothing to review.').wait_for(timeout=60_000)
        added = dataset/'grizzly'/f"{PredictionLog(db).get(p['id'])['sha256']}.jpg"
        assert added.read_bytes() == UNSURE[0] and PredictionLog(db).get(p['id'])['reviewed'] == 'grizzly'
        assert page.get_by_text('Added to grizzly/').count() == 1
        page.get_by_role('button', name='Undo last add').click()
        page.get_by_text('1 moved back').wait_for(timeout=60_000)
        assert not added.exists() and [f.read_bytes() for f in (dataset/'_trash').rglob('*.jpg')] == [UNSURE[0]]  # nothing lost
    finally: page.close(run_before_unload=True)
