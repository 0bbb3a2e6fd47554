"""The one registration decorator every public layer, loss and model goes through."""

import keras


def export(obj):
    """Register `obj` for Keras serialization under the `keras_bigmodels` package.

    Registered objects load from `.keras` files without `custom_objects`.
    """
    return keras.saving.register_keras_serializable(package="keras_bigmodels")(obj)
