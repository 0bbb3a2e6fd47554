"""The inference function of a run: what every export format is made from.

A trained run's model is called with `training=False` (augmentation and
dropout inert), with its preprocessing inside: an image model takes uint8
pixels as a camera or a file gives them and returns probabilities; a text
model takes token ids (the run's vocabulary is written beside the export);
a GAN's generator takes noise (and a class id); an autoencoder takes uint8
images and returns reconstructions in [0, 1].
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from keras_bigmodels.training import runs

# manifest "task" -> (what goes in, what comes out)
TASKS = {
    "image_classification": ("uint8 images", "probabilities"),
    "sequence_classification": ("token ids", "probabilities"),
    "tabular_classification": ("features", "probabilities"),
    "language_model": ("token ids", "probabilities"),
    "seq2seq": ("token ids", "probabilities"),
    "gan": ("noise", "images"),
    "autoencoder": ("uint8 images", "reconstructions"),
}
_UINT8_IN = {"image_classification", "autoencoder"}
# Models whose last layer gives logits: their export applies the softmax, so
# that every classifier-like artifact returns probabilities.
_LOGITS_OUT = {"language_model", "seq2seq"}


@dataclasses.dataclass
class Serving:
    """A run's inference function and what an export needs to know of it.

    Attributes:
        function: `tf.function` with a fixed input signature, returning
            `{output_name: tensor}`.
        module: `tf.Module` that tracks the model's variables.
        task: the run's task (a key of `TASKS`).
        input_names: names of the function's inputs, in order.
        output_name: `"probabilities"`, `"images"` or `"reconstructions"`.
        held_out: list of NumPy arrays, one per input: the run's held-out
            examples, as the artifact takes them.
        reference: NumPy array: the Keras model's own outputs on `held_out`.
    """

    function: object
    module: object
    task: str
    input_names: list
    output_name: str
    held_out: list
    reference: np.ndarray

    @property
    def classes_last(self) -> bool:
        """Whether the output's last axis holds class probabilities."""
        return self.output_name == "probabilities"


def run_task(manifest: dict, run_dir: str) -> str:
    """The manifest's task, checked to be one that can be exported."""
    task = manifest.get("task")
    if task not in TASKS:
        raise ValueError(
            f"{run_dir!r} holds no exportable model (task {task!r}); exports "
            f"take runs of these tasks: {', '.join(TASKS)}"
        )
    return task


def serving_of(run_dir, *, safe_mode: bool = True) -> Serving:
    """Build the inference function of a run folder and its reference outputs.

    Args:
        run_dir: str. A finished run folder.
        safe_mode: bool. Keras's safe mode when loading the model.

    Returns:
        A `Serving`.

    Raises:
        ValueError: the run's task cannot be exported, or the run keeps no
            held-out examples to check an export on.
    """
    import tensorflow as tf

    from keras_bigmodels.saving import load_model

    run_dir = runs.check_run_dir(run_dir, (runs.MODEL_FILE, runs.MANIFEST_FILE))
    manifest = runs.read_json(os.path.join(run_dir, runs.MANIFEST_FILE))
    task = run_task(manifest, run_dir)
    model = load_model(run_dir, compile=False, safe_mode=safe_mode)
    num_classes = None
    if task == "gan":
        model, num_classes = model.generator, model.num_classes
    inputs = model_inputs(model)
    held_out = _held_out(run_dir, manifest, task, inputs, num_classes)
    # The model's own input shapes: a GPT takes prompts of any length.
    specs = [
        tf.TensorSpec(
            (None, *tuple(i.shape[1:])),
            tf.uint8 if task in _UINT8_IN else tf.as_dtype(i.dtype),
            name=f"input_{k}" if len(inputs) > 1 else "inputs",
        )
        for k, i in enumerate(inputs)
    ]
    output_name = TASKS[task][1]

    def infer(*inputs):
        xs = [
            tf.cast(x, tf.float32) / (255.0 if task == "autoencoder" else 1.0)
            if x.dtype == tf.uint8
            else x
            for x in inputs
        ]
        y = model(xs[0] if len(xs) == 1 else xs, training=False)
        y = tf.cast(y, tf.float32)  # a mixed-precision run computes in float16
        if task in _LOGITS_OUT:
            y = tf.nn.softmax(y, axis=-1)
        return {output_name: y}

    module = tf.Module()
    # Every variable the function reads travels with a SavedModel, the
    # random layers' seed states included (as Keras's ExportArchive does).
    module.model_variables = list(model.variables)
    module.serve = tf.function(infer, input_signature=specs, autograph=False)
    reference = call_in_batches(
        lambda *xs: module.serve(*xs)[output_name].numpy(), held_out
    )
    return Serving(
        function=module.serve,
        module=module,
        task=task,
        input_names=[s.name for s in specs],
        output_name=output_name,
        held_out=held_out,
        reference=reference,
    )


def model_inputs(model) -> list:
    """The symbolic inputs of a functional model, or of a subclassed
    autoencoder's encoder (whose input is the autoencoder's)."""
    try:
        return list(model.inputs)
    except AttributeError:
        return list(model.encoder.inputs)


def _held_out(run_dir, manifest, task, inputs, num_classes) -> list:
    """The run's held-out inputs, typed as the exported function takes them."""
    path = os.path.join(run_dir, runs.HELD_OUT_FILE)
    if os.path.isfile(path):
        arrays = runs.read_held_out(path)
    elif task == "gan":
        arrays = []  # noise is drawn below
    elif task == "image_classification" and manifest.get("data", {}).get(
        "source", ""
    ).startswith("digits"):
        arrays = [_digits_test(inputs[0])]
    else:
        raise ValueError(
            f"{run_dir!r} keeps no held-out examples ({runs.HELD_OUT_FILE}), "
            "so an export of it cannot be checked; train it again with this "
            "version of keras-bigmodels"
        )
    if task == "gan" and not arrays:
        arrays = _gan_noise(inputs[0], num_classes)
    typed = []
    for array, spec in zip(arrays, inputs, strict=True):
        if task in _UINT8_IN:
            typed.append(np.clip(np.rint(array), 0, 255).astype(np.uint8))
        else:
            typed.append(np.asarray(array, dtype=spec.dtype))
    return typed


def _digits_test(image_input) -> np.ndarray:
    from keras_bigmodels.datasets.digits import load_digits

    height, width, channels = image_input.shape[1:]
    _, (x, _) = load_digits((height, width))
    return np.repeat(x, channels, -1)[: runs.HELD_OUT_LIMIT]


def _gan_noise(noise_input, num_classes) -> list:
    # Held-out for a generator: seeded noise it never saw, every class in turn.
    n = runs.HELD_OUT_LIMIT
    latent = noise_input.shape[-1]
    z = np.random.default_rng(12345).standard_normal((n, latent)).astype("float32")
    if num_classes is None:
        return [z]
    return [z, (np.arange(n) % num_classes).astype("int32")]


def call_in_batches(fn, arrays, batch_size: int = 64) -> np.ndarray:
    """`fn(*batch)` over the arrays in batches, outputs concatenated."""
    outputs = []
    for start in range(0, len(arrays[0]), batch_size):
        outputs.append(fn(*(a[start : start + batch_size] for a in arrays)))
    return np.concatenate(outputs)
