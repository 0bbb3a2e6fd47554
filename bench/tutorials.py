"""How long each tutorial takes: fast mode (the tests) and reader mode.

Each notebook runs cell by cell in a fresh kernel, offline, exactly as the
tests run it (`tests/notebooks.py`); fast mode sets `KBM_TUTORIAL_FAST=1`,
reader mode leaves it unset (what a reader gets). Targets on 2 cores: at most
90 s per notebook in fast mode, at most 10 minutes in reader mode.

    .venv/bin/python bench/tutorials.py                 # zh, fast mode
    .venv/bin/python bench/tutorials.py --reader 03 05  # reader mode, two notebooks
    .venv/bin/python bench/tutorials.py --reader --keep out/  # and keep the outputs
"""

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.notebooks import ROOT, notebooks, run  # noqa: E402

TARGETS = {"fast": 90.0, "reader": 600.0}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("numbers", nargs="*", help="notebook numbers (default: all)")
    parser.add_argument("--reader", action="store_true", help="reader mode")
    parser.add_argument("--lang", default="zh", choices=("zh", "en"))
    parser.add_argument(
        "--keep", metavar="DIR", help="write the executed notebooks (outputs) here"
    )
    args = parser.parse_args(argv)
    mode = "reader" if args.reader else "fast"
    paths = [
        p
        for p in notebooks(args.lang)
        if not args.numbers or os.path.basename(p)[:2] in args.numbers
    ]
    print(f"{mode} mode, target <= {TARGETS[mode]:.0f} s, {os.cpu_count()} CPUs")
    for path in paths:
        with tempfile.TemporaryDirectory() as workdir:
            kept = None
            if args.keep:
                os.makedirs(args.keep, exist_ok=True)
                kept = os.path.join(args.keep, os.path.basename(path))
            seconds = run(path, workdir, fast=not args.reader, timeout=1800, keep=kept)
        verdict = "ok" if seconds <= TARGETS[mode] else "OVER"
        print(
            f"{os.path.relpath(path, ROOT):<45} {seconds:7.1f} s  {verdict}", flush=True
        )


if __name__ == "__main__":
    main()
