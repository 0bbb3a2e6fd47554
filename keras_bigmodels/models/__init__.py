"""Model builders, one per file."""

from keras_bigmodels.models.autoencoder import (
    Autoencoder,
    VariationalAutoencoder,
    build_autoencoder,
    reconstruction_error,
)
from keras_bigmodels.models.cnn import build_cnn
from keras_bigmodels.models.gan import GAN, build_gan
from keras_bigmodels.models.gpt import build_gpt, generate
from keras_bigmodels.models.hub import (
    AllTokens,
    PresetError,
    TextBody,
    TokenPooling,
    generate_from_preset,
    open_text_body,
)
from keras_bigmodels.models.mlp import build_mlp
from keras_bigmodels.models.rnn import build_rnn
from keras_bigmodels.models.seq2seq import build_seq2seq, decode
from keras_bigmodels.models.transfer import (
    build_image_classifier,
    unfreeze,
)
from keras_bigmodels.models.transformer import build_transformer

__all__ = [
    "Autoencoder",
    "VariationalAutoencoder",
    "build_autoencoder",
    "reconstruction_error",
    "build_cnn",
    "GAN",
    "build_gan",
    "build_gpt",
    "build_image_classifier",
    "build_mlp",
    "build_rnn",
    "build_seq2seq",
    "build_transformer",
    "decode",
    "generate",
    "generate_from_preset",
    "AllTokens",
    "open_text_body",
    "PresetError",
    "TextBody",
    "TokenPooling",
    "unfreeze",
]
