"""`keras-bigmodels generate RUN|PRESET --prompt TEXT`: continue text with a
trained GPT, or with a KerasHub causal-LM preset from a folder."""

from __future__ import annotations

import os

from keras_bigmodels._paths import run_folder_problem
from keras_bigmodels.cli._common import add_unsafe_load_flag, finite_float


def add_parser(sub) -> None:
    p = sub.add_parser(
        "generate",
        help="continue a prompt with a trained gpt run or a causal-LM preset",
        description="Continue a prompt with the language model of a "
        "'train gpt' run folder, or of a KerasHub causal-LM preset folder "
        "(GPT-2, Gemma, Llama, ... saved with save_to_preset).",
    )
    p.add_argument(
        "run_dir",
        metavar="RUN",
        help="a run folder written by train gpt, or a causal-LM preset folder",
    )
    p.add_argument(
        "--prompt",
        required=True,
        help="the text to continue (required); characters the run never saw "
        "are read as unknown",
    )
    p.add_argument(
        "--max-new-tokens",
        type=int,
        default=200,
        help="how many tokens to add (default: %(default)s)",
    )
    p.add_argument(
        "--temperature",
        type=finite_float,
        default=0.8,
        help="sampling temperature; 0 picks the most likely token every time "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--top-k",
        type=int,
        default=20,
        help="sample among the K most likely tokens (default: %(default)s)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="the same seed gives the same text (default: a new text each time)",
    )
    add_unsafe_load_flag(p)
    p.set_defaults(run=run, precheck=precheck)


def precheck(args) -> str | None:
    from keras_bigmodels._paths import is_preset_folder

    if is_preset_folder(args.run_dir) or is_preset_folder(
        os.path.join(args.run_dir, "preset")
    ):
        return None  # a preset, or a run of one fine-tuned
    return run_folder_problem(
        args.run_dir, ("model.keras", "tokenizer.json"), "generate"
    )


def run(args) -> int:
    import sys

    from keras_bigmodels._paths import is_preset_folder
    from keras_bigmodels.workflows.gpt import generate_from_run

    sampling = {
        "max_new_tokens": args.max_new_tokens,
        "temperature": args.temperature,
        "top_k": args.top_k,
        "seed": args.seed,
    }
    if is_preset_folder(args.run_dir):
        from keras_bigmodels.models.hub import generate_from_preset

        print(generate_from_preset(args.run_dir, args.prompt, **sampling))
        return 0

    started = []

    def show(piece: str) -> None:
        # The text appears as it is written: the prompt, then each token.
        if not started:
            sys.stdout.write(args.prompt)
            started.append(True)
        sys.stdout.write(piece)
        sys.stdout.flush()

    generate_from_run(
        args.run_dir,
        args.prompt,
        safe_mode=not args.unsafe_load,
        on_token=show,
        **sampling,
    )
    print()
    return 0
