"""A real English corpus that ships with Python: the interactive help topics.

`pydoc_data.topics` holds the text of Python's `help()` topics (the language
reference, written by people): about 465,000 characters of English prose and
code. It is in every CPython installation, so the default GPT corpus needs no
download. Any UTF-8 text file of your own can replace it.
"""

from __future__ import annotations


def load_corpus() -> str:
    """The help-topics corpus as one string, topics in sorted order.

    Example:

    >>> len(load_corpus()) > 100_000
    True
    """
    from pydoc_data import topics

    return "\n\n".join(topics.topics[k] for k in sorted(topics.topics))
