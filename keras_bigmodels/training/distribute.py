"""Scaling out with TensorFlow's own engines: one GPU, several, several machines.

A multi-worker run is started the way TensorFlow clusters are: every machine
runs the same command with a `TF_CONFIG` environment variable naming the
cluster and its own place in it, e.g. on the first of two machines

    TF_CONFIG='{"cluster": {"worker": ["10.0.0.1:12345", "10.0.0.2:12345"]},
                "task": {"type": "worker", "index": 0}}' \\
        keras-bigmodels train cnn --data photos/ --strategy multi_worker

and `"index": 1` on the second. Worker 0 is the chief: it alone writes the
run folder.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import warnings

import tensorflow as tf
from tensorflow.python.eager import context as _context

from keras_bigmodels import _validation as V
from keras_bigmodels.training.run_config import STRATEGIES


def _tf_config() -> dict:
    try:
        config = json.loads(os.environ.get("TF_CONFIG", "") or "{}")
    except json.JSONDecodeError as e:
        raise ValueError(f"TF_CONFIG is not valid JSON: {e}") from None
    cluster, task = config.get("cluster") or {}, config.get("task") or {}
    if cluster and not task:
        raise ValueError(
            'TF_CONFIG names a cluster but not this process\'s "task" '
            '(e.g. {"type": "worker", "index": 0})'
        )
    if cluster:
        job, index = task.get("type"), task.get("index", 0)
        if job not in cluster:
            raise ValueError(
                f"TF_CONFIG: this process's task type {job!r} is not a job of its "
                f"cluster ({', '.join(map(repr, cluster))})"
            )
        count = len(cluster[job])
        if (
            isinstance(index, bool)
            or not isinstance(index, int)
            or not (0 <= index < count)
        ):
            raise ValueError(
                f"TF_CONFIG: this process's task index {index!r} is not one of "
                f"the {count} {job}(s) of its cluster: use 0 to {count - 1}"
            )
    return config


def _runtime_started() -> bool:
    return _context.context()._context_handle is not None


def _gpu_memory_growth() -> None:
    """Allocate GPU memory as needed, not all at once (needs a fresh runtime)."""
    if _runtime_started():
        return
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except (RuntimeError, ValueError):
            pass


def get_strategy(
    kind: str = "auto", *, cluster_timeout: float = 300.0
) -> tf.distribute.Strategy:
    """The `tf.distribute` strategy to build and train a model under.

    Build and compile the model inside `strategy.scope()`; the training loop
    then splits each global batch across the replicas. Call it before
    anything else runs on TensorFlow: a multi-worker strategy must configure
    the runtime before it starts (the workflows and the CLI do this first).
    GPU memory growth is switched on at the same moment.

    Args:
        kind: str. `"auto"`: `MultiWorkerMirroredStrategy` when `TF_CONFIG`
            names several workers, `MirroredStrategy` with 2+ GPUs,
            `OneDeviceStrategy` on a single GPU, the default strategy on CPU.
            Or one of `"default"`, `"one_device"`, `"mirrored"`,
            `"multi_worker"` to force that strategy. With no cluster in
            `TF_CONFIG`, `"multi_worker"` trains as one worker (the chief)
            and says so in a warning.
        cluster_timeout: float. Seconds a multi-worker process waits for
            the other workers of its cluster to start, saying which ones it
            waits for; then a `RuntimeError` names those that never came.

    Returns:
        A `tf.distribute.Strategy`.

    Example:

    >>> strategy = get_strategy()
    >>> strategy.num_replicas_in_sync >= 1
    True
    """
    V.check_choice("kind", kind, STRATEGIES)
    V.check_positive("cluster_timeout", cluster_timeout)
    cluster = _tf_config().get("cluster", {})
    if (
        kind == "auto"
        and len(cluster.get("worker", [])) + len(cluster.get("chief", [])) > 1
    ):
        kind = "multi_worker"
    if kind == "multi_worker":
        existing = tf.distribute.get_strategy()
        if isinstance(existing, tf.distribute.MultiWorkerMirroredStrategy):
            return existing
        if _runtime_started():
            raise RuntimeError(
                "The multi-worker strategy must be created before TensorFlow "
                "runs anything: call keras_bigmodels.distribute.get_strategy("
                "'multi_worker') (or the workflow) at the start of the program, "
                "before any model, tensor or dataset is made."
            )
        _gpu_memory_growth()
        if not cluster:
            warnings.warn(
                "--strategy multi_worker: TF_CONFIG names no cluster, so this "
                "process trains alone, as the chief, and writes the run folder",
                stacklevel=2,
            )
        return _multi_worker_strategy(cluster_timeout)
    _gpu_memory_growth()
    gpus = tf.config.list_logical_devices("GPU")
    if kind == "auto":
        kind = "mirrored" if len(gpus) > 1 else "one_device" if gpus else "default"
    if kind == "mirrored":
        return tf.distribute.MirroredStrategy()
    if kind == "one_device":
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    return tf.distribute.get_strategy()


def _peers() -> list[tuple[str, str]]:
    """`(name, address)` of every task of the cluster but this process's own."""
    config = _tf_config()
    task = config.get("task", {})
    own = (task.get("type"), task.get("index", 0))
    return [
        (f"{job} {index}", address)
        for job, addresses in config.get("cluster", {}).items()
        for index, address in enumerate(addresses)
        if (job, index) != own
    ]


