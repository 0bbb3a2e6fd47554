"""Using a trained run: exports checked against the model, and a demo page.

`export_run(run, "saved_model" | "onnx" | "litert", quantize=None | "int8")`
writes the run's inference graph and checks it in its own runtime;
`build_demo(run)` makes a Gradio page for it.
"""

import importlib

_EXPORTS = {
    "export_run": "keras_bigmodels.deploy.export",
    "ExportReport": "keras_bigmodels.deploy.export",
    "ExportCheckError": "keras_bigmodels.deploy.export",
    "FORMATS": "keras_bigmodels.deploy.formats",
    "UnsupportedOpError": "keras_bigmodels.deploy.formats",
    "runner": "keras_bigmodels.deploy.formats",
    "build_demo": "keras_bigmodels.deploy.demo",
    "launch_demo": "keras_bigmodels.deploy.demo",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(
            f"module 'keras_bigmodels.deploy' has no attribute {name!r}"
        )
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
