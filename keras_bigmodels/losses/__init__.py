"""Losses: the GAN minimax game as functions and as serializable Keras losses."""

from keras_bigmodels.losses.gan import (
    MinimaxDiscriminatorLoss,
    MinimaxGeneratorLoss,
    NonSaturatingGeneratorLoss,
    minimax_discriminator_loss,
    minimax_generator_loss,
    non_saturating_generator_loss,
)

__all__ = [
    "MinimaxDiscriminatorLoss",
    "MinimaxGeneratorLoss",
    "NonSaturatingGeneratorLoss",
    "minimax_discriminator_loss",
    "minimax_generator_loss",
    "non_saturating_generator_loss",
]
