"""Own pretraining on digits 0-4, reused for 5-9, against two networks from scratch.

Prints, per seed and averaged, the held-out error on digits 5-9 of the reused
network and of two networks trained from scratch on the same 20 images per
class: the article's network as it is, and the same network with the
augmentation and dropout the reused one trains with. Ratios are reused error
over scratch error (issue target: <= 0.6).

    python bench/transfer.py --seeds 0 1 2 3 4
"""

import argparse
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras_bigmodels.workflows.own_pretraining import train_own_pretraining  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--shots", type=int, default=20)
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as out:
        for seed in args.seeds:
            r = train_own_pretraining(seed=seed, shots=args.shots, out=out)
            row = [1 - r.transfer_accuracy, 1 - r.article_scratch_accuracy]
            rows.append(row + [1 - r.scratch_accuracy])
            print(
                f"seed {seed}: reused error {100 * rows[-1][0]:.2f}%  article's "
                f"network from scratch {100 * rows[-1][1]:.2f}% "
                f"(ratio {r.article_error_ratio:.2f}x)  scratch with augmentation "
                f"{100 * rows[-1][2]:.2f}% (ratio {r.error_ratio:.2f}x)",
                flush=True,
            )
    reused, article, scratch = (sum(col) / len(rows) for col in zip(*rows, strict=True))
    print(
        f"mean over {len(rows)} seeds: reused error {100 * reused:.2f}%\n"
        f"  article's network from scratch {100 * article:.2f}%: ratio "
        f"{reused / article:.2f}x (target <= 0.60x)\n"
        f"  scratch with augmentation and dropout {100 * scratch:.2f}%: ratio "
        f"{reused / scratch:.2f}x"
    )


if __name__ == "__main__":
    main()
