"""Using an image classifier's run folder: `evaluate`, `predict`, `explain`.

Article §4 ends with a trained model; these put it to work on new images.
Each reads the run's manifest for its image size, color mode and classes, so
new images are prepared exactly as in training; unreadable files are
reported and skipped, never a crash halfway.
"""

from __future__ import annotations

import os

import numpy as np

from keras_bigmodels import _validation as V
from keras_bigmodels._paths import visible_subfolders
from keras_bigmodels.data.image_decoding import CHANNELS
from keras_bigmodels.data.image_index import IMAGE_EXTENSIONS, list_image_files
from keras_bigmodels.data.images import image_folder, load_image
from keras_bigmodels.data.screening import BadFile, BadImageError
from keras_bigmodels.datasets.digits import CLASS_NAMES as DIGIT_CLASSES
from keras_bigmodels.datasets.digits import load_digits
from keras_bigmodels.insight import plots
from keras_bigmodels.training import runs
from keras_bigmodels.workflows._common import DIGITS, array_dataset, predict_labels


def evaluate_image_classifier(
    run_dir, data, *, batch_size: int = 64, safe_mode: bool = True
) -> dict:
    """Evaluate a run's model on a folder of labelled images or on `"digits"`.

    The folder is read with the run's image size, color mode, labelling and
    class list; images of classes the model does not know are skipped and
    reported.

    Returns:
        dict with `loss`, `accuracy`, `count`, `class_names`, `confusion_matrix`
        and `bad_files`.
    """
    model, manifest, class_names = runs.load_run(run_dir, safe_mode)
    data_info = manifest["data"]
    size, color_mode = tuple(data_info["image_size"]), data_info["color_mode"]
    _check_same_classes(data, data_info.get("labels", "inferred"), class_names)
    if data == DIGITS:
        _, (x, y) = load_digits(size)
        if color_mode != "grayscale":
            x = np.repeat(x, CHANNELS[color_mode], -1)
        ds = array_dataset(x, y, batch_size)
        bad: list[BadFile] = []
    else:
        ds = image_folder(
            data,
            image_size=size,
            batch_size=batch_size,
            labels=data_info.get("labels", "inferred"),
            class_names=class_names,
            color_mode=color_mode,
            shuffle=False,
            verbose=False,
        )
        bad = ds.bad_files
    y_true, y_pred = predict_labels(model, ds)
    result = model.evaluate(ds, verbose=0, return_dict=True)
    result.update(
        count=len(y_true),
        class_names=class_names,
        confusion_matrix=plots.confusion_matrix(
            y_true, y_pred, len(class_names)
        ).tolist(),
        bad_files=[str(b) for b in bad],
    )
    return result


def _check_same_classes(data, labels, class_names) -> None:
    """Refuse data none of whose classes the run's model knows."""
    if data == DIGITS:
        found = list(DIGIT_CLASSES)
    elif labels == "inferred" and os.path.isdir(data):
        found = visible_subfolders(data)
    else:
        return  # file-name labels: the scan reports files of unknown classes
    if found and not set(found) & set(class_names):
        raise ValueError(
            f"The classes of {data!r} {tuple(found)} are not the classes the "
            f"run's model was trained on {tuple(class_names)}."
        )
    if data == DIGITS and list(found) != list(class_names):
        raise ValueError(
            f"'digits' has the classes {tuple(found)}, but the run's model was "
            f"trained on {tuple(class_names)}."
        )


