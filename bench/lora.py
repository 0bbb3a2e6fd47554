"""LoRA against fine-tuning every weight, on the package's own transfer task.

`train_own_pretraining` (what `keras-bigmodels transfer` runs) per seed and
per LoRA learning rate: the article's CNN pretrained on digits 0-4, reused
for 5-9 from 20 labelled images per class; after the head phase, either
every weight fine-tunes (Adam 1e-3, body cut at Flatten) or LoRA rank R on
the body up to the hidden Dense layer. Fine-tuning every weight gets the
workflow's `fine_tune_epochs` (60) and LoRA its `lora_epochs` (250); pass
`--fine-tune-epochs 250` to give both the same. Prints the held-out error of
each, LoRA's error over full fine-tuning's, the trainable fraction, per seed
and averaged. The target: LoRA rank 4 within 1.25x of full fine-tuning with
at most 5% of the parameters trainable.

    .venv/bin/python bench/lora.py --seeds 0 1 2 --learning-rates 2e-3
    .venv/bin/python bench/lora.py --fine-tune-epochs 250
"""

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from keras_bigmodels.workflows import train_own_pretraining  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[2e-3])
    parser.add_argument("--rank", type=int, default=4)
    parser.add_argument("--lora-epochs", type=int, default=250)
    parser.add_argument("--fine-tune-epochs", type=int, default=60)
    args = parser.parse_args(argv)
    out = tempfile.mkdtemp(prefix="bench-lora-")
    for lr in args.learning_rates:
        rows = []
        for seed in args.seeds:
            r = train_own_pretraining(
                seed=seed,
                lora_rank=args.rank,
                lora_learning_rate=lr,
                lora_epochs=args.lora_epochs,
                fine_tune_epochs=args.fine_tune_epochs,
                out=out,
                verbose=0,
            )
            full, lora = 1 - r.transfer_accuracy, 1 - r.lora_accuracy
            rows.append((full, lora, r.lora_trainable_fraction))
            print(
                f"lr {lr:g} seed {seed}: full fine-tuning error {100 * full:.2f}% "
                f"({args.fine_tune_epochs} epochs), LoRA rank {args.rank} "
                f"{100 * lora:.2f}% ({args.lora_epochs} epochs, "
                f"{100 * r.lora_trainable_fraction:.2f}% trainable), "
                f"ratio {lora / max(full, 1e-12):.2f}x",
                flush=True,
            )
        full, lora, fraction = np.mean(rows, axis=0)
        print(
            f"lr {lr:g} mean over seeds {args.seeds}: full {100 * full:.2f}%, "
            f"LoRA {100 * lora:.2f}%, ratio of means {lora / max(full, 1e-12):.2f}x, "
            f"{100 * fraction:.2f}% trainable",
            flush=True,
        )


if __name__ == "__main__":
    main()
