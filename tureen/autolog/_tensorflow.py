"""Keras 3 autologging as ``mlflow.tensorflow.autolog`` records it (the TensorFlow spelling).

The same ``keras.Model.fit`` patch as :mod:`tureen.autolog._keras` (which describes what both spellings
record), with MLflow's TensorFlow names: the optimizer config as ``opt_<key>`` params, the run tagged
``mlflow.autologging=tensorflow``, and ``EarlyStopping`` handled: its ``monitor``, ``min_delta``,
``patience``, ``baseline`` and ``restore_best_weights`` as params; when it stopped the training,
``stopped_epoch``; when it also restored the best weights, ``restored_epoch`` and that epoch's logs again at
step ``stopped_epoch + 1``.

TensorBoard logs and model checkpoints, which MLflow writes as artifacts here, are not written
(``docs/autolog.md``).
"""

from __future__ import annotations

from typing import Any

from tureen.autolog import _patch
from tureen.autolog._keras import Spelling, _config, patch_fit

__all__ = ["autolog", "FLAVOR_NAME", "TESTED_VERSIONS", "TENSORFLOW"]

FLAVOR_NAME = "tensorflow"
#: TensorFlow releases whose tf.keras is Keras 3 and that MLflow 3.17 tests its autologging with
TESTED_VERSIONS = ("2.17.1", "2.21.0")

TENSORFLOW = Spelling(flavor=FLAVOR_NAME, optimizer_prefix="opt_", early_stopping=True,
                      flavor_module="tureen.flavors.tensorflow")


def autolog(log_every_epoch: bool = True, log_every_n_steps: int | None = None, log_models: bool = True,
            log_model_signatures: bool = True, log_input_examples: bool = False, log_datasets: bool = True,
            disable: bool = False, exclusive: bool = False, disable_for_unsupported_versions: bool = False,
            silent: bool = False, registered_model_name: str | None = None,
            extra_tags: dict[str, Any] | None = None) -> None:
    """Turn on (or off) autologging for ``tf.keras`` (Keras 3) ``Model.fit``, recorded as
    ``mlflow.tensorflow.autolog`` does.

    Args:
        log_every_epoch: log the epoch logs at each epoch end (step = epoch).
        log_every_n_steps: instead, log the batch logs every n optimizer steps (needs
            ``log_every_epoch=False``).
        (others): as :func:`tureen.autolog`.

    Raises:
        InvalidParameterError: both or neither of ``log_every_epoch`` and ``log_every_n_steps`` given.
        MissingDependencyError: TensorFlow is not installed.

    Example:
        >>> import tureen.flavors.tensorflow  # doctest: +SKIP
        >>> tureen.flavors.tensorflow.autolog(log_models=False)  # doctest: +SKIP
    """
    config = _config(log_every_epoch=log_every_epoch, log_every_n_steps=log_every_n_steps, log_models=log_models,
                     log_model_signatures=log_model_signatures, log_input_examples=log_input_examples,
                     log_datasets=log_datasets, exclusive=exclusive, silent=silent,
                     registered_model_name=registered_model_name, extra_tags=extra_tags)
    tf = _patch.start(FLAVOR_NAME, "tensorflow", "TensorFlow autologging", config, disable=disable,
                      disable_for_unsupported_versions=disable_for_unsupported_versions, tested=TESTED_VERSIONS)
    if tf is None:
        return
    import keras  # tf.keras.Model is keras.Model with TensorFlow 2.16+

    patch_fit(keras, TENSORFLOW)
