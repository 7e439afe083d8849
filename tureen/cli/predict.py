"""``tureen predict``: score a file with any model, streaming large inputs in chunks.

Input: CSV, JSON (any scoring-payload form: ``dataframe_split``, ``dataframe_records``, ``instances``,
``inputs``, optionally with ``params``) or Parquet. Output: JSON (``{"predictions": [...]}``, as the scoring
server answers) or CSV. The output file is written to a temp file and renamed, so a failure leaves nothing.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

import click

from tureen.exceptions import InvalidInputError

_FORMATS_IN = ("csv", "json", "parquet")
_FORMATS_OUT = ("json", "csv")


def _guess_format(path: str, given: str | None, allowed: tuple[str, ...], what: str) -> str:
    if given:
        return given
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix in ("pq",):
        suffix = "parquet"
    if suffix in allowed:
        return suffix
    raise click.UsageError(f"Cannot tell the {what} format from {path!r}; pass --{what}-format "
                           f"({'|'.join(allowed)})")


def _iter_csv(path: str, chunk_rows: int) -> Iterator[Any]:
    import pandas as pd

    from tureen.exceptions import BadRequestError
    from tureen.serving.codecs import check_csv_stream

    try:
        with open(path, newline="", encoding="utf-8") as stream:
            check_csv_stream(stream)  # rows wider or narrower than the header are refused, never shifted
    except BadRequestError as exc:
        raise InvalidInputError(f"Input file {path!r}: {exc.message.removeprefix('Invalid input. ')}") from None
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"Input file {path!r} is not valid CSV: {exc}") from None
    try:
        reader = pd.read_csv(path, chunksize=chunk_rows, index_col=False)
        for chunk in reader:
            yield chunk
    except pd.errors.EmptyDataError:
        raise InvalidInputError(f"Input file {path!r} is empty: expected a CSV header and rows") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"Input file {path!r} is not valid CSV: {exc}") from None


def _iter_parquet(path: str, chunk_rows: int) -> Iterator[Any]:
    from tureen._optional import import_optional

    pq = import_optional("pyarrow.parquet", "reading Parquet input")
    try:
        file = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
        raise InvalidInputError(f"Input file {path!r} is not valid Parquet: {exc}") from None
    for batch in file.iter_batches(batch_size=chunk_rows):
        yield batch.to_pandas()


def _read_json(path: str, model: Any) -> tuple[Any, dict[str, Any] | None]:
    """Parse a JSON scoring payload exactly as the scoring server does (same codec, same errors)."""
    from tureen.exceptions import TureenError
    from tureen.serving.codecs import ScoringCodec

    body = Path(path).read_bytes()
    if not body.strip():
        raise InvalidInputError(f"Input file {path!r} is empty: expected a JSON scoring payload")
    sig = model.metadata.signature
    codec = ScoringCodec(sig.inputs if sig else None, sig.params if sig else None,
                         type_hint_signature=model.metadata.is_signature_from_type_hint)
    try:
        parsed = codec.parse_json(body)
    except TureenError as exc:
        raise type(exc)(f"Input file {path!r}: {exc.message}", error_code=exc.error_code,
                        http_status=exc.http_status) from None
    return parsed.data, parsed.params


def to_jsonable(pred: Any) -> Any:
    """Predictions in the shape the scoring server answers with."""
    import json as _json

    from tureen.serving.codecs import encode_predictions

    return _json.loads(encode_predictions(pred))["predictions"]


def _as_frame(pred: Any) -> Any:
    import numpy as np
    import pandas as pd

    if isinstance(pred, pd.DataFrame):
        return pred
    if isinstance(pred, pd.Series):
        return pred.to_frame(name=pred.name if pred.name is not None else "prediction")
    arr = np.asarray(pred)
    if arr.ndim <= 1:
        return pd.DataFrame({"prediction": arr.reshape(-1)})
    return pd.DataFrame(arr.reshape(arr.shape[0], -1), columns=[f"prediction_{i}" for i in range(
        int(np.prod(arr.shape[1:])))])


class _Writer:
    """Writes predictions chunk by chunk into a temp file, renamed into place on success."""

    def __init__(self, output: str | None, fmt: str) -> None:
        self.output = output
        self.fmt = fmt
        self.count = 0
        if output is None:
            self.f = sys.stdout
            self.tmp = None
        else:
            target = Path(output)
            if target.is_dir():
                raise InvalidInputError(f"Output path {output!r} is a directory; give a file name")
            if not target.parent.exists():
                raise InvalidInputError(f"Output directory {str(target.parent)!r} does not exist")
            fd, self.tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            self.f = os.fdopen(fd, "w", encoding="utf-8", newline="")
        self.first = True

    def write(self, pred: Any, single: bool) -> None:
        if self.fmt == "csv":
            frame = _as_frame(pred)
            frame.to_csv(self.f, index=False, header=self.first)
            self.count += len(frame)
        else:
            value = to_jsonable(pred)
            if single:
                self.f.write(json.dumps({"predictions": value}))
            else:
                if not isinstance(value, list):
                    raise InvalidInputError("The model returned a non-list prediction for a chunk; use a larger "
                                            "--chunk-size so the input is scored at once")
                self.f.write('{"predictions": [' if self.first else "")
                for item in value:
                    self.f.write(("" if self.count == 0 else ", ") + json.dumps(item))
                    self.count += 1
            if single and isinstance(value, list):
                self.count += len(value)
        self.first = False

    def close(self, ok: bool, chunked_json: bool) -> None:
        if self.fmt == "json" and chunked_json and ok:
            if self.first:
                self.f.write('{"predictions": [')
            self.f.write("]}")
        if self.fmt == "json" and ok:
            self.f.write("\n")
        if self.tmp is None:
            self.f.flush()
            return
        self.f.close()
        if ok:
            os.replace(self.tmp, self.output)  # type: ignore[arg-type]
        else:
            Path(self.tmp).unlink(missing_ok=True)


@click.command()
@click.option("-m", "--model-uri", required=True, help="Model URI: a path, file://, runs:/ or models:/.")
@click.option("-i", "--input-path", required=True,
              help="Input: a CSV, JSON scoring payload or Parquet file (with --spark: a CSV or Parquet file or "
                   "directory, on any filesystem Spark reads).")
@click.option("-o", "--output-path", default=None, help="Output file (default: standard output).")
@click.option("--input-format", type=click.Choice(_FORMATS_IN), default=None, help="Default: from the suffix.")
@click.option("--output-format", type=click.Choice((*_FORMATS_OUT, "parquet")), default=None,
              help="Default: from the output suffix, else json (parquet only with --spark).")
@click.option("--params", "params_json", default=None, help="Inference params as a JSON object.")
@click.option("--chunk-size", type=click.IntRange(min=1), default=100_000, show_default=True,
              help="Rows scored at a time for CSV and Parquet input.")
@click.option("--allow-pickle/--no-allow-pickle", default=None,
              help="Allow pickle-based model formats (default: TUREEN_ALLOW_PICKLE, true).")
@click.option("--spark", "spark_master", default=None, metavar="MASTER",
              help="Score with Apache Spark on this master (e.g. local[2], spark://host:7077).")
@click.option("--result-type", default="double", show_default=True, help="Spark only: the UDF result type.")
@click.option("--columns", default=None,
              help="Spark only: comma-separated input columns (default: the signature's, else all).")
@click.option("--prediction-column", default="prediction", show_default=True,
              help="Spark only: name of the predictions column.")
def predict(model_uri: str, input_path: str, output_path: str | None, input_format: str | None,
            output_format: str | None, params_json: str | None, chunk_size: int, allow_pickle: bool | None,
            spark_master: str | None, result_type: str, columns: str | None, prediction_column: str) -> None:
    """Score INPUT with a model and write the predictions."""
    params = None
    if params_json is not None:
        try:
            params = json.loads(params_json)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--params") from None
        if not isinstance(params, dict):
            raise click.BadParameter("must be a JSON object", param_hint="--params")
    if spark_master:
        if output_path is None:
            raise click.UsageError("--spark needs --output-path (a file or directory Spark writes)")
        from tureen.cli.predict_spark import run_spark_predict

        cols = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
        rows = run_spark_predict(spark_master, model_uri, input_path, output_path, input_format=input_format,
                                 output_format=output_format, result_type=result_type, columns=cols,
                                 progress=sys.stderr.isatty(), params=params, allow_pickle=allow_pickle,
                                 prediction_column=prediction_column)
        click.echo(f"Scored {rows} rows -> {output_path}", err=True)
        return
    if columns is not None or prediction_column != "prediction":
        raise click.UsageError("--columns and --prediction-column are for --spark")
    path = Path(input_path)
    if not path.exists():
        raise click.BadParameter(f"File {input_path!r} does not exist.", param_hint="'-i' / '--input-path'")
    if not path.is_file():
        raise click.BadParameter(f"{input_path!r} is not a file (directories are read with --spark).",
                                 param_hint="'-i' / '--input-path'")
    in_fmt = _guess_format(input_path, input_format, _FORMATS_IN, "input")
    if output_format is None:
        suffix = Path(output_path).suffix.lower().lstrip(".") if output_path else ""
        output_format = "csv" if suffix == "csv" else "json"
    if output_format not in _FORMATS_OUT:
        raise click.UsageError(f"Output format {output_format!r} is only available with --spark")
    if path.stat().st_size == 0:
        raise InvalidInputError(f"Input file {input_path!r} is empty")
    from tureen.pyfunc import load_model

    model = load_model(model_uri, allow_pickle=allow_pickle)
    show = sys.stderr.isatty()
    writer = _Writer(output_path, output_format)
    ok = False
    chunked = False
    try:
        if in_fmt == "json":
            data, payload_params = _read_json(input_path, model)
            merged = {**(payload_params or {}), **(params or {})} or None
            writer.write(model.predict(data, params=merged), single=True)
        else:
            chunks = _iter_csv(input_path, chunk_size) if in_fmt == "csv" else _iter_parquet(input_path, chunk_size)
            rows = 0
            chunked = True
            for chunk in chunks:
                if len(chunk) == 0:
                    continue
                writer.write(model.predict(chunk, params=params), single=False)
                rows += len(chunk)
                if show:
                    click.echo(f"\rscored {rows:,} rows", err=True, nl=False)
            if rows == 0:
                raise InvalidInputError(f"Input file {input_path!r} has a header but no rows")
            if show:
                click.echo("", err=True)
        ok = True
    finally:
        writer.close(ok, chunked)
    if output_path:
        click.echo(f"Wrote {writer.count} predictions to {output_path}", err=True)
