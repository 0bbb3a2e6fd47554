import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_bigmodels import distribute, set_seed
from keras_bigmodels.data import prefetch_to_accelerator


def test_set_seed_repeats_random_draws():
    set_seed(123)
    a = (np.random.rand(3), keras.random.uniform((3,)).numpy())
    set_seed(123)
    b = (np.random.rand(3), keras.random.uniform((3,)).numpy())
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    with pytest.raises(ValueError, match="seed"):
        set_seed(-1)


def test_get_strategy_on_this_machine_and_forced():
    strategy = distribute.get_strategy()
    gpus = tf.config.list_logical_devices("GPU")
    expected = {0: "_DefaultDistributionStrategy", 1: "OneDeviceStrategy"}.get(
        len(gpus), "MirroredStrategy"
    )
    assert type(strategy).__name__ == expected
    one = distribute.get_strategy("one_device")
    assert one.num_replicas_in_sync == 1
    with one.scope():
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((4, 2)), np.ones((4, 1)), verbose=0)
    with pytest.raises(ValueError, match="kind"):
        distribute.get_strategy("tpu-pod")


def test_prefetch_is_plain_on_cpu_and_keeps_values():
    ds = tf.data.Dataset.range(5).batch(2)
    out = prefetch_to_accelerator(
        ds, device="auto" if not tf.config.list_logical_devices("GPU") else False
    )
    assert [b.numpy().tolist() for b in out] == [[0, 1], [2, 3], [4]]
    cpu = prefetch_to_accelerator(ds, device="/cpu:0")
    assert [b.numpy().tolist() for b in cpu] == [[0, 1], [2, 3], [4]]


def test_multi_worker_after_the_runtime_started_says_what_to_do(monkeypatch):
    tf.constant(1.0)  # the runtime is running now
    monkeypatch.setenv(
        "TF_CONFIG",
        '{"cluster": {"worker": ["localhost:1", "localhost:2"]}, '
        '"task": {"type": "worker", "index": 0}}',
    )
    with pytest.raises(RuntimeError, match="before TensorFlow runs anything"):
        distribute.get_strategy("auto")


def test_the_chief_is_worker_zero_or_the_chief_task():
    assert distribute.is_chief(tf.distribute.get_strategy())
