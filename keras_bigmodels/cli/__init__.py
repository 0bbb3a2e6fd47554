"""The command-line interface; `keras_bigmodels.cli.__main__.main` is the entry."""
