"""Unified social credit codes (GB 32100-2015): the check character and what is wrong with a code."""

from __future__ import annotations

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a credit code."""
    total = sum(USCC_ALPHABET.index(ch) * w for ch, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_problem(code: object) -> str | None:
    """None when code is a well-formed credit code, else what is wrong with it."""
    if not isinstance(code, str):
        return "credit code missing"
    if len(code) != 18:
        return f"credit code {code!r} has {len(code)} characters, not 18"
    bad = [ch for ch in code if ch not in USCC_ALPHABET]
    if bad:
        return f"credit code {code!r} has characters not allowed: {''.join(sorted(set(bad)))}"
    expected = uscc_check_char(code[:17])
    if code[17] != expected:
        return f"credit code {code!r} fails its check digit (expected {expected!r})"
    return None
