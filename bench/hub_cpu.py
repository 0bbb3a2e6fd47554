"""What fine-tuning a BERT-sized preset costs on this machine: full against LoRA.

The compute of a training step depends on the architecture, not on the
weights, so BERT backbones of the published sizes are built from their
configs (random weights, no download) with a classification head, as
`train text-classifier` builds it. Each is timed for a few training steps of
`--batch-size` texts of `--sequence-length` tokens, fine-tuning every weight
and with LoRA rank 4 (`unfreeze(model, lora_rank=4)`), after one warm-up
step. Prints seconds per step, examples per second, trainable parameters,
and LoRA's step time over full fine-tuning's.

    .venv/bin/python bench/hub_cpu.py --sizes tiny small base --steps 5
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_bigmodels.models.hub import TextBody  # noqa: E402
from keras_bigmodels.models.transfer import BACKBONE_NAME, unfreeze  # noqa: E402

# (layers, hidden, heads, intermediate) of KerasHub's bert_*_en_uncased presets.
SIZES = {
    "tiny": (2, 128, 2, 512),
    "small": (4, 512, 8, 2048),
    "medium": (8, 512, 8, 2048),
    "base": (12, 768, 12, 3072),
}


def _model(size, sequence_length, lora_rank):
    import keras_hub

    layers, hidden, heads, intermediate = SIZES[size]
    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=30522,
        num_layers=layers,
        num_heads=heads,
        hidden_dim=hidden,
        intermediate_dim=intermediate,
        max_sequence_length=512,
    )
    backbone.name = BACKBONE_NAME

    def encode(texts):
        n = len(texts)
        ids = np.random.default_rng(0).integers(1000, 30000, (n, sequence_length))
        return {
            "token_ids": ids.astype("int32"),
            "segment_ids": np.zeros((n, sequence_length), "int32"),
            "padding_mask": np.ones((n, sequence_length), bool),
        }

    body = TextBody("encoder", size, backbone, sequence_length, encode, len)
    model = body.build_classifier(2)
    model.compile("adam", "sparse_categorical_crossentropy")
    if lora_rank:
        unfreeze(model, lora_rank=lora_rank, learning_rate=4e-4)
    return model, body


def time_steps(size, batch_size, sequence_length, steps, lora_rank):
    model, body = _model(size, sequence_length, lora_rank)
    x = body.encode(["x"] * batch_size)
    y = np.zeros(batch_size, "int64")
    model.train_on_batch(x, y)  # builds and traces
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    seconds = (time.perf_counter() - start) / steps
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return seconds, trainable, model.count_params()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["tiny", "small", "base"])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args(argv)
    print(
        f"batch {args.batch_size} x {args.sequence_length} tokens, "
        f"{args.steps} steps after one warm-up, {os.cpu_count()} CPU cores"
    )
    print(
        f"{'size':<8}{'params':>12}{'how':>8}{'trainable':>12}"
        f"{'s/step':>9}{'texts/s':>9}{'LoRA/full':>11}"
    )
    for size in args.sizes:
        full = None
        for rank in (None, 4):
            seconds, trainable, total = time_steps(
                size, args.batch_size, args.sequence_length, args.steps, rank
            )
            how = f"LoRA {rank}" if rank else "full"
            ratio = f"{seconds / full:.2f}x" if full else ""
            full = full or seconds
            print(
                f"{size:<8}{total:>12,}{how:>8}{trainable:>12,}"
                f"{seconds:>9.2f}{args.batch_size / seconds:>9.1f}{ratio:>11}"
            )


if __name__ == "__main__":
    main()
