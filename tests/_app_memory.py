"Not a test (no test_ prefix): the child process of tests/test_app_memory.py: a BearApp as in a kernel, fed large uploads; prints its memory as JSON"
import json, sys
from pathlib import Path
import psutil, torch
import ipywidgets as widgets
from bear_lib.app import BearApp
from bear_lib.imagenet import ImageNetBears
from bear_lib.testing import fake_upload

def _f(name, data): return fake_upload(data, name=name)

def _hwm() -> int:
    "Peak RSS since the last `_reset_hwm`, in bytes (Linux's VmHWM)"
    return next(int(l.split()[1]) * 1024 for l in open('/proc/self/status') if l.startswith('VmHWM:'))

def _reset_hwm(): Path('/proc/self/clear_refs').write_text('5')

def main(clicks, *photos):
    torch.set_num_threads(1)
    app, me = BearApp(ImageNetBears()), psutil.Process()
    photos = [Path(p).read_bytes() for p in photos]
    app.upload.value = (_f('warm.jpg', photos[0]),); app.btn.click()  # the first pass allocates the model's buffers
    app.upload.value = (_f('warm.jpg', photos[0]),); app.btn.click()
    base = me.memory_info().rss
    _reset_hwm()
    rss, peaks, nwidgets, labels = [], [], [], []
    for c in range(int(clicks)):
        app.upload.value = tuple(_f(f'big{c}_{i}.jpg', p) for i,p in enumerate(photos))
        app.btn.click()
        rss.append(me.memory_info().rss); peaks.append(_hwm()); nwidgets.append(len(widgets.Widget.widgets))
        labels.append(app.lbl.value)
    print(json.dumps(dict(base=base, rss=rss, peaks=peaks, widgets=nwidgets, file_bytes=sum(map(len, photos)), labels=labels)))

if __name__ == '__main__': main(*sys.argv[1:])
