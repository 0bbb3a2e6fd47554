"""Argument checks that raise a `ValueError` naming the argument and the value."""

from collections.abc import Iterable, Sequence


def check_positive_int(name: str, value, allow_none: bool = False):
    """Return `value` if it is an int > 0 (or None when allowed), else raise."""
    if value is None and allow_none:
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"`{name}` must be a positive integer. Received: {name}={value!r}"
        )
    return value


def check_non_negative_int(name: str, value):
    """Return `value` if it is an int >= 0, else raise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(
            f"`{name}` must be a non-negative integer. Received: {name}={value!r}"
        )
    return value


def check_fraction(name: str, value, allow_none: bool = True, closed: bool = False):
    """Return `value` if 0 <= value < 1 (or None when allowed), else raise."""
    if value is None and allow_none:
        return value
    upper_ok = value <= 1 if closed else value < 1
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (0 <= value and upper_ok)
    ):
        bound = "[0, 1]" if closed else "[0, 1)"
        raise ValueError(
            f"`{name}` must be a number in {bound}. Received: {name}={value!r}"
        )
    return value


def check_non_negative(name: str, value):
    """Return `value` if it is a real number >= 0, else raise."""
    check_finite(name, value)
    if value < 0:
        raise ValueError(f"`{name}` must be a number >= 0. Received: {name}={value!r}")
    return value


def check_choice(name: str, value, choices: Iterable):
    """Return `value` if it is one of `choices`, else raise."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(
            f"`{name}` must be one of {choices}. Received: {name}={value!r}"
        )
    return value


def check_size(name: str, value, length: int = 2) -> tuple:
    """Return `value` as a tuple of `length` positive ints; an int is repeated."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,) * length
    if (
        not isinstance(value, Sequence)
        or len(value) != length
        or any(isinstance(v, bool) or not isinstance(v, int) or v <= 0 for v in value)
    ):
        raise ValueError(
            f"`{name}` must be {length} positive integers. Received: {name}={value!r}"
        )
    return tuple(value)


def check_int_sequence(name: str, value, allow_empty: bool = False) -> tuple:
    """Return `value` as a tuple of positive ints; one int becomes a 1-tuple."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if (
        not isinstance(value, Sequence)
        or (not value and not allow_empty)
        or any(isinstance(v, bool) or not isinstance(v, int) or v <= 0 for v in value)
    ):
        raise ValueError(
            f"`{name}` must be a sequence of positive integers. "
            f"Received: {name}={value!r}"
        )
    return tuple(value)


def check_divisible(name: str, *, value: int, by_name: str, by: int) -> None:
    """Raise unless `value` is a multiple of `by` (e.g. width by attention heads)."""
    if value % by:
        raise ValueError(
            f"`{name}` must be divisible by `{by_name}`. "
            f"Received: {name}={value}, {by_name}={by}"
        )


def check_finite(name: str, value, allow_none: bool = False):
    """Return `value` if it is a finite real number (or None when allowed)."""
    import math

    if value is None and allow_none:
        return value
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
    ):
        raise ValueError(
            f"`{name}` must be a finite number. Received: {name}={value!r}"
        )
    return value


def check_positive(name: str, value, allow_none: bool = False):
    """Return `value` if it is a finite number > 0 (or None when allowed)."""
    if value is None and allow_none:
        return value
    check_finite(name, value)
    if value <= 0:
        raise ValueError(f"`{name}` must be a number > 0. Received: {name}={value!r}")
    return value


def check_encoding(name: str, value):
    """Return `value` if it is a text encoding Python knows (or None)."""
    import codecs

    if value is None:
        return None
    try:
        codecs.lookup(value)
    except (LookupError, TypeError):
        raise ValueError(
            f"`{name}` must be a text encoding Python knows, such as 'utf-8', "
            f"'gb18030', 'big5' or 'utf-16'. Received: {name}={value!r}"
        ) from None
    return value


def conv_feature_size(
    size: int, *, n_blocks: int, kernel_size: int, padding: str
) -> int:
    """Side of the feature map after `n_blocks` conv + 2x2 pool blocks (0: none)."""
    for _ in range(n_blocks):
        if padding == "valid":
            size -= kernel_size - 1
        if size < 2:
            return 0
        size //= 2
    return size


def check_cnn_image_size(name: str, image_size, blocks: int = 3) -> None:
    """Refuse an image size the article's CNN (3x3 'valid' conv + 2x2 pool
    blocks, `build_cnn`'s default) cannot take."""
    if image_size is None:
        return
    smallest = next(
        n
        for n in range(1, 4096)
        if conv_feature_size(n, n_blocks=blocks, kernel_size=3, padding="valid")
    )
    if min(image_size) < smallest:
        raise ValueError(
            f"`{name}` must be at least {smallest} pixels on each side for "
            f"the CNN's {blocks} convolution blocks. "
            f"Received: {name}={image_size}"
        )
