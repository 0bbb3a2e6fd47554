"""`python -m keras_bigmodels` runs the `keras-bigmodels` command."""

import sys

from keras_bigmodels.cli.__main__ import main

sys.exit(main())
