"""Run every `bench/*.py --quick` in this one process, in turn: each one's seconds and `ratio=` line, or the end of its output and
exit status 1 at the first one that fails or prints no `ratio=` line. Each one's output (its child processes' too) goes to
`LOGS/NAME.log`.

    python tools/bench_quick.py [--logs .cache/bench] [NAME ...]

Why one process: a benchmark's quick run is a few seconds of work, and importing torch, fastai and bear_lib again for each one
cost more than that (written by hand because pytest's runner would report pass/fail, not the `ratio=` figure each must print).
"""
import argparse, os, re, runpy, sys, time, traceback
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent/'bench'

def _run(fn:Path, log:Path) -> int:
    "Run `fn --quick` as `__main__` with fds 1 and 2 going to `log`; its exit status"
    sys.stdout.flush(); sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    argv = sys.argv
    with open(log, 'w') as f:
        os.dup2(f.fileno(), 1); os.dup2(f.fileno(), 2)
        try:
            sys.argv = [str(fn), '--quick']
            runpy.run_path(str(fn), run_name='__main__')
            rc = 0
        except SystemExit as e: rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException: traceback.print_exc(); rc = 1
        finally:
            sys.argv = argv
            sys.stdout.flush(); sys.stderr.flush()
            os.dup2(saved[0], 1); os.dup2(saved[1], 2)
            for s in saved: os.close(s)
    return rc

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('names', nargs='*', help='benchmarks to run (default: every bench/*.py)')
    ap.add_argument('--logs', default='.cache/bench', help='folder for each one\'s output')
    a = ap.parse_args()
    logs = Path(a.logs); logs.mkdir(parents=True, exist_ok=True)
    fns = [BENCH/f'{n}.py' for n in a.names] if a.names else sorted(BENCH.glob('*.py'))
    sys.path.insert(0, str(BENCH))
    t00 = time.time()
    for fn in fns:
        log = logs/f'{fn.stem}.log'
        t0 = time.time(); rc = _run(fn, log); secs = time.time() - t0
        text = log.read_text(errors='replace').replace('\r', '\n')
        ratio = re.findall(r'ratio=\S+', text)
        if rc or not ratio:
            print('\n'.join(text.splitlines()[-30:]))
            print(f'{fn.name} --quick failed after {secs:.1f} s ({f"exit status {rc}" if rc else "no ratio= line"}): {log}', flush=True)
            sys.exit(1)
        print(f'bench/{fn.name:<20} {secs:6.1f} s  {ratio[-1]}', flush=True)
    print(f'{len(fns)} benchmarks, quick, in {time.time() - t00:.0f} s')

if __name__ == '__main__': main()
