"""`python -m keras_bigmodels` runs the `keras-bigmodels` command."""

import sys

try:
    from keras_bigmodels.cli.__main__ import main
except KeyboardInterrupt:  # Ctrl-C while Python is still importing
    sys.exit(130)

sys.exit(main())
