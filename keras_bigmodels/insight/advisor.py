"""Which architecture for my problem? FAQ 6.1, as a function that answers.

Article §6.1 (如何选择合适的模型架构): choose by the task type, the amount of
data and the compute at hand. `recommend_architecture` returns the builder of
this package to call, suggested arguments, the command that trains it, and
the reasons, in Chinese and in English.
"""

from __future__ import annotations

import dataclasses

from keras_bigmodels import _validation as V

TASKS = (
    "image_classification",
    "text_classification",
    "sequence_classification",
    "time_series",
    "translation",
    "seq2seq",
    "generation",
    "anomaly_detection",
    "tabular",
)
COMPUTE = ("cpu", "gpu")
# The input shapes each task takes: the numbers of dimensions, and how to
# write one on the command line.
SHAPES = {
    "image_classification": ((3,), "HxWxC (height x width x channels)"),
    "text_classification": ((1,), "T (tokens per text)"),
    "sequence_classification": ((2,), "TxF (time steps x features)"),
    "time_series": ((2,), "TxF (time steps x features)"),
    "translation": ((1,), "T (tokens per sentence)"),
    "seq2seq": ((1,), "T (tokens per sequence)"),
    "generation": ((1, 3), "HxWxC for images, T for text"),
    "anomaly_detection": ((1, 2, 3), "F, TxF or HxWxC"),
    "tabular": ((1,), "F (number of feature columns)"),
}
SMALL, LARGE = 2_000, 50_000  # examples: below SMALL is little data


@dataclasses.dataclass
class Recommendation:
    """What `recommend_architecture` suggests.

    Attributes:
        builder: str. The function of this package to call.
        arguments: dict. Suggested arguments for it.
        command: str. The `keras-bigmodels` command that trains it (or "").
        reasons_en, reasons_zh: list of str. Why, by the FAQ's three factors.
    """

    builder: str
    arguments: dict
    command: str
    reasons_en: list
    reasons_zh: list

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.arguments.items())
        lines = [f"{self.builder}({args})"]
        if self.command:
            lines.append(f"  $ {self.command}")
        lines += [f"  - {r}" for r in self.reasons_en]
        lines += [f"  - {r}" for r in self.reasons_zh]
        return "\n".join(lines)


def _size(n: int) -> tuple[str, str, str]:
    if n < SMALL:
        return "small", f"{n} examples is little data", f"{n} 个样本属于小数据"
    if n < LARGE:
        return (
            "medium",
            f"{n} examples is a medium data set",
            f"{n} 个样本属于中等数据量",
        )
    return "large", f"{n} examples is a large data set", f"{n} 个样本属于大数据量"


def _compute_reason(compute: str) -> tuple[str, str]:
    if compute == "gpu":
        return "a GPU allows a larger model", "有 GPU，可以用更大的模型"
    return "on a CPU, a small model trains in reasonable time", "只有 CPU，宜用小模型"


def _check_shape(task: str, input_shape) -> tuple | None:
    if input_shape is None:
        return None
    shape = tuple(input_shape)
    ranks, written = SHAPES[task]
    if (
        len(shape) not in ranks
        or not all(isinstance(v, int) and v > 0 for v in shape)
        or (task == "image_classification" and shape[-1] not in (1, 3, 4))
    ):
        text = "x".join(map(str, shape))
        raise ValueError(
            f"`input_shape` of {task} is {written}: "
            + ("the channels are 1, 3 or 4; " if len(shape) == 3 else "")
            + f"Received: input_shape={text}"
        )
    return shape


