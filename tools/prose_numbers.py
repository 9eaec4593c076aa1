#!/usr/bin/env python3
"""List the numbers a notebook's prose states that none of its saved outputs shows: the review aid behind "no prose number
disagrees with the output beside it".

    python tools/prose_numbers.py nbs/02_train.ipynb [more.ipynb ...]

A number in a markdown cell (a decimal, a percentage, a time in s or ms, or any number of three or more digits) is looked for in
the outputs of the notebook's code cells, as written and rounded to one decimal fewer. What is printed is for a person to read:
a figure the book quotes, a year or a count that no cell prints is expected there; a measurement that the output beside it
contradicts is the bug this finds. Exits 0 either way."""
import json, re, sys
from pathlib import Path

NUM = re.compile(r'(?<![\w.])(\d+(?:\.\d+)?)\s*(%|ms|s\b|MB|KB|px)?')

def _texts(nb) -> str:
    "Every output text of the notebook, as one string"
    out = []
    for c in nb['cells']:
        for o in c.get('outputs', []):
            if 'text' in o: out.append(''.join(o['text']))
            for k, v in o.get('data', {}).items():
                if k.startswith('text/'): out.append(''.join(v) if isinstance(v, list) else v)
    return '\n'.join(out)

def _forms(n:str) -> set:
    "`n` as written and rounded to one decimal fewer (28.4 → 28)"
    forms = {n}
    if '.' in n:
        d = len(n.split('.')[1]); forms.add(f'{float(n):.{d-1}f}')
    return forms

def unshown(fn) -> list:
    "(cell id, number, its sentence) for each number of the prose that no output shows"
    nb = json.loads(Path(fn).read_text()); outs, res = _texts(nb), []
    for c in nb['cells']:
        if c['cell_type'] != 'markdown': continue
        src = re.sub(r'`[^`]*`|\(http[^)]*\)|<[^>]+>', ' ', ''.join(c['source']))  # code, links and tags aren't claims
        for m in NUM.finditer(src):
            n, unit = m.groups()
            if not unit and '.' not in n and len(n) < 3: continue  # small counts: "3 classes", "2 cores"
            if not any(f in outs for f in _forms(n)):
                s = src[max(0, m.start() - 60):m.end() + 30].replace('\n', ' ')
                res.append((c['id'], n + (unit or ''), s.strip()))
    return res

if __name__ == '__main__':
    for fn in sys.argv[1:]:
        for cid, n, s in unshown(fn): print(f'{Path(fn).name} {cid}: {n}: ...{s}...')
