"""The model-registry half of the SQL store: registered models, versions, stages, aliases and their history.

:class:`RegistrySqlMixin` is mixed into :class:`tureen.store.sql.SqlStore`; the connection plumbing
(``_read``/``_write``), upserts and search helpers are :class:`tureen.store._base.SqlBase`'s, and nothing
here calls the tracking half. The tables are MLflow's: a deleted version stays as a row in MLflow's
``Deleted_Internal`` stage (so its number is never given out again, and MLflow agrees), and the history of
aliases is kept in tureen's side table ``tureen_alias_history`` when the database has it.
"""

from __future__ import annotations

import posixpath
from typing import Any, Sequence
from urllib.parse import unquote

from sqlalchemy import and_, func, select, update
from sqlalchemy.exc import IntegrityError

from tureen.exceptions import InvalidParameterError, ResourceAlreadyExistsError, ResourceNotFoundError
from tureen.registry.entities import STAGES, AliasHistoryEntry, ModelVersion, ModelVersionStatus, RegisteredModel
from tureen.store import _schema as s
from tureen.store._common import (
    SEARCH_MODELS_MAX,
    SEARCH_VERSIONS_MAX,
    check_max_results,
    current_user,
    now_ms,
)
from tureen.tracking import _validation as v
from tureen.tracking._filter import parse_filter, parse_order_by
from tureen.tracking.entities import PagedList

__all__ = ["RegistrySqlMixin"]


def _model_id_of(source: str | None) -> str | None:
    """The logged model a version was made from: MLflow's table has no column for it, its source names it."""
    if source and source.startswith("models:/m-"):
        rest = source[len("models:/"):].strip("/")
        if "/" not in rest:
            return rest
    return None


#: the tag MLflow marks prompts with (MLflow keeps prompts as registered models)
_IS_PROMPT = "mlflow.prompt.is_prompt"


def _without_prompts(clauses: list[Any], tags: Any, name_col: Any) -> tuple[list[Any], Any]:
    """MLflow's rule for registry searches: unless the filter asks for prompts (``is_prompt = 'true'`` or
    ``!= 'false'``), clauses on the prompt tag are dropped and every name tagged ``is_prompt = 'true'`` is left
    out, so a model without the tag matches MLflow's client's ``is_prompt != 'true'``. Returns the clauses
    to apply and the extra condition (``None`` when prompts were asked for)."""
    for c in clauses:
        if c.entity == "tag" and c.key == _IS_PROMPT:
            value = str(c.value).lower()
            if (c.op == "=" and value == "true") or (c.op == "!=" and value == "false"):
                return clauses, None
            break
    kept = [c for c in clauses if not (c.entity == "tag" and c.key == _IS_PROMPT)]
    prompts = select(tags.c.name).where(tags.c.key == _IS_PROMPT, tags.c.value == "true")
    return kept, name_col.not_in(prompts)


