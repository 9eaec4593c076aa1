#!/usr/bin/env python3
"""Run a notebook as `nbdev_test` does and write its outputs into it: the build tool behind `make outputs`.

    cd nbs && python ../tools/run_nb.py 01_data.ipynb --flags slow
"""
# fastai commits its notebooks with their outputs, so a learner sees every batch, plot and table on GitHub before running anything.
# `run_nb` writes those outputs. It runs the notebook through nbdev's own `test_nb`, the function `nbdev_test` calls for each notebook
# (execnb's `CaptureShell`, the same working folder, `#| eval: false` skipped, a cell with a flag of settings.ini's `tst_flags` run
# only when `flags` names it), keeps what each run cell printed and showed, empties the outputs of `#| eval: false` cells (a cell whose flag wasn't asked
# for keeps what its last run with the flag showed), and
# cleans the file with `nbdev_clean` (no execution counts, no metadata; outputs kept). Nothing is written when a cell fails.
#
# Figures are JPEGs at 60 dpi (a show_batch of photos is a tenth of the size of the default retina PNG), and `random`, numpy and
# torch are seeded before the first cell, so running twice gives the same pictures; torch's deprecation warning about `torch.jit.script`, raised while fastai is imported, is silenced, and other warnings are shown without the file they came from (a local path). Stream outputs are
# kept as Jupyter shows them (each line after its last carriage return), so a progress bar leaves its final state, not every step. What a cell shows inside an `Output` widget stays in the widget, as in
# Jupyter (without a kernel it would spill onto the page: every thumbnail of a cleaner), and its `clear_output` empties it (without a kernel
# it printed a terminal's erase codes into it, and the widget kept every answer the app had shown, each of them closed since). The state of every widget an output shows (and of the widgets
# inside it, an `Output` widget with what was shown in it, widgets too) is saved in the notebook's `metadata.widgets`, as Jupyter's "Save Widget State"
# does, so GitHub and JupyterLab draw a cleaner without a kernel. (Timings printed by training are the one thing
# that still changes from run to run.) `make outputs` runs it on each notebook of the main path.
from __future__ import annotations
import json, re, sys
from pathlib import Path

_PRELUDE = """
import random, warnings, numpy, matplotlib
warnings.filterwarnings('ignore', message='`torch.jit.script` is deprecated') # torch's, raised inside fastai's import: noise on the page
warnings.formatwarning = lambda msg, cat, *a, **kw: f'{cat.__name__}: {msg}\\n' # the warning without the file it came from (a local path)
from matplotlib_inline.backend_inline import set_matplotlib_formats
set_matplotlib_formats('jpeg', pil_kwargs=dict(quality=80, optimize=True))
matplotlib.rcParams.update({'figure.dpi': 60, 'savefig.dpi': 60})
random.seed(42); numpy.random.seed(42)
try:
    import torch; torch.manual_seed(42)
except ImportError: pass
# Without a kernel, what a cell shows inside an `Output` widget would land on the page; in Jupyter it is in the widget
import ipywidgets
from IPython.utils.capture import capture_output
def _small(data):
    "A displayed image as a JPEG, as the figures are (a cleaner's PNG thumbnails are ten times the size)"
    if 'image/png' not in data: return data
    import base64, io
    from PIL import Image
    v = data['image/png']
    raw = v if isinstance(v, bytes) and v.startswith(b'\\x89PNG') else base64.b64decode(v)
    b = io.BytesIO(); Image.open(io.BytesIO(raw)).convert('RGB').save(b, 'JPEG', quality=75, optimize=True)
    return {**{k: v for k, v in data.items() if k != 'image/png'}, 'image/jpeg': base64.b64encode(b.getvalue()).decode()}
def _out_enter(self): self._bear_cap = capture_output(); self._bear_io = self._bear_cap.__enter__(); return self
def _out_exit(self, *exc):
    self._bear_cap.__exit__(*exc)
    # what Jupyter's front end would have put into the widget: kept in its state, so a saved page can draw it
    outs = [dict(output_type='display_data', data=_small(o.data), metadata={}) for o in self._bear_io.outputs]
    if self._bear_io.stdout: outs.insert(0, dict(output_type='stream', name='stdout', text=self._bear_io.stdout))
    if outs: self.outputs = (() if getattr(self, '_bear_wait', False) else tuple(self.outputs)) + tuple(outs); self._bear_wait = False
def _out_clear(self, wait=False):
    "Empty the widget as Jupyter's front end does (with `wait`, when the next output comes), not print a terminal's erase codes into it"
    if wait: self._bear_wait = True
    else: self.outputs, self._bear_wait = (), False
ipywidgets.Output.__enter__, ipywidgets.Output.__exit__, ipywidgets.Output.clear_output = _out_enter, _out_exit, _out_clear
"""

