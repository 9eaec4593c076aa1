"The build tool behind `make outputs`: a notebook run as nbdev_test runs it, its outputs written back, small and seeded"
import sys, os
from pathlib import Path
import pytest
from execnb.nbio import read_nb, new_nb, mk_cell, write_nb
sys.path.insert(0, str(Path(__file__).parents[1]/'tools'))
from run_nb import run_nb, _as_shown, _shown

def assert_eq(a, b): assert a == b, (a, b)

def test_as_shown():
    bar = '█\repoch  train_loss\n\rEpoch 1/1 : |---| 0% [0/3]\rEpoch 1/1 : |███| 100% [3/3]\r            \r0      1.23\n'
    assert _as_shown(bar) == 'epoch  train_loss\n0      1.23\n'
    assert _shown([dict(output_type='stream', name='stderr', text=['\r |--| 0%\r', '    \r'])]) == []
    shown = dict(output_type='display_data', data={'text/plain': 'x'}, metadata={})
    assert _shown([shown, dict(output_type='execute_result', data={}, metadata={}, execution_count=None)]) == [shown]

def test_run_nb(tmp_path, monkeypatch):
    "A plain cell, an `eval: false` cell, a `slow` cell, a figure, a seeded number, an Output widget; a failing notebook is left untouched"
    monkeypatch.chdir(Path(__file__).parents[1]/'nbs')  # nbdev's settings, as `make outputs` runs it
    d = tmp_path
    src = ['print("hi")', '#| eval: false\nprint("never")', '#| slow\nprint("slow")',
           'import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0]);', 'import random; random.random()',
           'import ipywidgets\nout = ipywidgets.Output()\nwith out: print("in the widget")\nprint("on the page")']
    write_nb(new_nb([mk_cell(s) for s in src]), d/'t.ipynb')
    ran = run_nb(d/'t.ipynb')
    outs = [c.get('outputs', []) for c in read_nb(d/'t.ipynb').cells]
    assert_eq(outs[0][0]['text'], ['hi\n'])
    assert_eq((outs[1], outs[2]), ([], []))
    fig = outs[3][0]['data']
    assert_eq(sorted(fig), ['image/jpeg', 'text/plain'])
    assert len(fig['image/jpeg']) < 20_000
    first = outs[4]
    assert_eq(outs[5][0]['text'], ['on the page\n'])
    run_nb(d/'t.ipynb', flags='slow')
    outs = [c.get('outputs', []) for c in read_nb(d/'t.ipynb').cells]
    assert_eq(outs[2][0]['text'], ['slow\n'])
    assert_eq(outs[4], first) # seeded: the same number again
    run_nb(d/'t.ipynb') # without the flag, the slow cell keeps what its last run showed
    assert_eq([c.get('outputs', []) for c in read_nb(d/'t.ipynb').cells][2][0]['text'], ['slow\n'])
    assert '"execution_count": null' in (d/'t.ipynb').read_text() and '"execution_count": 1' not in (d/'t.ipynb').read_text()
    write_nb(new_nb([mk_cell('print("hi")'), mk_cell('1/0')]), d/'bad.ipynb')
    before = (d/'bad.ipynb').read_text()
    with pytest.raises(RuntimeError): run_nb(d/'bad.ipynb')
    assert_eq((d/'bad.ipynb').read_text(), before)

def test_widget_state_saved(tmp_path, monkeypatch):
    "The widgets an output shows are saved with their state (children and an Output widget's contents too); a page without widgets has none"
    import json
    monkeypatch.chdir(Path(__file__).parents[1]/'nbs')
    src = ['import ipywidgets as w\nout = w.Output()\nwith out: print("in the widget")\nbox = w.VBox([w.Label("a label"), out])\nbox',
           'hidden = w.Label("never shown")']
    write_nb(new_nb([mk_cell(s) for s in src]), tmp_path/'w.ipynb')
    run_nb(tmp_path/'w.ipynb')
    nb = json.loads((tmp_path/'w.ipynb').read_text())
    state = nb['metadata']['widgets']['application/vnd.jupyter.widget-state+json']['state']
    shown = nb['cells'][0]['outputs'][0]['data']['application/vnd.jupyter.widget-view+json']['model_id']
    assert shown in state and state[shown]['model_name'] == 'VBoxModel'
    text = json.dumps(state)
    assert 'a label' in text and 'in the widget' in text and 'never shown' not in text
    write_nb(new_nb([mk_cell('print(1)')]), tmp_path/'p.ipynb')
    run_nb(tmp_path/'p.ipynb')
    assert 'widgets' not in json.loads((tmp_path/'p.ipynb').read_text())['metadata']

def test_output_widget_cleared(tmp_path, monkeypatch):
    "`clear_output` empties an Output widget as Jupyter does (no erase codes), and a widget shown in it is saved with its children"
    import json
    monkeypatch.chdir(Path(__file__).parents[1]/'nbs')
    src = ['import ipywidgets as w\nout = w.Output()\nout',
           'old = w.VBox([w.Label("old answer")])\nwith out: display(old)\nout.clear_output()\nold.close()\n'
           'with out: display(w.VBox([w.Label("new answer")]))',
           'out.clear_output(wait=True)\nwith out: print("after the wait")\nwith out: print("and more")']
    write_nb(new_nb([mk_cell(s) for s in src]), tmp_path/'o.ipynb')
    run_nb(tmp_path/'o.ipynb')
    nb = json.loads((tmp_path/'o.ipynb').read_text())
    state = nb['metadata']['widgets']['application/vnd.jupyter.widget-state+json']['state']
    out = state[nb['cells'][0]['outputs'][0]['data']['application/vnd.jupyter.widget-view+json']['model_id']]['state']
    assert_eq([o.get('text') for o in out['outputs']], ['after the wait\n', 'and more\n'])
    text = json.dumps(state)
    assert '\\u001b' not in text and 'old answer' not in text
    write_nb(new_nb([mk_cell(s) for s in src[:2]]), tmp_path/'o.ipynb')
    run_nb(tmp_path/'o.ipynb')
    nb = json.loads((tmp_path/'o.ipynb').read_text())
    state = nb['metadata']['widgets']['application/vnd.jupyter.widget-state+json']['state']
    out = state[nb['cells'][0]['outputs'][0]['data']['application/vnd.jupyter.widget-view+json']['model_id']]['state']
    shown, = [o['data']['application/vnd.jupyter.widget-view+json']['model_id'] for o in out['outputs']]
    assert state[shown]['model_name'] == 'VBoxModel' and 'new answer' in json.dumps(state) and 'old answer' not in json.dumps(state)
