"""The one parser for boolean settings (``TUREEN_ALLOW_PICKLE``, ``TUREEN_SERVING_PRELOAD``, ...).

Configuration fails closed: a boolean accepts only the documented spellings below (any letter case,
surrounding spaces ignored) and anything else is an :class:`~tureen.exceptions.InvalidSettingError`
naming the accepted values. A guess such as ``TUREEN_ALLOW_PICKLE=never`` silently meaning "allow"
(because it is not one of the false words) is exactly what this module exists to prevent.

Stdlib only: imported by ``tureen.flavors._gate`` on every load, so it must cost nothing.
"""

from __future__ import annotations

import os
from typing import Mapping

__all__ = ["TRUE_WORDS", "FALSE_WORDS", "ACCEPTED", "parse_bool", "env_bool"]

TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")
#: how the accepted spellings are named in error messages and docs
ACCEPTED = "true/false, 1/0, yes/no, on/off (any case)"

_VALUES = {**{w: True for w in TRUE_WORDS}, **{w: False for w in FALSE_WORDS}}


def parse_bool(value: object, *, name: str) -> bool:
    """``value`` as a bool; ``name`` (the variable or option) is quoted in the error.

    Real bools pass through; strings must be one of the documented spellings. Anything else (other
    words, empty strings, numbers other than 0/1, None) is refused rather than guessed.

    Raises:
        InvalidSettingError: ``value`` is not one of the accepted spellings.

    Example:
        >>> parse_bool(" Yes ", name="TUREEN_ALLOW_PICKLE")
        True
        >>> parse_bool("off", name="TUREEN_ALLOW_PICKLE")
        False
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        hit = _VALUES.get(value.strip().lower())
        if hit is not None:
            return hit
    from tureen.exceptions import InvalidSettingError

    raise InvalidSettingError(f"{name} must be a boolean, one of {ACCEPTED}; got {value!r}")


def env_bool(name: str, default: bool, environ: Mapping[str, str] | None = None) -> bool:
    """The boolean environment variable ``name``; ``default`` when it is not set.

    A variable that is set (even to an empty string) must hold an accepted spelling.

    Raises:
        InvalidSettingError: the variable holds anything else.

    Example:
        >>> env_bool("TUREEN_DOCTEST_UNSET_FLAG", True, {})
        True
        >>> env_bool("X", True, {"X": "0"})
        False
    """
    env = os.environ if environ is None else environ
    raw = env.get(name)
    if raw is None:
        return default
    return parse_bool(raw, name=name)
