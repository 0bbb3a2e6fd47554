"""`keras-bigmodels info`: versions, devices, and whether a GPU will be used."""

from __future__ import annotations

import json


def add_parser(sub) -> None:
    p = sub.add_parser(
        "info",
        help="versions, devices, GPU status, XLA setting",
        description="Print library versions, the devices TensorFlow "
        "sees, whether a GPU will be used (and if not, why) "
        "and whether `train` XLA-compiles its step here.",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=run)


def run(args) -> int:
    from keras_bigmodels.training.environment import environment_report

    report = environment_report()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for name, version in report["versions"].items():
        print(f"{name:>16}: {version}")
    print(f"{'devices':>16}: {', '.join(report['devices'])}")
    gpu = report["gpu"]
    print(f"{'GPU':>16}: {'yes' if gpu['will_use'] else 'no'} ({gpu['reason']})")
    print(f"{'XLA in train':>16}: {report['xla']['reason']}")
    return 0
