"""`keras-bigmodels sample RUN --n N`: new images from a GAN or VAE run."""

from __future__ import annotations

from keras_bigmodels._paths import run_folder_problem
from keras_bigmodels.cli._common import add_unsafe_load_flag


def add_parser(sub) -> None:
    p = sub.add_parser(
        "sample",
        help="draw new images from a gan or variational autoencoder run",
        description="Write a PNG grid and a uint8 .npy array of new images drawn "
        "from the model of a 'train gan' (or 'train autoencoder --kind "
        "variational') run folder.",
    )
    p.add_argument("run_dir", metavar="RUN", help="a run folder written by train gan")
    p.add_argument("--n", type=int, default=64, help="how many images (default: 64)")
    p.add_argument(
        "--seed", type=int, default=None, help="the same seed gives the same images"
    )
    p.add_argument(
        "--out",
        default=None,
        help="file name stem of the .png and .npy (default: RUN/sample-N)",
    )
    add_unsafe_load_flag(p)
    p.set_defaults(run=run, precheck=precheck)


def precheck(args) -> str | None:
    if args.n <= 0:
        return f"--n must be a positive integer. Received: --n {args.n}"
    return run_folder_problem(args.run_dir, ("model.keras",), "sample")


def run(args) -> int:
    from keras_bigmodels.workflows.gan import sample_from_run

    result = sample_from_run(
        args.run_dir,
        n=args.n,
        seed=args.seed,
        out=args.out,
        safe_mode=not args.unsafe_load,
    )
    print(
        f"{result['n']} images: {result['png']} (grid), {result['npy']} (uint8 array)"
    )
    return 0
