"Random sequences of marks, applies, undos and files appearing: no file is ever lost or overwritten."
import tempfile
from collections import Counter
from pathlib import Path
from hypothesis import given, settings, strategies as st, HealthCheck
from bear_lib.core import sha256
from bear_lib.clean import apply_clean, undo_clean, read_jsonl, DELETE, KEEP, TRASH, LEDGER

CLASSES, NAMES = ['black', 'grizzly', 'teddy'], ['a.jpg', 'b.jpg', 'a (1).jpg']

def snapshot(root):
    return {p.relative_to(root).as_posix(): sha256(p) for p in Path(root).rglob('*') if p.is_file() and p.name != LEDGER}

def class_files(root):
    return sorted(p for c in CLASSES for p in (root/c).glob('*') if p.is_file())

ops = st.one_of(
    st.tuples(st.just('mark'), st.integers(0, 50), st.sampled_from([DELETE, KEEP, *CLASSES])),
    st.tuples(st.just('apply')),
    st.tuples(st.just('undo_last')),
    st.tuples(st.just('undo_all')))
new_file = st.tuples(st.just('new_file'), st.integers(0, 50))

@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ops, max_size=30))
def test_undo_restores_exactly(seq):
    "Marks, applies and undos alone: every undo gives back exactly the files before its apply; nothing lost on the way"
    run(seq)

@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(ops, new_file), max_size=30))
def test_no_file_lost_or_overwritten(seq):
    "With files appearing where moved files used to be, nothing is lost or overwritten (undo renames instead)"
    run(seq)

def run(seq):
    with tempfile.TemporaryDirectory() as d:
        root, n = Path(d), 0
        for c in CLASSES:
            (root/c).mkdir()
            for name in NAMES[:2]: (root/c/name).write_bytes(f'file {n}'.encode()); n += 1
        initial = snapshot(root)
        contents = Counter(initial.values())   # every file's content is unique, so an overwrite loses one
        marks, stack, exact = {}, [], True     # stack: snapshots before each apply not undone yet
        seen = set(class_files(root))          # every path a class file has had
        for op in seq:
            if op[0] == 'mark':
                fs = class_files(root)
                if fs: marks[fs[op[1] % len(fs)]] = op[2]
            elif op[0] == 'apply':
                before = snapshot(root)
                preview = apply_clean(marks, root, dry_run=True)
                rows = apply_clean(marks, root)
                assert [(r['action'], r['dest']) for r in rows] == [(r['action'], r['dest']) for r in preview]
                moved = [r for r in rows if r['action'] != 'skip']
                for r in moved:
                    assert sha256(root/r['dest']) == r['sha256'] == before[r['src']]
                    assert r['dest'].startswith(f'{TRASH}/') == (r['action'] == 'delete')
                    marks.pop(root/r['src'], None)
                if moved: stack.append(before)
            elif op[0] == 'undo_last':
                undo_clean(root, 'last')
                if stack:
                    expected = stack.pop()
                    if exact: assert snapshot(root) == expected
            elif op[0] == 'undo_all':
                undo_clean(root, 'all')
                if stack and exact: assert snapshot(root) == stack[0]
                stack = []
            elif op[0] == 'new_file':
                # someone adds a file where a moved file used to be: undo must not overwrite it
                free = sorted(p for p in seen if not p.exists())
                if free:
                    p = free[op[1] % len(free)]
                    p.write_bytes(f'file {n}'.encode()); n += 1
                    contents[sha256(p)] += 1
                    exact = False
            seen.update(class_files(root))
            assert Counter(snapshot(root).values()) == contents
        undo_clean(root, 'all')
        assert Counter(snapshot(root).values()) == contents
        if exact: assert snapshot(root) == initial
        assert all(not p.is_file() for p in (root/TRASH).rglob('*')) or not exact
