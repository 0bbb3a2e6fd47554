"""The GAN minimax game, min_G max_D V(D, G), as losses.

Article §2.5 / §3.3 (生成对抗网络):

    V(D, G) = E_x[log D(x)] + E_z[log(1 − D(G(z)))]

from Goodfellow et al. 2014 (https://arxiv.org/abs/1406.2661). The
discriminator maximises V, so it minimises −V; the generator minimises V's
second term (the saturating "minimax" loss) or, as in practice, maximises
log D(G(z)) (the non-saturating loss). Every function works on logits
(`from_logits=True`, numerically stable through log-sigmoid) or on
probabilities, and reduces to a batch mean.
"""

import keras
from keras import ops

from keras_bigmodels._export import export
from keras_bigmodels._validation import check_fraction

_EPS = 1e-7


def _log_d(output, from_logits):
    """(log D, log(1 − D)) elementwise, float32."""
    output = ops.cast(output, "float32")
    if from_logits:
        # log σ(l) and log(1 − σ(l)) = log σ(−l), both stable for large |l|.
        return ops.log_sigmoid(output), ops.log_sigmoid(-output)
    p = ops.clip(output, _EPS, 1.0 - _EPS)
    return ops.log(p), ops.log(1.0 - p)


def minimax_discriminator_loss(
    real_output, fake_output, from_logits=True, label_smoothing=0.0
):
    """−E[log D(x)] − E[log(1 − D(G(z)))]: the discriminator's side of the game.

    Args:
        real_output: D's outputs on real samples, any shape.
        fake_output: D's outputs on generated samples.
        from_logits: bool. Outputs are logits (True) or probabilities.
        label_smoothing: float in [0, 1). One-sided smoothing (Salimans et al.
            2016, https://arxiv.org/abs/1606.03498): real targets become
            1 − label_smoothing; fake targets stay 0.

    Returns:
        Scalar float32.
    """
    check_fraction("label_smoothing", label_smoothing, allow_none=False)
    log_d_real, log_1m_d_real = _log_d(real_output, from_logits)
    _, log_1m_d_fake = _log_d(fake_output, from_logits)
    t = 1.0 - label_smoothing
    real = -(t * log_d_real + (1.0 - t) * log_1m_d_real)
    return ops.mean(real) - ops.mean(log_1m_d_fake)


def minimax_generator_loss(fake_output, from_logits=True):
    """E[log(1 − D(G(z)))]: the formula's own (saturating) generator objective."""
    _, log_1m_d_fake = _log_d(fake_output, from_logits)
    return ops.mean(log_1m_d_fake)


def non_saturating_generator_loss(fake_output, from_logits=True):
    """−E[log D(G(z))]: the same fixed point, strong gradients early in training."""
    log_d_fake, _ = _log_d(fake_output, from_logits)
    return -ops.mean(log_d_fake)


class _GANLoss(keras.losses.Loss):
    def __init__(
        self, from_logits=True, reduction="sum_over_batch_size", name=None, **kwargs
    ):
        super().__init__(reduction=reduction, name=name, **kwargs)
        self.from_logits = from_logits

    def get_config(self):
        config = super().get_config()
        config.update({"from_logits": self.from_logits})
        return config


@export
class MinimaxDiscriminatorLoss(_GANLoss):
    """Keras loss form of `minimax_discriminator_loss` on a mixed batch.

    `y_true` is 1 for real and 0 for generated samples; `y_pred` is D's
    output. Per sample: −[y·log D + (1 − y)·log(1 − D)], with real targets
    smoothed to 1 − label_smoothing. On a batch of n real and n fake
    samples its mean is half of `minimax_discriminator_loss`.

    Args:
        from_logits: bool.
        label_smoothing: float in [0, 1). One-sided.
    """

    def __init__(self, from_logits=True, label_smoothing=0.0, **kwargs):
        super().__init__(from_logits=from_logits, **kwargs)
        self.label_smoothing = check_fraction(
            "label_smoothing", label_smoothing, allow_none=False
        )

    def call(self, y_true, y_pred):
        y = ops.cast(y_true, "float32") * (1.0 - self.label_smoothing)
        log_d, log_1m_d = _log_d(y_pred, self.from_logits)
        return -(y * log_d + (1.0 - y) * log_1m_d)

    def get_config(self):
        config = super().get_config()
        config.update({"label_smoothing": self.label_smoothing})
        return config


@export
class MinimaxGeneratorLoss(_GANLoss):
    """Keras loss form of `minimax_generator_loss`; `y_true` is ignored."""

    def call(self, y_true, y_pred):
        return _log_d(y_pred, self.from_logits)[1]


@export
class NonSaturatingGeneratorLoss(_GANLoss):
    """Keras loss form of `non_saturating_generator_loss`; `y_true` is ignored."""

    def call(self, y_true, y_pred):
        return -_log_d(y_pred, self.from_logits)[0]
