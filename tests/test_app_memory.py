"""20 large uploads through the app object in a process of its own, as in a Voilà kernel: memory stays within a stated bound.

The bound: one photo at the app's 25 MP cap decodes to 75 MB of RGB. Decoding, converting and thumbnailing one photo at a time
needs at most about three such buffers at once, so the kernel's peak RSS may rise at most 250 MB above its warm baseline
(the model loaded, two small photos classified, the upload's bytes already in memory) while it answers five 24 MP photos per
click; decoding the five together (the old code) needs ~480 MB. After the second click the RSS may not grow by more than
30 MB over the next 18 (allocator noise), and the widget count not at all (old rows are closed)."""
import json, subprocess, sys
from pathlib import Path
import pytest

CLICKS, PER_CLICK, W, H = 20, 5, 6000, 4000  # 24 MP each, ~14 MB of JPEG noise: large files and many pixels
PEAK_BOUND, GROWTH_BOUND = 250e6, 30e6

@pytest.fixture(scope='module')
def big_photos(tmp_path_factory):
    import numpy as np
    from PIL import Image
    d, rng = tmp_path_factory.mktemp('big'), np.random.default_rng(0)
    for i in range(PER_CLICK):  # noise compresses badly
        Image.fromarray(rng.integers(0, 255, (H, W, 3), dtype=np.uint8)).save(d/f'big{i}.jpg', quality=75)
    return sorted(d.glob('*.jpg'))

def test_20_large_uploads(big_photos):
    r = subprocess.run([sys.executable, str(Path(__file__).parent/'_app_memory.py'), str(CLICKS), *map(str, big_photos)],
                       capture_output=True, text=True, env={**__import__('os').environ, 'OMP_NUM_THREADS': '1'}, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    d = json.loads(r.stdout.strip().splitlines()[-1])
    for lbl in d['labels']:  # every photo answered (noise isn't a bear: the out-of-domain answer), none refused
        assert lbl.count("doesn't look like") == PER_CLICK, lbl
    peak, growth = max(d['peaks']) - d['base'], d['rss'][-1] - d['rss'][1]
    print(f"\n{CLICKS} clicks x {PER_CLICK} photos of {W*H/1e6:.0f} MP ({d['file_bytes']/1e6:.0f} MB of files per click): "
          f"peak {peak/1e6:.0f} MB over the warm baseline {d['base']/1e6:.0f} MB, growth {growth/1e6:+.0f} MB from click 2 to {CLICKS}; "
          f"widgets {d['widgets'][1]} -> {d['widgets'][-1]}")
    assert peak < PEAK_BOUND, peak
    assert growth < GROWTH_BOUND, growth
    assert d['widgets'][1] == d['widgets'][-1], d['widgets']