def _as_shown(text:str) -> str:
    "Stream text as Jupyter shows it: each line is what follows its last carriage return (progress bars leave only their end)"
    lines = [l.split('\r')[-1] if '\r' in l else l for l in text.split('\n')]
    return '\n'.join(l for l, o in zip(lines, text.split('\n')) if l.strip() or '\r' not in o)

def _shown(outs:list) -> list:
    "`outs` with their stream texts as shown, and streams left empty and results with nothing in them dropped"
    for o in outs:
        if o.get('output_type') == 'stream': o['text'] = _as_shown(''.join(o['text'])).splitlines(True)
    # an object that displays itself (`_ipython_display_`, as `BearApp`) leaves an empty result: Jupyter shows none, nbconvert warns
    return [o for o in outs if (''.join(o['text']).strip() if o.get('output_type') == 'stream' else
                                o.get('output_type') != 'execute_result' or o.get('data'))]

def _keeping_shell(ran:dict):
    "execnb's `CaptureShell` with small figures and seeds, recording in `ran` (id → outputs) every cell it runs"
    from execnb.shell import CaptureShell
    class _Shell(CaptureShell):
        def __init__(self, path=None, **kw):
            super().__init__(path, **kw)
            self.run(_PRELUDE)
        def cell(self, cell, *args, **kw):
            cell.outputs = []  # a cell that shows nothing this time loses what it showed last time
            super().cell(cell, *args, **kw)
            ran[cell.id] = _shown(json.loads(json.dumps(cell.outputs)))
    return _Shell

def _widget_state(outputs:list) -> dict|None:
    "The state of the widgets these outputs show and of every widget inside them, as Jupyter saves it in `metadata.widgets`"
    try: import ipywidgets
    except ImportError: return None
    from ipywidgets.widgets.widget import _instances as live  # every widget alive in this process, by model id
    todo = [d['model_id'] for outs in outputs for o in outs for d in [o.get('data', {}).get('application/vnd.jupyter.widget-view+json')] if d]
    seen = set()
    while todo:
        i = todo.pop()
        if i in seen or i not in live: continue
        seen.add(i)
        # a child, layout or style is named `IPY_MODEL_<id>`; a widget shown inside an Output widget is a view in its outputs
        todo += [a or b for a, b in re.findall(r'IPY_MODEL_([0-9a-f]+)|"model_id": "([0-9a-f]+)"', json.dumps(live[i].get_state(), default=lambda o: ''))]
    if not seen: return None
    return ipywidgets.Widget.get_manager_state(drop_defaults=True, widgets=[live[i] for i in seen])

def run_nb(fn, # the notebook to run and write back with its outputs
           flags:str='', # space-separated flags whose cells run too, as `nbdev_test --flags` (e.g. 'slow browser')
          ) -> dict: # cell id → outputs, for the cells that ran
    "Run `fn` as `nbdev_test` does, write each cell's outputs into it, and clean it as `nbdev_clean` does"
    from unittest import mock
    from fastcore.xtras import working_directory
    import nbdev.test
    from nbdev.config import get_config
    from nbdev.clean import nbdev_clean
    from execnb.nbio import read_nb, write_nb
    fn, cfg, ran = Path(fn).absolute(), get_config(), {}
    with mock.patch.object(nbdev.test, 'CaptureShell', _keeping_shell(ran)), working_directory(cfg.nbs_path):
        ok, _ = nbdev.test.test_nb(fn, skip_flags=cfg.tst_flags.split(), force_flags=flags.split(), basepath=cfg.config_path)
    if not ok: raise RuntimeError(f"{fn.name} failed (its traceback is above); the file was left as it was")
    from nbdev.process import extract_directives
    nb = read_nb(fn)
    for c in nb.cells:
        if c.cell_type != 'code': continue
        if c.id in ran: c.outputs = ran[c.id]
        elif extract_directives(c, remove=False).get('eval:', [''])[0].lower() == 'false': c.outputs = []
        # else: a cell whose flag wasn't asked for keeps what its last run with the flag showed
    state = _widget_state([c.outputs for c in nb.cells if c.cell_type == 'code'])
    if state: nb.metadata['widgets'] = {'application/vnd.jupyter.widget-state+json': state}
    else: nb.metadata.pop('widgets', None)
    write_nb(nb, fn)
    nbdev_clean(fname=str(fn))
    return ran

if __name__ == '__main__':
    import argparse
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('notebooks', nargs='+', help='notebooks to run and write back')
    p.add_argument('--flags', default='', help="flags whose cells run too, e.g. 'slow browser'")
    a = p.parse_args()
    for fn in a.notebooks: run_nb(fn, a.flags)
