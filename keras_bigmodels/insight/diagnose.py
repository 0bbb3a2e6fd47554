"""Is the model overfitting, underfitting, or fine? FAQ 6.3, from a learning curve.

Article §6.3 (如何避免过拟合). A run's history (training and validation loss
per epoch) says which way it went:

* **overfitting**: the validation loss reached its lowest value, then rose
  clearly while the training loss kept falling: the model memorizes the
  training set;
* **underfitting**: the training loss barely fell, or both losses were still
  falling steeply when training stopped: the model is too small or trained
  too briefly;
* **diverging**: the loss grew by orders of magnitude instead of falling:
  the learning rate is too high for the model and data;
* **fine**: none of these.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

VERDICTS = ("overfitting", "underfitting", "diverging", "fine")

# The FAQ's remedies, in the article's language and in English.
REMEDIES = {
    "overfitting": [
        ("收集更多训练数据", "collect more training data"),
        (
            "数据增强（如图像的平移、旋转、缩放）",
            "augment the data (shifts, rotations, zooms)",
        ),
        ("正则化：L1/L2 权重衰减", "regularize: L1/L2 weight decay"),
        ("Dropout", "dropout"),
        (
            "提前停止：保留验证损失最低的那一轮",
            "stop early: keep the epoch of lowest validation loss",
        ),
        ("减小模型：更少的层或单元", "use a smaller model: fewer layers or units"),
    ],
    "underfitting": [
        ("训练更多轮", "train for more epochs"),
        ("增大模型：更多的层或单元", "use a bigger model: more layers or units"),
        (
            "减弱正则化（更小的 Dropout 或 L2）",
            "regularize less (smaller dropout or L2)",
        ),
        ("调整学习率", "tune the learning rate"),
    ],
    "diverging": [
        ("降低学习率（例如降到十分之一）", "lower the learning rate (a tenth, say)"),
        ("裁剪梯度范数", "clip the gradient norm (--clip-norm)"),
        ("把输入特征标准化到相近的尺度", "standardize the input features"),
    ],
    "fine": [],
}


@dataclasses.dataclass
class Diagnosis:
    """What `diagnose_history` found.

    Attributes:
        verdict: str. `"overfitting"`, `"underfitting"` or `"fine"`.
        turning_epoch: int or None. 1-based epoch of the lowest validation
            loss (None without validation).
        reason_en, reason_zh: str. Why, in numbers.
        remedies_en, remedies_zh: list of str. The FAQ's remedies that apply.
    """

    verdict: str
    turning_epoch: int | None
    reason_en: str
    reason_zh: str
    remedies_en: list
    remedies_zh: list

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        lines = [f"Diagnosis: {self.verdict} ({self.reason_en})"]
        lines += [f"  - {r}" for r in self.remedies_en]
        lines.append(f"诊断：{_ZH[self.verdict]}（{self.reason_zh}）")
        lines += [f"  - {r}" for r in self.remedies_zh]
        return "\n".join(lines)


_ZH = {
    "overfitting": "过拟合",
    "underfitting": "欠拟合",
    "diverging": "发散",
    "fine": "正常",
}


def _curve(history, key) -> np.ndarray | None:
    values = history.get(key)
    if values is None or not len(values):
        return None
    return np.asarray(values, dtype="float64")


def _divergence(train, *, val, history, initial_loss, grow) -> tuple | None:
    """`(reason_en, reason_zh)` if the loss ended `grow` times or more above
    where it started (the first batch's loss, else the first epoch's)."""
    start = initial_loss if initial_loss and math.isfinite(initial_loss) else None
    start = start if start is not None and start > 0 else train[0]
    ends = [train[-1]] + ([val[-1]] if val is not None else [])
    end = max(ends)
    if not (start > 0 and end > grow * start):
        return None
    rates = history.get("learning_rate") or []
    at = f" at learning rate {rates[-1]:g}" if len(rates) else ""
    zh_at = f"（学习率 {rates[-1]:g}）" if len(rates) else ""
    return (
        f"the loss grew from {start:.4g} to {end:.4g}, {end / start:.2g} times "
        f"more{at}: the learning rate is too high",
        f"损失从 {start:.4g} 增大到 {end:.4g}，是原来的 {end / start:.2g} 倍"
        f"{zh_at}：学习率过高",
    )


def diagnose_history(
    history,
    *,
    loss: str = "loss",
    rise: float = 0.1,
    still_falling: float = 0.02,
    initial_loss: float | None = None,
    grow: float = 100.0,
) -> Diagnosis:
    """Read a learning curve the way FAQ 6.3 does: overfitting, underfitting or fine.

    Article §6.3. Overfitting: after its lowest point the validation loss
    rose by more than `rise` (relative) while the training loss kept
    falling. Underfitting: the training loss fell by less than a tenth over
    the run, or the loss (validation, else training) was still falling by
    more than `still_falling` per epoch over the last epochs.

    Diverging: the last epoch's loss (training or validation) is `grow`
    times or more the loss training started from (`initial_loss`, else the
    first epoch's); the learning rate (the history's `"learning_rate"`) is
    named.

    Args:
        history: a `keras.callbacks.History`, or a dict of metric name ->
            list of per-epoch values (`"loss"`, `"val_loss"`, ...).
        loss: str. The loss key; its validation curve is `"val_" + loss`.
        rise: float. Relative rise of the validation loss above its minimum
            that counts as overfitting.
        still_falling: float. Relative fall per epoch, at the end, that
            counts as stopped too early.
        initial_loss: float or None. The loss of the first training batch,
            before any update (the training loop records it).
        grow: float. How many times the starting loss counts as diverging.

    Returns:
        A `Diagnosis` (`verdict`, `turning_epoch`, reasons and remedies in
        Chinese and English).

    Example:

    >>> d = diagnose_history({"loss": [1.0, 0.5, 0.3, 0.2, 0.1],
    ...                       "val_loss": [1.0, 0.6, 0.5, 0.6, 0.8]})
    >>> d.verdict, d.turning_epoch
    ('overfitting', 3)
    """
    history = getattr(history, "history", history)
    if not isinstance(history, dict):
        raise ValueError(
            "`history` must be a keras History or a dict of lists. "
            f"Received: history of type {type(history).__name__}"
        )
    for name, value in (
        ("rise", rise),
        ("still_falling", still_falling),
        ("grow", grow),
    ):
        if (
            not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value <= 0
        ):
            raise ValueError(
                f"`{name}` must be a number > 0. Received: {name}={value!r}"
            )
    train = _curve(history, loss)
    if train is None:
        raise ValueError(
            f"`history` has no {loss!r} curve. Received keys: {sorted(history)}"
        )
    val = _curve(history, f"val_{loss}")
    n = len(train)
    turning = None
    if val is not None and np.isfinite(val).any():
        turning = int(np.nanargmin(val)) + 1
    verdict, en, zh = "fine", "", ""
    diverged = _divergence(
        train, val=val, history=history, initial_loss=initial_loss, grow=grow
    )
    if diverged:
        verdict, (en, zh) = "diverging", diverged
    elif val is not None and turning is not None and turning < len(val):
        low, end = val[turning - 1], val[-1]
        grew = (end - low) / max(abs(low), 1e-12)
        if grew > rise and train[-1] < train[turning - 1]:
            verdict = "overfitting"
            en = (
                f"validation loss lowest at epoch {turning} ({low:.4g}), then up "
                f"{100 * grew:.0f}% to {end:.4g} while training loss fell to "
                f"{train[-1]:.4g}"
            )
            zh = (
                f"验证损失在第 {turning} 轮最低（{low:.4g}），"
                f"之后上升 {100 * grew:.0f}% 至 {end:.4g}，"
                f"而训练损失继续下降至 {train[-1]:.4g}"
            )
    if verdict == "fine" and n >= 2:
        learned = (train[0] - train[-1]) / max(abs(train[0]), 1e-12)
        watched = val if val is not None and np.isfinite(val).all() else train
        k = min(2, n - 1)
        recent = (watched[-k - 1] - watched[-1]) / max(abs(watched[-k - 1]), 1e-12) / k
        if learned < 0.1:
            verdict = "underfitting"
            en = f"training loss fell only {100 * learned:.0f}% over {n} epochs"
            zh = f"训练损失在 {n} 轮中只下降了 {100 * learned:.0f}%"
        elif recent > still_falling and watched[-1] > 0.05 * watched[0]:
            # (A loss already near zero falls by large fractions of little.)
            verdict = "underfitting"
            which, which_zh = (
                ("validation", "验证") if watched is val else ("training", "训练")
            )
            en = (
                f"{which} loss was still falling {100 * recent:.1f}% per epoch "
                "when training stopped"
            )
            zh = f"训练结束时{which_zh}损失仍以每轮 {100 * recent:.1f}% 的速度下降"
    if verdict == "fine":
        en = (
            f"validation loss lowest at epoch {turning} of {n}, without a clear rise"
            if turning is not None
            else f"training loss settled over {n} epoch(s)"
        )
        zh = (
            f"验证损失在第 {turning} 轮（共 {n} 轮）最低，之后没有明显上升"
            if turning is not None
            else f"训练损失在 {n} 轮中趋于稳定"
        )
    return Diagnosis(
        verdict=verdict,
        turning_epoch=turning,
        reason_en=en,
        reason_zh=zh,
        remedies_en=[e for _, e in REMEDIES[verdict]],
        remedies_zh=[z for z, _ in REMEDIES[verdict]],
    )
