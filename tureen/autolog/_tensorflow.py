"""Keras 3 autologging as ``mlflow.tensorflow.autolog`` records it (the TensorFlow spelling).

The same ``keras.Model.fit`` patch as :mod:`tureen.autolog._keras` (which describes what both spellings
record), with MLflow's TensorFlow names: the optimizer config as ``opt_<key>`` params, the run tagged
``mlflow.autologging=tensorflow``, and ``EarlyStopping`` handled: its ``monitor``, ``min_delta``,
``patience``, ``baseline`` and ``restore_best_weights`` as params; when it stopped the training,
``stopped_epoch``; when it also restored the best weights, ``restored_epoch`` and that epoch's logs again at
step ``stopped_epoch + 1``.

Model checkpoints are logged as MLflow logs them (the ``checkpoint*`` parameters,
:mod:`tureen.autolog._checkpoint`); TensorBoard logs, which MLflow also writes as artifacts here, are not
(``docs/autolog.md``).
"""

from __future__ import annotations

from typing import Any

from tureen.autolog import _patch
from tureen.autolog._keras import Spelling, _config, checkpoint_callback_class, patch_fit

#: checkpoint_callback_class: tureen.flavors.tensorflow.MlflowModelCheckpointCallback (a Keras callback)
__all__ = ["autolog", "FLAVOR_NAME", "TESTED_VERSIONS", "TENSORFLOW", "checkpoint_callback_class"]

FLAVOR_NAME = "tensorflow"
#: TensorFlow releases whose tf.keras is Keras 3 and that MLflow 3.17 tests its autologging with
TESTED_VERSIONS = ("2.17.1", "2.21.0")

TENSORFLOW = Spelling(flavor=FLAVOR_NAME, optimizer_prefix="opt_", early_stopping=True,
                      flavor_module="tureen.flavors.tensorflow", save_options=("saved_model_kwargs", "keras_model_kwargs"),
                      checkpoints=True)


def autolog(log_models: bool = True, log_datasets: bool = True, disable: bool = False, exclusive: bool = False,
            disable_for_unsupported_versions: bool = False, silent: bool = False,
            registered_model_name: str | None = None, log_input_examples: bool = False,
            log_model_signatures: bool = True, saved_model_kwargs: dict[str, Any] | None = None,
            keras_model_kwargs: dict[str, Any] | None = None, extra_tags: dict[str, Any] | None = None,
            log_every_epoch: bool = True, log_every_n_steps: int | None = None, checkpoint: bool = True,
            checkpoint_monitor: str | None = "val_loss", checkpoint_mode: str = "min",
            checkpoint_save_best_only: bool = True, checkpoint_save_weights_only: bool = False,
            checkpoint_save_freq: str | int = "epoch") -> None:
    """Turn on (or off) autologging for ``tf.keras`` (Keras 3) ``Model.fit``, recorded as
    ``mlflow.tensorflow.autolog`` does.

    Args:
        saved_model_kwargs: keyword arguments for ``tf.saved_model.save`` (models that are ``tf.Module``
            objects rather than Keras models; the Keras models ``fit`` trains do not use them).
        keras_model_kwargs: keyword arguments for ``keras.Model.save`` when the model is logged.
        log_every_epoch: log the epoch logs at each epoch end (step = epoch).
        log_every_n_steps: instead, log the batch logs every n optimizer steps (needs
            ``log_every_epoch=False``).
        checkpoint: log model checkpoints during training (``checkpoints/``, see ``docs/autolog.md``).
        checkpoint_monitor: the logged metric that decides which checkpoint is the best.
        checkpoint_mode: ``"min"`` or ``"max"``: whether a lower or a higher monitored value is better.
        checkpoint_save_best_only: keep one checkpoint, replaced when the monitored metric improves
            (``checkpoints/latest_checkpoint.h5``); else one per epoch or per ``checkpoint_save_freq`` steps.
        checkpoint_save_weights_only: checkpoint the weights only (``Model.save_weights``), not the model.
        checkpoint_save_freq: ``"epoch"``, or a number of training batches between checkpoints.
        (others): as :func:`tureen.autolog`.

    Raises:
        InvalidParameterError: both or neither of ``log_every_epoch`` and ``log_every_n_steps`` given; a
            ``checkpoint*`` value MLflow would not act on (``checkpoint_mode="sideways"``); a ``*_kwargs``
            that is not a dict.
        MissingDependencyError: TensorFlow is not installed.

    Example:
        >>> import tureen.flavors.tensorflow  # doctest: +SKIP
        >>> tureen.flavors.tensorflow.autolog(log_models=False, checkpoint_save_best_only=False)  # doctest: +SKIP
    """
    from tureen.autolog._checkpoint import checkpoint_config

    config = _config(log_every_epoch=log_every_epoch, log_every_n_steps=log_every_n_steps, log_models=log_models,
                     log_model_signatures=log_model_signatures, log_input_examples=log_input_examples,
                     log_datasets=log_datasets, exclusive=exclusive, silent=silent,
                     registered_model_name=registered_model_name, extra_tags=extra_tags,
                     saved_model_kwargs=saved_model_kwargs, keras_model_kwargs=keras_model_kwargs,
                     **checkpoint_config(checkpoint, checkpoint_monitor, checkpoint_mode, checkpoint_save_best_only,
                                         checkpoint_save_weights_only, checkpoint_save_freq))
    tf = _patch.start(FLAVOR_NAME, "tensorflow", "TensorFlow autologging", config, disable=disable,
                      disable_for_unsupported_versions=disable_for_unsupported_versions, tested=TESTED_VERSIONS)
    if tf is None:
        return
    import keras  # tf.keras.Model is keras.Model with TensorFlow 2.16+

    patch_fit(keras, TENSORFLOW)
