"""Vectorized text for the fraud generator: fixed-width ids, Luhn-valid card numbers, names from small lists.

Formatting ten million ids one Python string at a time takes longer than generating the data, so ids are laid
out as a byte matrix (one row per value) and handed to Arrow as a string array without a per-row step.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_ALPHABET = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def strings_from_bytes(chars: np.ndarray) -> pa.Array:
    """One Arrow string per row of a ``(n, width)`` uint8 matrix of ASCII bytes."""
    rows, width = chars.shape
    offsets = np.arange(0, (rows + 1) * width, width, dtype=np.int64)
    data = np.ascontiguousarray(chars, dtype=np.uint8)
    return pa.Array.from_buffers(pa.large_string(), rows, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def format_ids(prefix: str, values: np.ndarray, width: int, base: int = 10) -> pa.Array:
    """``prefix`` followed by each value as ``width`` zero-padded digits in ``base`` (10 or 16).

    Args:
        prefix: ASCII text put before every id, e.g. ``"tx_"``.
        values: non-negative integers; each must fit in ``width`` digits.
        width: number of digits.
        base: 10 or 16.

    Returns:
        A ``large_string`` Arrow array, one id per value.

    Raises:
        ValueError: a value does not fit in ``width`` digits.
    """
    rest = np.asarray(values, dtype=np.uint64).copy()
    digits = np.empty((len(rest), width), dtype=np.uint8)
    radix = np.uint64(base)
    for position in range(width - 1, -1, -1):
        digits[:, position] = _ALPHABET[rest % radix]
        rest //= radix
    if rest.any():
        raise ValueError(f"an id does not fit in {width} base-{base} digits")
    head = np.broadcast_to(np.frombuffer(prefix.encode("ascii"), dtype=np.uint8), (len(digits), len(prefix)))
    return strings_from_bytes(np.hstack([head, digits]))


def luhn_check_digits(payload: np.ndarray) -> np.ndarray:
    """The Luhn check digit for each row of a ``(n, width)`` matrix of decimal digits (0-9)."""
    doubled_from_right = np.arange(payload.shape[1])[::-1] % 2 == 0
    values = payload.astype(np.int64)
    doubled = values[:, doubled_from_right] * 2
    values[:, doubled_from_right] = np.where(doubled > 9, doubled - 9, doubled)
    return (10 - values.sum(axis=1) % 10) % 10


def card_numbers(bins: np.ndarray, accounts: np.ndarray) -> pa.Array:
    """16-digit Luhn-valid card numbers: a 6-digit issuer prefix, a 9-digit account number, a check digit.

    Args:
        bins: 6-digit issuer identification numbers, one per card.
        accounts: account numbers below 10**9, one per card (distinct accounts give distinct numbers).

    Returns:
        A ``large_string`` Arrow array of card numbers.
    """
    payload = np.empty((len(bins), 15), dtype=np.uint8)
    for position, (source, width) in enumerate(((bins, 6), (accounts, 9))):
        rest = np.asarray(source, dtype=np.int64).copy()
        start = 0 if position == 0 else 6
        for column in range(start + width - 1, start - 1, -1):
            payload[:, column] = rest % 10
            rest //= 10
    digits = np.hstack([payload, luhn_check_digits(payload)[:, None].astype(np.uint8)])
    return strings_from_bytes(digits + ord("0"))


def pick_words(words: tuple[str, ...], indices: np.ndarray) -> pa.Array:
    """The word at each index, as an Arrow string array (a vectorized ``[words[i] for i in indices]``)."""
    return pc.take(pa.array(words, type=pa.large_string()), pa.array(indices))
