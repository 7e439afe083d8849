"""Readable random run names such as ``brave-otter-417`` (MLflow gives runs names of this shape)."""

from __future__ import annotations

import random

_ADJECTIVES = (
    "amber", "bold", "brave", "bright", "calm", "clever", "crisp", "daring", "eager", "fair", "gentle", "glad",
    "golden", "grand", "happy", "honest", "keen", "kind", "lively", "lucid", "merry", "mild", "nimble", "noble",
    "patient", "plucky", "polite", "proud", "quick", "quiet", "rapid", "serene", "sharp", "shy", "silver",
    "smooth", "steady", "sunny", "swift", "tidy", "vivid", "warm", "wise", "witty", "zesty",
)
_NOUNS = (
    "badger", "bear", "beaver", "bison", "crane", "deer", "dolphin", "eagle", "falcon", "ferret", "finch", "fox",
    "gecko", "heron", "ibis", "jay", "koala", "lark", "lemur", "lynx", "mole", "moose", "newt", "orca", "otter",
    "owl", "panda", "pike", "puffin", "quail", "raven", "robin", "seal", "shrew", "sparrow", "stork", "swan",
    "tapir", "tern", "toad", "trout", "vole", "walrus", "wren", "yak",
)


def random_run_name() -> str:
    """Example:
        >>> len(random_run_name().split("-"))
        3
    """
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randint(0, 999)}"
