"""`keras-bigmodels demo RUN [--port N] [--host H]`: try a model in a browser."""

from __future__ import annotations

from keras_bigmodels._paths import run_folder_problem
from keras_bigmodels.cli._common import add_unsafe_load_flag


def add_parser(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="a page to try a run's model in a browser (Gradio)",
        description="Serve a Gradio page for a run: an image classifier "
        "(image -> top classes and Grad-CAM), a text classifier (text -> "
        "label and attention), a GPT (prompt -> continuation), a GAN (seed and "
        "class -> samples) or an autoencoder (image -> reconstruction and "
        "anomaly score). Bound to the loopback address unless --host says "
        'otherwise; needs the [demo] extra: pip install -e ".[demo]".',
    )
    p.add_argument("run_dir", metavar="RUN", help="a finished run folder")
    p.add_argument(
        "--port", type=int, default=None, help="port (default: Gradio's, 7860 on)"
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: %(default)s, this machine only; "
        "0.0.0.0 opens the page to your network)",
    )
    add_unsafe_load_flag(p)
    p.set_defaults(run=run, precheck=precheck)


def precheck(args) -> str | None:
    if args.port is not None and not 0 < args.port < 65536:
        return f"--port must lie in 1..65535. Received: --port {args.port}"
    return run_folder_problem(args.run_dir, ("model.keras", "manifest.json"))


def run(args) -> int:
    from keras_bigmodels.deploy.demo import launch_demo

    print(
        f"keras-bigmodels: serving {args.run_dir} on http://{args.host}:"
        f"{args.port or 'a free port from 7860'}/ (Ctrl-C stops it)",
        flush=True,
    )
    launch_demo(
        args.run_dir,
        host=args.host,
        port=args.port,
        safe_mode=not args.unsafe_load,
        block=True,
    )
    return 0
