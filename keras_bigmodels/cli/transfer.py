"""`keras-bigmodels transfer`: your own pretrained model, offline, beside scratch.

Not a `train` architecture: it trains three networks one after another
(pretraining on digits 0-4, the same network from scratch on a few images of
5-9, and the reused body fine-tuned on them) and compares two of them.
"""

from __future__ import annotations

from keras_bigmodels.cli.train import add_config_flags, config_of
from keras_bigmodels.workflows import configs as C


def add_parser(sub) -> None:
    p = sub.add_parser(
        "transfer",
        help="own pretraining: digits 0-4 reused for 5-9 from a few images, "
        "beside the same network from scratch",
        description="Pretrain the article's CNN on digits 0-4, reuse its body for "
        "digits 5-9 from --shots labelled images per class, and print its "
        "held-out accuracy beside the article's network trained from scratch "
        "and the same network with augmentation and dropout.",
    )
    add_config_flags(p, C.OwnPretrainingConfig)
    p.set_defaults(run=run, precheck=precheck)


def _config(args):
    return config_of(C.OwnPretrainingConfig, args)


def precheck(args) -> str | None:
    try:
        _config(args).check()
    except ValueError as e:
        return str(e)
    return None


def run(args) -> int:
    from keras_bigmodels.workflows.own_pretraining import train_own_pretraining

    r = train_own_pretraining(_config(args))
    print()
    _report(r)
    print(f"(trained in {r.seconds:.0f} s)")
    print(f"Run saved to {r.run_dir}")
    return 0


def _report(r) -> None:
    n = r.config.shots
    print(
        f"Digits 0-4, pretraining held-out accuracy: {100 * r.pretrain_accuracy:.2f}%"
    )
    print(f"Digits 5-9 from {n} images per class, held-out accuracy:")
    print(
        "  the article's network from scratch:                   "
        f"{100 * r.article_scratch_accuracy:.2f}%"
    )
    print(
        "  from scratch with augmentation and dropout:           "
        f"{100 * r.scratch_accuracy:.2f}%"
    )
    print(
        "  pretrained on 0-4, fine-tuned (the same augmentation): "
        f"{100 * r.transfer_accuracy:.2f}%"
    )
    print(
        "  error ratio, reused / article's network from scratch: "
        f"{r.article_error_ratio:.2f}x"
    )
    print(
        f"  error ratio, reused / scratch with augmentation:      {r.error_ratio:.2f}x"
    )
    if r.config.lora_rank:
        print(
            f"  pretrained on 0-4, LoRA rank {r.config.lora_rank} "
            f"({100 * r.lora_trainable_fraction:.1f}% trainable, "
            f"{r.config.lora_epochs} epochs): {100 * r.lora_accuracy:.2f}%"
        )
        print(
            "  error ratio, LoRA / fine-tuning every weight:          "
            f"{r.lora_error_ratio:.2f}x"
        )
