"""Whole numbers read from text that may hold thousands of digits."""
from __future__ import annotations


def capped_number(digits: str, limit: int) -> int:
    """The value of a string of ASCII digits, or `limit + 1` when it is larger.
    A longer string is never converted: Python refuses to convert past 4,300 digits,
    and no caller needs more than "past the limit"."""
    significant = digits.lstrip('0') or '0'
    if len(significant) > len(str(limit)):
        return limit + 1
    return min(int(significant), limit + 1)