def _listening(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=1):
            return True
    except (OSError, ValueError):
        return False


def _own_port() -> int | None:
    config = _tf_config()  # checked there: the task is one of the cluster's
    task = config["task"]
    address = config["cluster"][task["type"]][task.get("index", 0)]
    try:
        return int(str(address).rpartition(":")[2])
    except ValueError:
        return None


def _wait_for_peers(peers: list[tuple[str, str]], timeout: float) -> float:
    """Meet the other workers in Python before TensorFlow starts its server.

    TensorFlow's constructor starts this worker's server, then waits in C++
    until every task has registered with the coordination service: with no
    timeout, no word, and deaf to Ctrl-C (the call holds the interpreter).
    So first each worker listens on its own TF_CONFIG port from Python and
    polls its peers' ports until all answer (a peer answers from this same
    wait or from its TensorFlow server, which takes the port over), saying
    which peers it waits for. Ctrl-C and SIGTERM end this wait at once.

    Returns:
        The seconds of `timeout` left for TensorFlow's own registration.
    """
    deadline = time.monotonic() + timeout
    listener = None
    port = _own_port()
    if port is not None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(("", port))
            listener.listen(64)
        except OSError as e:
            listener.close()
            raise RuntimeError(
                f"port {port}, this worker's address in TF_CONFIG, cannot be "
                f"used: {e.strerror or e}"
            ) from None
    try:
        missing, told = list(peers), False
        while True:
            missing = [(n, a) for n, a in missing if not _listening(a)]
            if not missing:
                return max(deadline - time.monotonic(), 1.0)
            names = ", ".join(f"{name} ({address})" for name, address in missing)
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"{names} did not start within {timeout:g} s "
                    "(--cluster-timeout): start every worker of TF_CONFIG with "
                    "the same command, each with its own task index"
                )
            if not told:
                print(
                    f"Waiting for {names} to start (up to {timeout:g} s, "
                    "--cluster-timeout) ...",
                    file=sys.stderr,
                    flush=True,
                )
                told = True
            time.sleep(0.25)
    finally:
        if listener is not None:
            listener.close()


def _multi_worker_strategy(timeout: float) -> tf.distribute.Strategy:
    """`MultiWorkerMirroredStrategy` once every peer is up (`_wait_for_peers`),
    with TensorFlow's own registration bounded by what is left of `timeout`."""
    from tensorflow.compiler.xla.tsl.protobuf import coordination_config_pb2
    from tensorflow.python.distribute import multi_worker_util
    from tensorflow.python.eager import context

    peers = _peers()
    if not peers:  # no cluster, or a cluster of one: nothing to wait for
        if not os.environ.get("TF_CONFIG", "x").strip():
            del os.environ["TF_CONFIG"]  # TensorFlow's resolver fails on ""
        return tf.distribute.MultiWorkerMirroredStrategy()
    left = _wait_for_peers(peers, timeout)
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    spec = multi_worker_util.normalize_cluster_spec(resolver.cluster_spec())
    if context.context().coordination_service is None and resolver.task_type in (
        "chief",
        "worker",
    ):
        # As TensorFlow configures it, plus a registration deadline.
        context.context().configure_coordination_service(
            service_type="standalone",
            service_leader=multi_worker_util.coordination_leader(spec),
            coordinated_jobs=[
                coordination_config_pb2.CoordinatedJob(
                    name=job, num_tasks=spec.num_tasks(job)
                )
                for job in ("chief", "worker")
                if job in spec.jobs
            ],
            cluster_register_timeout_in_ms=int(left * 1000),
        )
    return tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver)


def is_chief(strategy: tf.distribute.Strategy | None = None) -> bool:
    """Whether this process writes the run folder: always, but on a worker
    other than the chief of a cluster (a process with no cluster, or a
    cluster of one, is its own chief)."""
    strategy = strategy or tf.distribute.get_strategy()
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    resolver = strategy.cluster_resolver
    if resolver.task_type in (None, "chief"):
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def localhost_cluster(num_workers: int) -> list[dict]:
    """`TF_CONFIG` values for `num_workers` workers on this machine (free ports).

    For trying a multi-worker run on one machine: start one process per
    entry, each with `TF_CONFIG=json.dumps(entry)` in its environment.

    Example:

    >>> configs = localhost_cluster(2)
    >>> configs[1]["task"]
    {'type': 'worker', 'index': 1}
    """
    import socket

    V.check_positive_int("num_workers", num_workers)
    socks = [socket.socket() for _ in range(num_workers)]
    try:
        for s in socks:
            s.bind(("localhost", 0))
        ports = [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    return [
        {"cluster": cluster, "task": {"type": "worker", "index": i}}
        for i in range(num_workers)
    ]


def describe_devices(strategy: tf.distribute.Strategy | None = None) -> dict:
    """Which devices training uses, for the run manifest and `info`."""
    strategy = strategy or tf.distribute.get_strategy()
    gpus = tf.config.list_physical_devices("GPU")
    name = type(strategy).__name__
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        name = "MultiWorkerMirroredStrategy"  # TF's class is CollectiveAllReduce...
    info = {
        "strategy": name,
        "replicas": strategy.num_replicas_in_sync,
        "gpus": [g.name for g in gpus],
        "device": "GPU" if gpus else "CPU",
    }
    extended = getattr(strategy, "extended", None)
    workers = getattr(extended, "_num_workers", None)
    if workers:
        info["workers"] = workers
    return info
