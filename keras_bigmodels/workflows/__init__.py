"""Workflows: one module per `keras-bigmodels train` command.

Each holds its `train_x(config)` returning a typed result, and the functions
that use its run folder (evaluate, predict, explain, generate, sample). The
configs (`workflows.configs`, one dataclass per workflow) import no
TensorFlow; everything else loads on first use (PEP 562).

Example:

>>> from keras_bigmodels.workflows import GPTConfig, train_gpt
>>> result = train_gpt(GPTConfig(epochs=1))  # doctest: +SKIP
"""

import importlib

# public name -> module of this package that defines it
_EXPORTS = {
    "AutoencoderConfig": "configs",
    "BackboneClassifierConfig": "configs",
    "GANConfig": "configs",
    "GPTConfig": "configs",
    "ImageClassifierConfig": "configs",
    "MLPConfig": "configs",
    "OwnPretrainingConfig": "configs",
    "RNNClassifierConfig": "configs",
    "RunConfig": "configs",
    "Seq2SeqConfig": "configs",
    "SequenceClassifierConfig": "configs",
    "TransformerClassifierConfig": "configs",
    "TextFineTuningConfig": "configs",
    "TextClassifierResult": "text_fine_tuning",
    "train_text_classifier": "text_fine_tuning",
    "MLPResult": "tabular",
    "train_mlp": "tabular",
    "OwnPretrainingResult": "own_pretraining",
    "train_own_pretraining": "own_pretraining",
    "GANResult": "gan",
    "sample_from_run": "gan",
    "train_gan": "gan",
    "AutoencoderResult": "autoencoder",
    "train_autoencoder": "autoencoder",
    "ImageClassifierResult": "image_classifier",
    "train_backbone_classifier": "image_classifier",
    "train_image_classifier": "image_classifier",
    "evaluate_image_classifier": "image_runs",
    "explain_images": "image_runs",
    "predict_images": "image_runs",
    "GPTResult": "gpt",
    "generate_from_run": "gpt",
    "train_gpt": "gpt",
    "Seq2SeqResult": "seq2seq",
    "train_seq2seq": "seq2seq",
    "SequenceClassifierResult": "text_classifier",
    "explain_texts": "text_classifier",
    "train_sequence_classifier": "text_classifier",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(
            f"module 'keras_bigmodels.workflows' has no attribute {name!r}"
        )
    module = importlib.import_module(f"keras_bigmodels.workflows.{_EXPORTS[name]}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
