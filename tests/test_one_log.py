"One prediction log for the app, the service and bear_predict: the same answer for the same photo from all three, every answer once"
import threading
import pytest
from PIL import Image
from bear_lib.testing import start_serve, stop_app, post_many, bear_photos, run, fake_upload
from bear_lib.log import PredictionLog

def _mixed(bears, dest):
    "A folder of bears, pictures that aren't bears (scikit-image's) and a broken file"
    from skimage import data
    dest.mkdir()
    for f in bear_photos(bears, 66)[60:]: (dest/f.name).write_bytes(f.read_bytes())
    for name in ('astronaut', 'coffee', 'chelsea', 'rocket'): Image.fromarray(getattr(data, name)()).save(dest/f'{name}.jpg', quality=90)
    (dest/'broken.jpg').write_bytes(b'not a photo at all' * 10)
    return sorted(dest.iterdir())

@pytest.mark.slow
def test_one_log_same_answers(bears, tmp_path):
    db = tmp_path/'log.db'
    mixed = _mixed(bears, tmp_path/'mixed')
    load = [f.read_bytes() for f in bear_photos(bears, 50)]
    p, url = start_serve('--log', db, '--workers', 2, cwd=tmp_path)
    out = {}
    def cli(): out['cli'] = run('bear_predict', tmp_path/'mixed', '--log', db, cwd=tmp_path)
    def app():
        from bear_lib.app import BearApp
        a = BearApp(log=PredictionLog(db))  # the zero-shot model, as `bear_app` serves it without --model
        a.upload.value = tuple(fake_upload(f) for f in mixed)
        out['app'] = a.classify()
    try:
        ts = [threading.Thread(target=cli), threading.Thread(target=app)]
        for t in ts: t.start()
        rs = post_many(url + '/predict', load + [f.read_bytes() for f in mixed])  # 50 bears and the mixed folder, all at once
        for t in ts: t.join()
    finally: stop_app(p)
    good = [f for f in mixed if f.name != 'broken.jpg']
    codes = [r.status_code for r in rs]
    assert codes == [200] * len(load) + [422 if f.name == 'broken.jpg' else 200 for f in mixed], codes  # broken: refused, not logged
    assert 'broken.jpg\terror' in out['cli'].stdout and "Can't classify broken.jpg" in out['app']
    df = PredictionLog(db).frame()
    assert df.uid.is_unique
    n = len(load) + len(good)
    assert df.source.value_counts().to_dict() == {'service': n, 'cli': len(good), 'app': len(good)}
    assert sorted(df[df.source == 'service'].uid) == sorted(r.json()['id'] for r in rs if r.status_code == 200)  # each answer once
    # the same photo, the same answer, whichever way it came in
    import hashlib
    for f in good:
        rows = df[df.sha256 == hashlib.sha256(f.read_bytes()).hexdigest()]
        assert set(rows.source) == {'service', 'cli', 'app'}, (f.name, rows.source.tolist())
        assert rows.text.nunique() == 1 and rows.answer.nunique() == 1, (f.name, rows[['source', 'answer', 'text']])
    assert {'none of these'} <= set(df.answer) and {'grizzly', 'black', 'teddy'} & set(df.answer)
