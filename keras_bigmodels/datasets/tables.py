"""A real table bundled with scikit-learn, with values removed at random (FAQ 6.2)."""

from __future__ import annotations

from keras_bigmodels.data.tabular import Table, remove_at_random


def load_breast_cancer_table(missing_fraction: float = 0.2, seed: int = 0) -> Table:
    """The Wisconsin breast-cancer table (569 rows, 30 measurements, 2 classes).

    It ships inside scikit-learn, so nothing is downloaded. `missing_fraction`
    of the values are replaced by NaN at random (seeded), to practise the
    FAQ's remedies for missing data on real measurements.
    """
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    return Table(
        x=remove_at_random(data.data, missing_fraction, seed),
        y=data.target.astype("int64"),
        feature_names=[str(n) for n in data.feature_names],
        class_names=[str(n) for n in data.target_names],
        dropped_rows=[],
    )