class RegistrySqlMixin:
    """Registry methods of the SQL store (see the module docstring)."""

    _read: Any
    _write: Any
    _upsert_tag_stmt: Any
    _kv_condition: Any
    _attr_column: Any
    _compare: Any
    _sort_terms: Any
    _page: Any
    _side_tables: bool

    # ======================================================================================================
    # registry: registered models
    # ======================================================================================================
    def _rm_row(self, conn: Any, name: str, *, lock: bool = False) -> Any:
        rm = s.registered_models
        if lock:  # take the row lock first: serializes version numbering and stage changes of one model
            conn.execute(update(rm).where(rm.c.name == name).values(last_updated_time=rm.c.last_updated_time))
        row = conn.execute(rm.select().where(rm.c.name == name)).first()
        if row is None:
            raise ResourceNotFoundError(f"Registered Model with name={name} not found")
        return row

    def _touch(self, conn: Any, name: str, now: int) -> None:
        conn.execute(update(s.registered_models).where(s.registered_models.c.name == name)
                     .values(last_updated_time=now))

    def create_registered_model(self, name: str, tags: dict[str, Any] | None = None,
                                description: str | None = None) -> RegisteredModel:
        v.validate_model_name(name)
        tag_items = [v.validate_registry_tag(k, val) for k, val in (tags or {}).items()]
        now = now_ms()
        with self._write() as conn:
            if conn.execute(select(s.registered_models.c.name).where(s.registered_models.c.name == name)).first():
                raise ResourceAlreadyExistsError(f"Registered Model (name={name}) already exists.")
            try:
                with conn.begin_nested():
                    conn.execute(s.registered_models.insert().values(
                        name=name, creation_time=now, last_updated_time=now, description=description))
            except IntegrityError:
                raise ResourceAlreadyExistsError(f"Registered Model (name={name}) already exists.") from None
            if tag_items:
                conn.execute(s.registered_model_tags.insert(),
                             [{"name": name, "key": k, "value": val} for k, val in tag_items])
        return RegisteredModel(name=name, creation_timestamp=now, last_updated_timestamp=now,
                               description=description, tags=dict(tag_items))

    def _registered_models_from_rows(self, conn: Any, rows: Sequence[Any]) -> list[RegisteredModel]:
        names = [r.name for r in rows]
        if not names:
            return []
        tags: dict[str, dict[str, str]] = {n: {} for n in names}
        aliases: dict[str, dict[str, str]] = {n: {} for n in names}
        for t in conn.execute(s.registered_model_tags.select().where(s.registered_model_tags.c.name.in_(names))):
            tags[t.name][t.key] = t.value
        al = s.registered_model_aliases
        for a in conn.execute(al.select().where(al.c.name.in_(names)).order_by(al.c.alias)):
            aliases[a.name][a.alias] = int(a.version)  # MLflow's SQL store gives ints (over REST: strings)
        mv = s.model_versions
        latest = (select(mv.c.name, mv.c.current_stage, func.max(mv.c.version).label("v"))
                  .where(mv.c.name.in_(names), mv.c.current_stage != s.STAGE_DELETED)
                  .group_by(mv.c.name, mv.c.current_stage).subquery())
        rows_v = conn.execute(select(mv).join(latest, and_(mv.c.name == latest.c.name, mv.c.version == latest.c.v))).all()
        versions = self._versions_from_rows(conn, rows_v)
        by_name: dict[str, list[ModelVersion]] = {n: [] for n in names}
        for mvx in sorted(versions, key=lambda x: (STAGES.index(x.current_stage), int(x.version))):
            by_name[mvx.name].append(mvx)
        return [RegisteredModel(name=r.name, creation_timestamp=r.creation_time,
                                last_updated_timestamp=r.last_updated_time, description=r.description,
                                user_id=None, latest_versions=by_name[r.name], tags=tags[r.name],
                                aliases=aliases[r.name]) for r in rows]

    def get_registered_model(self, name: str) -> RegisteredModel:
        v.validate_model_name(name)
        with self._read() as conn:
            return self._registered_models_from_rows(conn, [self._rm_row(conn, name)])[0]

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        v.validate_model_name(name)
        v.validate_model_name(new_name)
        with self._write() as conn:
            self._rm_row(conn, name, lock=True)
            if name != new_name:
                if conn.execute(select(s.registered_models.c.name)
                                .where(s.registered_models.c.name == new_name)).first():
                    raise ResourceAlreadyExistsError(f"Registered Model (name={new_name}) already exists.")
                # MLflow's foreign keys cascade the new name to versions (and their tags), tags and aliases;
                # tureen's alias history follows the same way
                now = now_ms()
                conn.execute(update(s.registered_models).where(s.registered_models.c.name == name)
                             .values(name=new_name, last_updated_time=now))
                mv = s.model_versions
                conn.execute(update(mv).where(mv.c.name == new_name).values(last_updated_time=now))
        return self.get_registered_model(new_name)

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel:
        v.validate_model_name(name)
        with self._write() as conn:
            self._rm_row(conn, name, lock=True)
            conn.execute(update(s.registered_models).where(s.registered_models.c.name == name)
                         .values(description=description, last_updated_time=now_ms()))
        return self.get_registered_model(name)

    def delete_registered_model(self, name: str) -> None:
        v.validate_model_name(name)
        with self._write() as conn:
            self._rm_row(conn, name, lock=True)
            # MLflow's keys from versions and tags to the model do not cascade deletes: children first
            for table in (s.model_version_tags, s.registered_model_aliases, s.model_versions, s.registered_model_tags):
                conn.execute(table.delete().where(table.c.name == name))
            if self._side_tables:
                conn.execute(s.alias_history.delete().where(s.alias_history.c.name == name))
            conn.execute(s.registered_models.delete().where(s.registered_models.c.name == name))

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        v.validate_model_name(name)
        key, value = v.validate_registry_tag(key, value)
        with self._write() as conn:
            self._rm_row(conn, name)
            conn.execute(self._upsert_tag_stmt(s.registered_model_tags, ("name", "key")),
                         {"name": name, "key": key, "value": value})

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        v.validate_model_name(name)
        v.validate_key(key, "tag key")
        with self._write() as conn:
            self._rm_row(conn, name)
            t = s.registered_model_tags
            conn.execute(t.delete().where(t.c.name == name, t.c.key == key))

    def search_registered_models(self, filter_string: str | None = None, max_results: int = 100,
                                 order_by: list[str] | None = None, page_token: str | None = None) -> PagedList:
        check_max_results(max_results, SEARCH_MODELS_MAX, "search_registered_models")
        rm = s.registered_models
        clauses, no_prompts = _without_prompts(parse_filter(filter_string), s.registered_model_tags, rm.c.name)
        conds = [] if no_prompts is None else [no_prompts]
        for c in clauses:
            if c.entity == "tag":
                cond = self._kv_condition(s.registered_model_tags, s.registered_model_tags.c.name == rm.c.name, c)
            else:
                col = self._attr_column(c.entity, c.key, {"name": rm.c.name}, "registered models")
                cond = self._compare(col, c.op, c.value, ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"), c, string=True)
            conds.append(cond)
        columns = {"name": rm.c.name, "timestamp": rm.c.last_updated_time,
                   "last_updated_timestamp": rm.c.last_updated_time, "creation_timestamp": rm.c.creation_time}
        order = self._sort_terms(parse_order_by(order_by), columns, "registered models (order_by)")
        order.append(rm.c.name.asc())
        return self._page(rm.select().where(*conds).order_by(*order), page_token, max_results,
                          self._registered_models_from_rows)

    def get_latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[ModelVersion]:
        v.validate_model_name(name)
        wanted = [v.canonical_stage(x) for x in stages] if stages else list(STAGES)
        with self._read() as conn:
            model = self._registered_models_from_rows(conn, [self._rm_row(conn, name)])[0]
        return [mv for mv in model.latest_versions if mv.current_stage in wanted]

    # ======================================================================================================
    # registry: model versions
    # ======================================================================================================
    def _versions_from_rows(self, conn: Any, rows: Sequence[Any]) -> list[ModelVersion]:
        if not rows:
            return []
        keys = {(r.name, r.version) for r in rows}
        names = sorted({n for n, _ in keys})
        tags: dict[tuple[str, int], dict[str, str]] = {k: {} for k in keys}
        aliases: dict[tuple[str, int], list[str]] = {k: [] for k in keys}
        t = s.model_version_tags
        for tr in conn.execute(t.select().where(t.c.name.in_(names))):
            if (tr.name, tr.version) in tags:
                tags[(tr.name, tr.version)][tr.key] = tr.value
        al = s.registered_model_aliases
        for a in conn.execute(al.select().where(al.c.name.in_(names)).order_by(al.c.alias)):
            if (a.name, a.version) in aliases:
                aliases[(a.name, a.version)].append(a.alias)
        return [ModelVersion(name=r.name, version=int(r.version),  # an int, as MLflow's SQL store gives
                             creation_timestamp=r.creation_time,
                             last_updated_timestamp=r.last_updated_time, current_stage=r.current_stage,
                             description=r.description, user_id=r.user_id, source=r.source, run_id=r.run_id,
                             run_link=r.run_link, status=r.status, status_message=r.status_message,
                             tags=tags[(r.name, r.version)], aliases=aliases[(r.name, r.version)],
                             model_id=_model_id_of(r.source)) for r in rows]

    def _mv_row(self, conn: Any, name: str, version: int) -> Any:
        mv = s.model_versions
        row = conn.execute(mv.select().where(mv.c.name == name, mv.c.version == version,
                                             mv.c.current_stage != s.STAGE_DELETED)).first()
        if row is None:
            self._rm_row(conn, name)
            raise ResourceNotFoundError(f"Model Version (name={name}, version={version}) not found")
        return row

    @staticmethod
    def _check_source(source: Any) -> str:
        if not isinstance(source, str) or not source.strip():
            raise InvalidParameterError(f"Invalid model version source {source!r}: it must be a non-empty URI")
        decoded = unquote(unquote(source))
        if "\x00" in decoded:
            raise InvalidParameterError("Invalid model version source: it contains a NUL character")
        path = decoded.split("://", 1)[-1] if "://" in decoded else decoded.split(":", 1)[-1]
        if ".." in posixpath.normpath("/" + path).split("/") or any(p == ".." for p in path.split("/")):
            raise InvalidParameterError(f"Invalid model version source {source!r}: it must not contain '..'")
        return source

    def _storage_location(self, conn: Any, source: str, model_id: str | None) -> tuple[str | None, str | None]:
        """Where the files of a new version are: ``(storage_location, model_id)``."""
        if source.startswith("models:/"):
            rest = source[len("models:/"):].strip("/")
            if rest.startswith("m-") and "/" not in rest:
                row = conn.execute(select(s.logged_models.c.artifact_location)
                                   .where(s.logged_models.c.model_id == rest)).first()
                if row is None:
                    raise ResourceNotFoundError(f"Logged model with ID '{rest}' not found (source {source!r})")
                return row.artifact_location, rest
            return None, model_id
        if source.startswith("runs:/"):
            run_id, _, path = source[len("runs:/"):].partition("/")
            uri = conn.execute(select(s.runs.c.artifact_uri).where(s.runs.c.run_uuid == run_id)).scalar()
            if uri is None:
                raise ResourceNotFoundError(f"Run with id={run_id} not found")
            return (f"{uri.rstrip('/')}/{path}" if path else uri), model_id
        return None, model_id

    def create_model_version(self, name: str, source: str, run_id: str | None = None,
                             tags: dict[str, Any] | None = None, run_link: str | None = None,
                             description: str | None = None, model_id: str | None = None,
                             storage_location: str | None = None) -> ModelVersion:
        """Add the next version of ``name`` (one more than the highest number ever given, deleted ones included).

        ``storage_location`` (where the files are) is derived from ``source`` when the source's run or logged
        model lives in this database; a client whose tracking store is another database passes it.
        """
        v.validate_model_name(name)
        self._check_source(source)
        if storage_location is not None:
            self._check_source(storage_location)
        if run_id is not None:
            v.validate_run_id(run_id)
        tag_items = [v.validate_registry_tag(k, val) for k, val in (tags or {}).items()]
        now = now_ms()
        with self._write() as conn:
            self._rm_row(conn, name, lock=True)
            if storage_location is None:
                storage, model_id = self._storage_location(conn, source, model_id)
            else:
                storage = storage_location
            if run_id is None and model_id is not None:
                run_id = conn.execute(select(s.logged_models.c.source_run_id)
                                      .where(s.logged_models.c.model_id == model_id)).scalar()
            mv = s.model_versions
            version = (conn.execute(select(func.max(mv.c.version)).where(mv.c.name == name)).scalar() or 0) + 1
            self._touch(conn, name, now)
            conn.execute(s.model_versions.insert().values(
                name=name, version=version, creation_time=now, last_updated_time=now, description=description,
                user_id=None, current_stage="None", source=source, storage_location=storage, run_id=run_id,
                run_link=run_link, status=ModelVersionStatus.READY, status_message=None))
            if tag_items:
                conn.execute(s.model_version_tags.insert(),
                             [{"name": name, "version": version, "key": k, "value": val} for k, val in tag_items])
            return self._versions_from_rows(conn, [self._mv_row(conn, name, version)])[0]

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        v.validate_model_name(name)
        number = v.validate_version(version)
        with self._read() as conn:
            return self._versions_from_rows(conn, [self._mv_row(conn, name, number)])[0]

    def update_model_version(self, name: str, version: str | int, description: str | None) -> ModelVersion:
        v.validate_model_name(name)
        number = v.validate_version(version)
        now = now_ms()
        with self._write() as conn:
            self._rm_row(conn, name, lock=True)
            self._mv_row(conn, name, number)
            mv = s.model_versions
            conn.execute(update(mv).where(mv.c.name == name, mv.c.version == number)
                         .values(description=description, last_updated_time=now))
            self._touch(conn, name, now)
            return self._versions_from_rows(conn, [self._mv_row(conn, name, number)])[0]

    def transition_model_version_stage(self, name: str, version: str | int, stage: str,
                                       archive_existing_versions: bool = False) -> ModelVersion:
        v.validate_model_name(name)
        number = v.validate_version(version)
        target = v.canonical_stage(stage)
        if archive_existing_versions and target not in ("Staging", "Production"):
            raise InvalidParameterError(f"archive_existing_versions=True is only allowed when transitioning to "
                                        f"Staging or Production, not to {target!r}")
        now = now_ms()
        mv = s.model_versions
        with self._write() as conn:
            self._rm_row(conn, name, lock=True)
            self._mv_row(conn, name, number)
            if archive_existing_versions:
                conn.execute(update(mv).where(mv.c.name == name, mv.c.version != number, mv.c.current_stage == target)
                             .values(current_stage="Archived", last_updated_time=now))
            conn.execute(update(mv).where(mv.c.name == name, mv.c.version == number)
                         .values(current_stage=target, last_updated_time=now))
            self._touch(conn, name, now)
            return self._versions_from_rows(conn, [self._mv_row(conn, name, number)])[0]

    def delete_model_version(self, name: str, version: str | int) -> None:
        """Delete a version, as MLflow does: the row stays in stage ``Deleted_Internal`` with its source and run
        redacted, so its number is never given out again; aliases on it are removed (and logged)."""
        v.validate_model_name(name)
        number = v.validate_version(version)
        now = now_ms()
        with self._write() as conn:
            self._rm_row(conn, name, lock=True)
            self._mv_row(conn, name, number)
            al = s.registered_model_aliases
            for a in conn.execute(select(al.c.alias).where(al.c.name == name, al.c.version == number)).all():
                self._record_alias(conn, name, a.alias, None, now)
            conn.execute(al.delete().where(al.c.name == name, al.c.version == number))
            mv = s.model_versions
            conn.execute(update(mv).where(mv.c.name == name, mv.c.version == number).values(
                current_stage=s.STAGE_DELETED, last_updated_time=now, description=None, user_id=None,
                source="REDACTED-SOURCE-PATH", run_id="REDACTED-RUN-ID", run_link="REDACTED-RUN-LINK",
                status_message=None))
            self._touch(conn, name, now)

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        v.validate_model_name(name)
        number = v.validate_version(version)
        with self._read() as conn:
            row = self._mv_row(conn, name, number)
        return row.storage_location or row.source

    def set_model_version_tag(self, name: str, version: str | int, key: str, value: Any) -> None:
        v.validate_model_name(name)
        number = v.validate_version(version)
        key, value = v.validate_registry_tag(key, value)
        with self._write() as conn:
            self._mv_row(conn, name, number)
            conn.execute(self._upsert_tag_stmt(s.model_version_tags, ("name", "version", "key")),
                         {"name": name, "version": number, "key": key, "value": value})

    def delete_model_version_tag(self, name: str, version: str | int, key: str) -> None:
        v.validate_model_name(name)
        number = v.validate_version(version)
        v.validate_key(key, "tag key")
        with self._write() as conn:
            self._mv_row(conn, name, number)
            t = s.model_version_tags
            conn.execute(t.delete().where(t.c.name == name, t.c.version == number, t.c.key == key))

    def search_model_versions(self, filter_string: str | None = None, max_results: int = 10000,
                              order_by: list[str] | None = None, page_token: str | None = None) -> PagedList:
        check_max_results(max_results, SEARCH_VERSIONS_MAX, "search_model_versions")
        mv = s.model_versions
        conds = [mv.c.current_stage != s.STAGE_DELETED]
        clauses, no_prompts = _without_prompts(parse_filter(filter_string), s.model_version_tags, mv.c.name)
        if no_prompts is not None:
            conds.append(no_prompts)
        for c in clauses:
            if c.entity == "tag":
                t = s.model_version_tags
                conds.append(self._kv_condition(t, and_(t.c.name == mv.c.name, t.c.version == mv.c.version), c))
                continue
            col = self._attr_column(c.entity, c.key, {"name": mv.c.name, "run_id": mv.c.run_id,
                                                      "source_path": mv.c.source, "version_number": mv.c.version,
                                                      "current_stage": mv.c.current_stage},
                                    "model versions")
            if c.key == "version_number":
                if isinstance(c.value, float) or (isinstance(c.value, list) and any(isinstance(x, float)
                                                                                    for x in c.value)):
                    raise InvalidParameterError(f"Invalid value {c.value!r} for version_number: expected an integer")
                conds.append(self._compare(col, c.op, c.value, ("=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN"), c,
                                           number=True))
            else:
                allowed = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN") if c.key in ("name", "run_id", "current_stage") \
                    else ("=", "!=", "LIKE", "ILIKE")
                value = c.value
                if c.key == "current_stage":
                    value = [v.canonical_stage(x) for x in value] if isinstance(value, list) else (
                        v.canonical_stage(value) if c.op in ("=", "!=") else value)
                conds.append(self._compare(col, c.op, value, allowed, c, string=True))
        columns = {"name": mv.c.name, "version_number": mv.c.version, "creation_timestamp": mv.c.creation_time,
                   "last_updated_timestamp": mv.c.last_updated_time, "timestamp": mv.c.last_updated_time}
        order = self._sort_terms(parse_order_by(order_by), columns, "model versions (order_by)")
        if not order:
            order = [mv.c.last_updated_time.desc()]
        order += [mv.c.name.asc(), mv.c.version.desc()]
        return self._page(mv.select().where(*conds).order_by(*order), page_token, max_results,
                          self._versions_from_rows)

    # -- aliases ---------------------------------------------------------------------------------------------
    def _record_alias(self, conn: Any, name: str, alias: str, version: int | None, now: int) -> None:
        """One line of alias history (in tureen's side table; a database without it keeps no history)."""
        if self._side_tables:
            conn.execute(s.alias_history.insert().values(name=name, alias=alias, version=version, timestamp=now,
                                                         user_id=current_user()))

    def set_registered_model_alias(self, name: str, alias: str, version: str | int) -> None:
        v.validate_model_name(name)
        v.validate_alias(alias)
        number = v.validate_version(version)
        now = now_ms()
        al = s.registered_model_aliases
        with self._write() as conn:
            self._rm_row(conn, name, lock=True)
            self._mv_row(conn, name, number)
            current = conn.execute(select(al.c.version).where(al.c.name == name, al.c.alias == alias)).scalar()
            if current == number:
                return
            if current is None:
                conn.execute(al.insert().values(name=name, alias=alias, version=number))
            else:
                conn.execute(update(al).where(al.c.name == name, al.c.alias == alias).values(version=number))
            self._record_alias(conn, name, alias, number, now)
            self._touch(conn, name, now)

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        v.validate_model_name(name)
        v.validate_alias(alias, for_set=False)
        now = now_ms()
        al = s.registered_model_aliases
        with self._write() as conn:
            self._rm_row(conn, name, lock=True)
            gone = conn.execute(al.delete().where(al.c.name == name, al.c.alias == alias)).rowcount
            if gone:
                self._record_alias(conn, name, alias, None, now)
                self._touch(conn, name, now)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        v.validate_model_name(name)
        v.validate_alias(alias, for_set=False)
        if alias.lower() == "latest":
            latest = self.get_latest_versions(name)
            if not latest:
                raise ResourceNotFoundError(f"Registered model {name!r} has no versions, so alias 'latest' points "
                                            "nowhere")
            return max(latest, key=lambda mv: int(mv.version))
        al = s.registered_model_aliases
        with self._read() as conn:
            self._rm_row(conn, name)
            number = conn.execute(select(al.c.version).where(al.c.name == name, al.c.alias == alias)).scalar()
            if number is None:
                known = [a for (a,) in conn.execute(select(al.c.alias).where(al.c.name == name).order_by(al.c.alias))]
                raise InvalidParameterError(f"Registered model alias {alias} not found. Aliases of {name!r}: "
                                            f"{', '.join(known) or 'none'}", error_code="INVALID_PARAMETER_VALUE")
            return self._versions_from_rows(conn, [self._mv_row(conn, name, number)])[0]

    def get_registered_model_alias_history(self, name: str, alias: str | None = None) -> list[AliasHistoryEntry]:
        """Every change of the model's aliases (or of one alias), oldest first."""
        v.validate_model_name(name)
        h = s.alias_history
        stmt = h.select().where(h.c.name == name).order_by(h.c.id)
        if alias is not None:
            stmt = stmt.where(h.c.alias == alias)
        with self._read() as conn:
            self._rm_row(conn, name)
            if not self._side_tables:  # an MLflow database tureen did not adopt keeps no alias history
                return []
            rows = conn.execute(stmt).all()
        return [AliasHistoryEntry(name=r.name, alias=r.alias, version=None if r.version is None else str(r.version),
                                  timestamp=r.timestamp, user_id=r.user_id) for r in rows]
