"""Data in: image folders to `tf.data`, the article's loaders, device placement."""

from keras_bigmodels.data.image_index import (
    IMAGE_EXTENSIONS,
    ImageIndex,
    scan_image_folder,
)
from keras_bigmodels.data.images import image_folder, load_data, load_image
from keras_bigmodels.data.placement import prefetch_to_accelerator
from keras_bigmodels.data.screening import BadFile, BadImageError
from keras_bigmodels.data.splits import stratified_split
from keras_bigmodels.data.tabular import (
    Table,
    column_statistics,
    drop_missing_rows,
    impute,
    load_csv,
    mask_missing_steps,
    remove_at_random,
)
from keras_bigmodels.data.text import (
    Tokenizer,
    next_token_dataset,
    read_pairs,
    read_text_file,
    read_text_folder,
)

__all__ = [
    "IMAGE_EXTENSIONS",
    "BadFile",
    "BadImageError",
    "ImageIndex",
    "image_folder",
    "load_data",
    "load_image",
    "prefetch_to_accelerator",
    "scan_image_folder",
    "stratified_split",
    "Table",
    "Tokenizer",
    "column_statistics",
    "drop_missing_rows",
    "impute",
    "load_csv",
    "mask_missing_steps",
    "remove_at_random",
    "next_token_dataset",
    "read_pairs",
    "read_text_file",
    "read_text_folder",
]
