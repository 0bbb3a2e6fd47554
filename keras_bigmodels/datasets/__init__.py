"""Bundled data that needs no download."""

from keras_bigmodels.datasets.addition import addition_tokenizer, load_addition
from keras_bigmodels.datasets.corpus import load_corpus
from keras_bigmodels.datasets.digits import export_digits, load_digits
from keras_bigmodels.datasets.sequence_tasks import load_order_task
from keras_bigmodels.datasets.tables import load_breast_cancer_table

__all__ = [
    "addition_tokenizer",
    "export_digits",
    "load_addition",
    "load_breast_cancer_table",
    "load_corpus",
    "load_digits",
    "load_order_task",
]