def recommend_architecture(
    task: str, num_samples: int, *, input_shape=None, compute: str = "cpu"
) -> Recommendation:
    """Suggest an architecture by task, data size and compute (FAQ 6.1).

    Args:
        task: str. One of `TASKS`: "image_classification",
            "text_classification", "sequence_classification", "time_series",
            "translation", "seq2seq", "generation", "anomaly_detection",
            "tabular".
        num_samples: int. Labelled examples (images, texts, pairs, rows).
        input_shape: tuple or None. (height, width, channels) for images,
            (timesteps, features) for series, (features,) for tables.
            For "generation", a 3-D shape means images, None means text.
        compute: str. `"cpu"` or `"gpu"`.

    Returns:
        A `Recommendation`.

    Example:

    >>> r = recommend_architecture(
    ...     "image_classification", 300, input_shape=(224, 224, 3)
    ... )
    >>> r.builder
    'build_image_classifier'
    """
    V.check_choice("task", task, TASKS)
    V.check_positive_int("num_samples", num_samples)
    V.check_choice("compute", compute, COMPUTE)
    shape = _check_shape(task, input_shape)
    size, size_en, size_zh = _size(num_samples)
    comp_en, comp_zh = _compute_reason(compute)
    en, zh = [size_en, comp_en], [size_zh, comp_zh]
    gpu = compute == "gpu"

    if task == "image_classification":
        shape = shape or (224, 224, 3)
        if min(shape[:2]) < 32:
            en.append(
                "images under 32 px are too small for pretrained networks; "
                "resize them to 32x32 for the article's CNN"
            )
            zh.append("小于 32 像素的图像不适合预训练网络；放大到 32x32 后用文中的 CNN")
            return Recommendation(
                "build_cnn",
                {
                    "input_shape": (32, 32, shape[-1]),
                    "augmentation": "light",
                    "dropout": 0.3,
                },
                "keras-bigmodels train cnn --data DIR --image-size 32",
                ["images: a CNN (article §3.1)", *en],
                ["图像任务：卷积神经网络（第 3.1 节）", *zh],
            )
        if size == "large" and gpu:
            backbone, weights = "efficientnet_b0", "imagenet"
            en.append("much data and a GPU: fine-tune a larger pretrained network")
            zh.append("数据多且有 GPU：微调较大的预训练网络")
        else:
            backbone, weights = "mobilenet_v2", "imagenet"
            en.append(
                "reuse what a network learned on ImageNet: train a new head, "
                "then fine-tune (article §2.8)"
            )
            zh.append(
                "迁移学习：复用在 ImageNet 上学到的特征，"
                "先训练新的输出层，再微调（第 2.8 节）"
            )
        return Recommendation(
            "build_image_classifier",
            {"backbone": backbone, "weights": weights, "input_shape": shape},
            f"keras-bigmodels train classifier --data DIR --backbone {backbone} "
            "--weights imagenet --fine-tune-epochs 5",
            ["images: a pretrained CNN backbone with a new head", *en],
            ["图像任务：预训练卷积网络加新的输出层", *zh],
        )

    if task in ("text_classification", "sequence_classification"):
        if size == "large" or gpu:
            en.append("attention relates distant tokens directly (article §2.4)")
            zh.append("注意力机制直接关联远距离的词（第 2.4 节）")
            return Recommendation(
                "build_transformer",
                {"num_layers": 2, "embed_dim": 64, "num_heads": 4},
                "keras-bigmodels train transformer --data DIR",
                ["sequences: a Transformer encoder", *en],
                ["序列任务：Transformer 编码器", *zh],
            )
        en.append("a bidirectional LSTM learns word order from little data")
        zh.append("双向 LSTM 在小数据上也能学到词序")
        return Recommendation(
            "build_rnn",
            {"kind": "lstm", "bidirectional": True, "units": 64},
            "keras-bigmodels train rnn --data DIR",
            ["sequences: a recurrent network (article §2.3)", *en],
            ["序列任务：循环神经网络（第 2.3 节）", *zh],
        )

    if task == "time_series":
        cell = "gru" if size == "small" else "lstm"
        return Recommendation(
            "build_rnn",
            {
                "kind": cell,
                "input_dim": shape[-1] if shape else None,
                "task": "regression",
                "num_classes": 1,
            },
            "",
            [
                "time series: a recurrent network carries state through time "
                "(article §2.3)",
                f"{cell.upper()}: fewer weights for little data"
                if cell == "gru"
                else "LSTM: its gates keep long-range patterns",
                *en,
            ],
            [
                "时间序列：循环神经网络沿时间传递状态（第 2.3 节）",
                "GRU 参数更少，适合小数据"
                if cell == "gru"
                else "LSTM 的门控能保留长程模式",
                *zh,
            ],
        )

    if task in ("translation", "seq2seq"):
        kind = "transformer" if (size != "small" or gpu) else "lstm"
        return Recommendation(
            "build_seq2seq",
            {"kind": kind},
            f"keras-bigmodels train seq2seq --data pairs.tsv --kind {kind}",
            [
                "sequence to sequence: an encoder-decoder (article §2.4)",
                "a Transformer for more data or a GPU"
                if kind == "transformer"
                else "an LSTM with attention for little data on a CPU",
                *en,
            ],
            [
                "序列到序列：编码器-解码器（第 2.4 节）",
                "数据较多或有 GPU 时用 Transformer"
                if kind == "transformer"
                else "小数据、CPU 上用带注意力的 LSTM",
                *zh,
            ],
        )

    if task == "generation":
        if shape is not None and len(shape) == 3:
            return Recommendation(
                "build_gan",
                {"image_shape": shape},
                "keras-bigmodels train gan --data DIR",
                [
                    "image generation: a GAN (article §2.5); a VAE trains more stably",
                    *en,
                ],
                ["图像生成：生成对抗网络（第 2.5 节）；VAE 训练更稳定", *zh],
            )
        return Recommendation(
            "build_gpt",
            {"max_length": 128, "num_layers": 4 if not gpu else 6},
            "keras-bigmodels train gpt --data my_text.txt",
            ["text generation: a GPT language model (article §3.2)", *en],
            ["文本生成：GPT 语言模型（第 3.2 节）", *zh],
        )

    if task == "anomaly_detection":
        return Recommendation(
            "build_autoencoder",
            {"input_shape": shape, "kind": "dense"},
            "keras-bigmodels train autoencoder --data DIR",
            [
                "anomalies: an autoencoder trained on normal data reconstructs "
                "anomalies badly (article §2.6); flag a high reconstruction_error",
                *en,
            ],
            [
                "异常检测：只用正常数据训练自编码器，异常样本的重建误差大（第 2.6 节）",
                *zh,
            ],
        )

    # tabular
    return Recommendation(
        "build_mlp",
        {"num_features": shape[0] if shape else None, "imputer": "median"},
        "keras-bigmodels train mlp --data table.csv --target COLUMN",
        [
            "tables: a small multilayer perceptron; missing values imputed "
            "inside the model (FAQ 6.2)",
            *en,
        ],
        ["表格数据：小型多层感知机；缺失值在模型内填补（第 6.2 节）", *zh],
    )
