"""The one registration decorator every public layer, loss and model goes through."""

import keras


def export(obj):
    """Register `obj` for Keras serialization under the `keras_bigmodels` package.

    Registered objects load from `.keras` files without `custom_objects`.
    """
    return keras.saving.register_keras_serializable(package="keras_bigmodels")(obj)


def from_config_with_submodels(cls, config, keys):
    """`cls(**config)` after rebuilding the sub-models serialized under `keys`.

    For models that hold other models (a GAN's two networks, an autoencoder's
    encoder and decoder): `get_config` stores `keras.layers.serialize(sub)`,
    and this turns each back into a model.
    """
    config = dict(config)
    for key in keys:
        config[key] = keras.layers.deserialize(config[key])
    return cls(**config)