def predict_images(
    run_dir, paths, *, top_k: int = 3, safe_mode: bool = True, batch_size: int = 64
) -> tuple[list, list]:
    """Top-k classes with probabilities for image files and folders of them.

    A folder stands for every image file under it (sub-folders included,
    hidden ones left out), in sorted order. Each file is screened and decoded
    as in training; a file that cannot be read is reported, and the others
    are still predicted.

    Args:
        run_dir: str. A run folder written by `train_image_classifier`.
        paths: list of image files and/or folders.
        top_k: int. Classes to return per image.
        safe_mode: bool. Keras's safe mode when loading the model.
        batch_size: int. Images decoded and predicted at a time, so memory
            does not grow with the size of a folder.

    Returns:
        `(predictions, bad_files)`: one dict per usable image (`path`,
        `top_k`: list of `{"label", "probability"}`), and `BadFile`s for
        files (or folders) that could not be used.
    """
    V.check_positive_int("top_k", top_k)
    V.check_positive_int("batch_size", batch_size)
    files, bad = _image_files(paths)
    model, manifest, class_names = runs.load_run(run_dir, safe_mode)
    size = tuple(manifest["data"]["image_size"])
    color_mode = manifest["data"]["color_mode"]
    k = min(top_k, len(class_names))
    out = []
    for first in range(0, len(files), batch_size):
        loaded = list(
            _load_images(
                files[first : first + batch_size],
                size=size,
                color_mode=color_mode,
                bad=bad,
            )
        )
        if not loaded:
            continue
        _, good, images = zip(*loaded, strict=True)
        probs = model.predict_on_batch(np.stack(images))
        for path, p in zip(good, np.asarray(probs), strict=True):
            order = np.argsort(-p)[:k]
            out.append(
                {
                    "path": path,
                    "top_k": [
                        {"label": class_names[i], "probability": float(p[i])}
                        for i in order
                    ],
                }
            )
    return out, bad


def explain_images(
    run_dir,
    paths,
    out_dir,
    *,
    class_name=None,
    layer=None,
    safe_mode: bool = True,
) -> tuple[list, list]:
    """Grad-CAM overlays (PNG) of a run's image classifier, one per image.

    Returns:
        `(written, bad_files)`: dicts with `path`, `label`, `probability`
        and `overlay` (the PNG), and `BadFile`s of unusable inputs.
    """
    from keras_bigmodels.insight.gradcam import grad_cam, save_overlay

    files, bad = _image_files(paths)
    model, manifest, class_names = runs.load_run(run_dir, safe_mode)
    if class_name is not None and class_name not in class_names:
        raise ValueError(
            f"`class_name` must be one of the run's classes {tuple(class_names)}. "
            f"Received: class_name={class_name!r}"
        )
    size = tuple(manifest["data"]["image_size"])
    color_mode = manifest["data"]["color_mode"]
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for i, path, image in _load_images(
        files, size=size, color_mode=color_mode, bad=bad
    ):
        probs = np.asarray(model.predict_on_batch(image[None]))[0]
        index = (
            int(np.argmax(probs))
            if class_name is None
            else class_names.index(class_name)
        )
        heat = grad_cam(model, image, class_index=index, layer=layer)
        stem = os.path.splitext(os.path.basename(path))[0]
        # Drawn on the photo at its own size: the heatmap is upscaled to it.
        photo = load_image(path, image_size=None, color_mode="rgb")
        overlay = save_overlay(
            photo, heat, os.path.join(out_dir, f"{i:04d}_{stem}_gradcam.png")
        )
        written.append(
            {
                "path": path,
                "label": class_names[index],
                "probability": float(probs[index]),
                "overlay": overlay,
            }
        )
    return written, bad


def _load_images(files, *, size, color_mode, bad: list):
    """`(index, path, image)` of each file that loads; the others go to `bad`."""
    for i, path in enumerate(files):
        try:
            yield i, path, load_image(path, image_size=size, color_mode=color_mode)
        except (BadImageError, FileNotFoundError) as e:
            bad.append(BadFile(path, str(e).removeprefix(f"Bad image file {path}: ")))


def prediction_records(paths, predictions: list, bad: list) -> list[dict]:
    """`predict_images`'s results as one list in the order of the inputs:
    each usable image's prediction and each unusable input's
    `{"path", "error"}` where that input stood (a folder: its files in
    sorted order)."""
    records = predictions + [{"path": b.path, "error": b.reason} for b in bad]
    rank: dict[str, int] = {}
    for path in map(os.fspath, paths):
        found = list_image_files(path) if os.path.isdir(path) else []
        for name in found or [path]:
            rank.setdefault(name, len(rank))
    return sorted(records, key=lambda r: rank.get(r["path"], len(rank)))


def _image_files(paths) -> tuple[list[str], list[BadFile]]:
    """Files named, and the image files under folders named, in order."""
    files, bad = [], []
    for path in map(os.fspath, paths):
        if os.path.isdir(path):
            found = list_image_files(path)
            if not found:
                bad.append(
                    BadFile(path, f"a folder with no image files {IMAGE_EXTENSIONS}")
                )
            files.extend(found)
        else:
            files.append(path)
    return files, bad
