"""Two workers on localhost under MultiWorkerMirroredStrategy, as TF clusters run.

Worker 0 (the chief) runs the CLI; worker 1 runs the library workflow and
saves the weights it ends with. Both must end with the weights of a
one-process run with the same global batch, and only the chief writes a run
folder.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_bigmodels.training.distribute import localhost_cluster
from keras_bigmodels.workflows.image_classifier import train_image_classifier

SETTINGS = dict(
    data="digits",
    epochs=1,
    image_size=24,
    batch_size=50,
    seed=0,
    deterministic=True,
    augment=False,
    dropout=0.0,
)
# 1,150 training digits: 23 global batches of 50, 25 per worker.
CLI = [
    "train",
    "cnn",
    "--data",
    "digits",
    "--epochs",
    "1",
    "--image-size",
    "24",
    "--batch-size",
    "50",
    "--seed",
    "0",
    "--deterministic",
    "--no-augment",
    "--dropout",
    "0",
]
WORKER = """
import sys, numpy as np
from keras_bigmodels.workflows.image_classifier import train_image_classifier
r = train_image_classifier(
    strategy="multi_worker", out=sys.argv[1], verbose=0, **{settings}
)
np.savez(sys.argv[2], *r.model.get_weights())
print("run_dir=" + repr(r.run_dir))
"""


def _env(tf_config=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_CONFIG", None)
    if tf_config:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return env


def _weights_of_run(run_dir):
    from keras_bigmodels import load_model

    return load_model(run_dir).get_weights()


@pytest.mark.large
def test_two_workers_match_one_process_and_only_the_chief_writes(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(settings=SETTINGS))
    chief_cfg, worker_cfg = localhost_cluster(2)
    chief_out, worker_out = tmp_path / "chief", tmp_path / "worker1"
    chief = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "keras_bigmodels",
            *CLI,
            "--strategy",
            "multi_worker",
            "--out",
            str(chief_out),
        ],
        env=_env(chief_cfg),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            str(script),
            str(worker_out),
            str(tmp_path / "worker1.npz"),
        ],
        env=_env(worker_cfg),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    worker_text = worker.communicate(timeout=400)[0]
    chief_text = chief.communicate(timeout=400)[0]
    assert chief.returncode == 0, chief_text
    assert worker.returncode == 0, worker_text
    # The one-process reference runs here: TensorFlow is already started.
    single_w = train_image_classifier(
        strategy="default", out=str(tmp_path / "single"), verbose=0, **SETTINGS
    ).model.get_weights()

    (run_dir,) = [str(p) for p in chief_out.iterdir()]
    assert f"Run saved to {run_dir}" in chief_text
    assert not worker_out.exists()  # only the chief writes a run folder
    for name in ("model.keras", "metrics.json", "history.csv", "manifest.json"):
        assert os.path.isfile(os.path.join(run_dir, name))
    with open(os.path.join(run_dir, "manifest.json")) as f:
        manifest = json.load(f)
    assert manifest["status"] == "finished"
    assert manifest["devices"]["strategy"] == "MultiWorkerMirroredStrategy"
    assert manifest["devices"]["workers"] == 2

    chief_w = _weights_of_run(run_dir)
    with np.load(tmp_path / "worker1.npz") as f:
        worker_w = [f[k] for k in f.files]
    for c, w, s in zip(chief_w, worker_w, single_w, strict=True):
        np.testing.assert_array_equal(c, w)  # replicas in sync, bit for bit
        np.testing.assert_allclose(c, s, atol=1e-5, rtol=0)
