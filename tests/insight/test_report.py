import numpy as np
from sklearn.metrics import precision_recall_fscore_support

from keras_bigmodels.insight.plots import confusion_matrix, plot_highest_loss
from keras_bigmodels.insight.report import per_class_report


def test_per_class_report_equals_scikit_learn(tmp_path):
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 4, 200)
    y_pred = np.where(rng.random(200) < 0.7, y_true, rng.integers(0, 3, 200))
    report = per_class_report(confusion_matrix(y_true, y_pred, 4), list("abcd"))
    p, r, f, s = precision_recall_fscore_support(
        y_true, y_pred, labels=range(4), zero_division=0
    )
    np.testing.assert_allclose([row["precision"] for row in report], p)
    np.testing.assert_allclose([row["recall"] for row in report], r)
    np.testing.assert_allclose([row["f1"] for row in report], f)
    assert [row["support"] for row in report] == s.tolist()
    small = per_class_report([[2, 0, 1], [0, 0, 0], [1, 0, 3]], ["a", "b", "c"])
    assert small[1] == {
        "class": "b",
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "support": 0,
    }
    assert small[2]["precision"] == 0.75 and small[0]["recall"] == 2 / 3
    examples = [
        {
            "image": np.zeros((8, 8, 1), "uint8"),
            "true": 0,
            "pred": 1,
            "probability": 0.9,
        }
    ]
    path = plot_highest_loss(examples, ["猫", "狗"], tmp_path / "w.png")
    assert (tmp_path / "w.png").stat().st_size > 0 and path.endswith("w.png")


def test_long_class_names_are_wrapped_never_cut_off():
    from keras_bigmodels.insight.plots import highest_loss_figure

    names = [
        "golden retriever puppy from next door",
        "非常非常长的中文类别名称用于测试换行",
        "c",
    ]
    examples = [
        {
            "image": np.zeros((8, 8, 1), "uint8"),
            "true": t,
            "pred": p,
            "probability": 0.9,
        }
        for t, p in ((0, 1), (1, 0), (2, 0), (0, 2), (1, 2))
    ]
    fig = highest_loss_figure(examples, names)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    boxes = [ax.title.get_window_extent(renderer) for ax in fig.axes if ax.get_title()]
    assert len(boxes) == len(examples)
    for box in boxes:
        assert box.x0 >= -1 and box.y0 >= -1, box
        assert box.x1 <= width + 1 and box.y1 <= height + 1, box
    for a, b in zip(boxes, boxes[1:], strict=False):
        if abs(a.y0 - b.y0) < 1:  # side by side in one row: no overlap
            assert a.x1 <= b.x0 + 1, (a, b)
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_a_one_epoch_learning_curve_shows_its_points():
    from keras_bigmodels.insight.plots import history_figure

    fig = history_figure({"loss": [0.9], "val_loss": [1.1], "accuracy": [0.5]})
    lines = [line for ax in fig.axes for line in ax.get_lines()]
    assert len(lines) == 3
    assert all(line.get_marker() not in (None, "None", "") for line in lines)
    import matplotlib.pyplot as plt

    plt.close(fig)
