"""Request and response codecs, in one place for importers: each concern lives in its own module.

* :mod:`tureen.serving.conversions`: wire values -> the signature's numpy types, without loss;
* :mod:`tureen.serving.scoring_codec`: MLflow's scoring protocol (JSON, CSV, Parquet bodies -> model input);
* :mod:`tureen.serving.responses`: model output -> JSON answers;
* :mod:`tureen.serving.v2_codec`: the Open Inference Protocol (V2) tensors.
"""

from __future__ import annotations

from tureen.serving.responses import encode_json, encode_predictions
from tureen.serving.scoring_codec import (CONTENT_TYPES, SUPPORTED_FORMATS, ParsedRequest, ScoringCodec,
                                          check_csv_shape, check_csv_stream, loads_json, parse_content_type)
from tureen.serving.v2_codec import V2_DATATYPES, V2Codec, v2_datatype

__all__ = ["ParsedRequest", "ScoringCodec", "encode_predictions", "encode_json", "V2Codec", "V2_DATATYPES",
           "v2_datatype", "CONTENT_TYPES", "SUPPORTED_FORMATS", "parse_content_type", "loads_json",
           "check_csv_shape", "check_csv_stream"]
