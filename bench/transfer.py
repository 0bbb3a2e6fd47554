"""Own pretraining on digits 0-4, reused for 5-9, against the same CNN from scratch.

Prints, per seed and averaged, the held-out error on digits 5-9 of the reused
network and of the network trained from scratch on the same 20 images per
class, and their ratio (issue target: <= 0.6).

    python bench/transfer.py --seeds 0 1 2
"""

import argparse
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras_bigmodels.training.own_pretraining import train_own_pretraining  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--shots", type=int, default=20)
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as out:
        for seed in args.seeds:
            r = train_own_pretraining(seed=seed, shots=args.shots, out=out)
            rows.append((1 - r.transfer_accuracy, 1 - r.scratch_accuracy))
            print(
                f"seed {seed}: scratch error {100 * rows[-1][1]:.2f}%  reused error "
                f"{100 * rows[-1][0]:.2f}%  ratio {r.error_ratio:.2f}x",
                flush=True,
            )
    reused = sum(t for t, _ in rows) / len(rows)
    scratch = sum(s for _, s in rows) / len(rows)
    print(
        f"mean: scratch error {100 * scratch:.2f}%  reused error {100 * reused:.2f}%  "
        f"ratio {reused / scratch:.2f}x (target <= 0.60x)"
    )


if __name__ == "__main__":
    main()
