"""The auth database: users (argon2 password hashes), access tokens, per-experiment and per-model grants.

It is its own database (SQLite by default, any SQLAlchemy URI), separate from the tracking store, with
MLflow's classic table layout (``users``, ``experiment_permissions``, ``registered_model_permissions``)
plus ``tureen_access_tokens`` for bearer tokens (only a SHA-256 of each token is stored).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tureen.exceptions import InvalidParameterError, ResourceAlreadyExistsError, ResourceNotFoundError
from tureen.server.auth._permissions import get_permission

__all__ = ["AuthStore", "User", "ExperimentPermission", "RegisteredModelPermission"]

MAX_USERNAME = 255
MIN_PASSWORD = 8
MAX_PASSWORD = 1024


@dataclass(frozen=True)
class ExperimentPermission:
    experiment_id: str
    user_id: int
    permission: str

    def to_json(self) -> dict[str, Any]:
        return {"experiment_id": self.experiment_id, "user_id": self.user_id, "permission": self.permission}


@dataclass(frozen=True)
class RegisteredModelPermission:
    name: str
    user_id: int
    permission: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "user_id": self.user_id, "permission": self.permission}


@dataclass(frozen=True)
class User:
    """A user as the REST API shows it (never with its password hash).

    Example:
        >>> User(1, "ana", False).to_json()["username"]
        'ana'
    """

    id: int
    username: str
    is_admin: bool
    experiment_permissions: tuple[ExperimentPermission, ...] = field(default=())
    registered_model_permissions: tuple[RegisteredModelPermission, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "username": self.username, "is_admin": self.is_admin,
                "experiment_permissions": [p.to_json() for p in self.experiment_permissions],
                "registered_model_permissions": [p.to_json() for p in self.registered_model_permissions]}


def _check_username(username: object) -> str:
    if not isinstance(username, str) or not username.strip():
        raise InvalidParameterError("Invalid username: a non-empty string is needed")
    if len(username) > MAX_USERNAME or username != username.strip() or any(ord(c) < 32 for c in username):
        raise InvalidParameterError(f"Invalid username {username[:40]!r}: at most {MAX_USERNAME} characters, "
                                    "no control characters and no leading or trailing spaces")
    if ":" in username:  # basic auth splits "user:password" at the first colon
        raise InvalidParameterError(f"Invalid username {username!r}: it must not contain ':'")
    return username


def _check_password(password: object) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InvalidParameterError(f"Invalid password: at least {MIN_PASSWORD} characters are needed")
    if len(password) > MAX_PASSWORD:
        raise InvalidParameterError(f"Invalid password: at most {MAX_PASSWORD} characters")
    return password


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class AuthStore:
    """Users, tokens and grants in one SQL database.

    Example:
        >>> store = AuthStore("sqlite://")
        >>> store.create_user("ana", "correct horse", is_admin=True).is_admin
        True
        >>> store.authenticate_basic("ana", "correct horse").username
        'ana'
    """

    def __init__(self, database_uri: str) -> None:
        import sqlalchemy as sa

        self.database_uri = database_uri
        kwargs: dict[str, Any] = {"future": True}
        if database_uri.startswith("sqlite"):
            from sqlalchemy.pool import StaticPool

            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            if database_uri in ("sqlite://", "sqlite:///:memory:"):
                kwargs["poolclass"] = StaticPool
        else:
            kwargs["pool_pre_ping"] = True
        self.engine = sa.create_engine(database_uri, **kwargs)
        md = sa.MetaData()
        self.users = sa.Table(
            "users", md,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("username", sa.String(MAX_USERNAME), nullable=False, unique=True),
            sa.Column("password_hash", sa.String(255), nullable=False),
            sa.Column("is_admin", sa.Boolean, nullable=False, default=False))
        self.experiment_permissions = sa.Table(
            "experiment_permissions", md,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("experiment_id", sa.String(255), nullable=False),
            sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
            sa.Column("permission", sa.String(255), nullable=False),
            sa.UniqueConstraint("experiment_id", "user_id", name="unique_experiment_user"))
        self.registered_model_permissions = sa.Table(
            "registered_model_permissions", md,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("name", sa.String(255), nullable=False),
            sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
            sa.Column("permission", sa.String(255), nullable=False),
            sa.UniqueConstraint("name", "user_id", name="unique_name_user"))
        self.tokens = sa.Table(
            "tureen_access_tokens", md,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
            sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
            sa.Column("name", sa.String(255), nullable=False),
            sa.Column("created_ms", sa.BigInteger, nullable=False))
        try:
            md.create_all(self.engine)
        except sa.exc.OperationalError:  # another worker created the tables at the same moment
            md.create_all(self.engine)
        from argon2 import PasswordHasher

        self._hasher = PasswordHasher()
        self._dummy_hash = self._hasher.hash(secrets.token_hex(16))
        # argon2 is deliberately slow (tens of ms); a verified (user, hash, password) is remembered so
        # each request does not pay it again. The key holds the stored hash, so a password change or a
        # deleted user invalidates it at once, in every worker.
        self._verified: dict[tuple[int, str, bytes], float] = {}
        self._verified_lock = threading.Lock()
        self._cache_key = secrets.token_bytes(32)
        self.cache_ttl = 300.0

    # -- users ------------------------------------------------------------------------------------------------
    def _user_row(self, conn: Any, username: str) -> Any:
        return conn.execute(self.users.select().where(self.users.c.username == username)).first()

    def _row_to_user(self, conn: Any, row: Any, with_permissions: bool = True) -> User:
        if not with_permissions:
            return User(row.id, row.username, bool(row.is_admin))
        ep = self.experiment_permissions
        rp = self.registered_model_permissions
        exps = tuple(ExperimentPermission(r.experiment_id, r.user_id, r.permission) for r in conn.execute(
            ep.select().where(ep.c.user_id == row.id).order_by(ep.c.experiment_id)))
        models = tuple(RegisteredModelPermission(r.name, r.user_id, r.permission) for r in conn.execute(
            rp.select().where(rp.c.user_id == row.id).order_by(rp.c.name)))
        return User(row.id, row.username, bool(row.is_admin), exps, models)

    def has_users(self) -> bool:
        import sqlalchemy as sa

        with self.engine.connect() as conn:
            return bool(conn.execute(sa.select(sa.func.count()).select_from(self.users)).scalar())

    def create_user(self, username: str, password: str, is_admin: bool = False) -> User:
        import sqlalchemy as sa

        _check_username(username)
        _check_password(password)
        digest = self._hasher.hash(password)
        try:
            with self.engine.begin() as conn:
                conn.execute(self.users.insert().values(username=username, password_hash=digest,
                                                        is_admin=bool(is_admin)))
                return self._row_to_user(conn, self._user_row(conn, username))
        except sa.exc.IntegrityError:
            raise ResourceAlreadyExistsError(f"User (name={username}) already exists.") from None

    def get_user(self, username: str, with_permissions: bool = True) -> User:
        with self.engine.connect() as conn:
            row = self._user_row(conn, str(username))
            if row is None:
                raise ResourceNotFoundError(f"User with username={username} not found")
            return self._row_to_user(conn, row, with_permissions)

    def list_users(self) -> list[User]:
        with self.engine.connect() as conn:
            rows = conn.execute(self.users.select().order_by(self.users.c.username)).all()
            return [self._row_to_user(conn, r) for r in rows]

    def update_password(self, username: str, password: str) -> None:
        _check_password(password)
        digest = self._hasher.hash(password)
        with self.engine.begin() as conn:
            done = conn.execute(self.users.update().where(self.users.c.username == username)
                                .values(password_hash=digest)).rowcount
        if not done:
            raise ResourceNotFoundError(f"User with username={username} not found")

    def set_admin(self, username: str, is_admin: bool) -> None:
        import sqlalchemy as sa

        with self.engine.begin() as conn:
            row = self._user_row(conn, username)
            if row is None:
                raise ResourceNotFoundError(f"User with username={username} not found")
            if row.is_admin and not is_admin:
                admins = conn.execute(sa.select(sa.func.count()).select_from(self.users)
                                      .where(self.users.c.is_admin.is_(True))).scalar()
                if admins <= 1:
                    raise InvalidParameterError(f"Cannot remove admin rights from {username!r}: it is the last "
                                                "admin")
            conn.execute(self.users.update().where(self.users.c.id == row.id).values(is_admin=bool(is_admin)))

    def delete_user(self, username: str) -> None:
        import sqlalchemy as sa

        with self.engine.begin() as conn:
            row = self._user_row(conn, username)
            if row is None:
                raise ResourceNotFoundError(f"User with username={username} not found")
            if row.is_admin:
                admins = conn.execute(sa.select(sa.func.count()).select_from(self.users)
                                      .where(self.users.c.is_admin.is_(True))).scalar()
                if admins <= 1:
                    raise InvalidParameterError(f"Cannot delete {username!r}: it is the last admin")
            # explicit deletes: SQLite enforces ON DELETE CASCADE only with a pragma
            for table in (self.experiment_permissions, self.registered_model_permissions, self.tokens):
                conn.execute(table.delete().where(table.c.user_id == row.id))
            conn.execute(self.users.delete().where(self.users.c.id == row.id))

    # -- authentication ---------------------------------------------------------------------------------------
    def authenticate_basic(self, username: str, password: str) -> User | None:
        """The user whose name and password these are, or ``None`` (same time either way)."""
        from argon2.exceptions import InvalidHashError, VerificationError

        with self.engine.connect() as conn:
            row = self._user_row(conn, username)
        if row is None:
            try:  # spend the time a real check takes, so a missing user is not told by the clock
                self._hasher.verify(self._dummy_hash, password)
            except (VerificationError, InvalidHashError):
                pass
            return None
        key = (row.id, row.password_hash, hmac.digest(self._cache_key, password.encode("utf-8"), "sha256"))
        now = time.monotonic()
        with self._verified_lock:
            seen = self._verified.get(key)
        if seen is None or now - seen > self.cache_ttl:
            try:
                self._hasher.verify(row.password_hash, password)
            except (VerificationError, InvalidHashError):
                return None
            with self._verified_lock:
                if len(self._verified) > 10000:
                    self._verified.clear()
                self._verified[key] = now
        return User(row.id, row.username, bool(row.is_admin))

    def create_token(self, username: str, name: str = "default") -> str:
        """A new bearer token for ``username`` (shown once; only its SHA-256 is stored)."""
        user = self.get_user(username, with_permissions=False)
        token = "tur_" + secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(self.tokens.insert().values(token_sha256=_token_digest(token), user_id=user.id,
                                                     name=str(name)[:255], created_ms=int(time.time() * 1000)))
        return token

    def revoke_tokens(self, username: str) -> int:
        user = self.get_user(username, with_permissions=False)
        with self.engine.begin() as conn:
            return conn.execute(self.tokens.delete().where(self.tokens.c.user_id == user.id)).rowcount

    def authenticate_token(self, token: str) -> User | None:
        digest = _token_digest(token)
        with self.engine.connect() as conn:
            row = conn.execute(self.tokens.select().where(self.tokens.c.token_sha256 == digest)).first()
            if row is None:
                return None
            user = conn.execute(self.users.select().where(self.users.c.id == row.user_id)).first()
        return None if user is None else User(user.id, user.username, bool(user.is_admin))

    # -- grants -----------------------------------------------------------------------------------------------
    def _grant_table(self, kind: str) -> tuple[Any, Any]:
        if kind == "experiment":
            return self.experiment_permissions, self.experiment_permissions.c.experiment_id
        return self.registered_model_permissions, self.registered_model_permissions.c.name

    def get_grant(self, kind: str, resource: str, user_id: int) -> str | None:
        table, col = self._grant_table(kind)
        with self.engine.connect() as conn:
            row = conn.execute(table.select().where(col == str(resource), table.c.user_id == user_id)).first()
        return None if row is None else row.permission

    def grants_of(self, kind: str, user_id: int) -> dict[str, str]:
        table, col = self._grant_table(kind)
        with self.engine.connect() as conn:
            return {r[0]: r[1] for r in conn.execute(
                table.select().with_only_columns(col, table.c.permission).where(table.c.user_id == user_id))}

    def create_grant(self, kind: str, resource: str, username: str, permission: str) -> Any:
        import sqlalchemy as sa

        get_permission(permission)
        user = self.get_user(username, with_permissions=False)
        table, col = self._grant_table(kind)
        try:
            with self.engine.begin() as conn:
                conn.execute(table.insert().values({col.key: str(resource), "user_id": user.id,
                                                    "permission": permission}))
        except sa.exc.IntegrityError:
            what = "Experiment" if kind == "experiment" else "Registered model"
            raise ResourceAlreadyExistsError(f"{what} permission ({resource}, {username}) already exists") from None
        return self._entity(kind, resource, user.id, permission)

    def set_grant(self, kind: str, resource: str, user_id: int, permission: str) -> None:
        """Insert or replace (used for the creator's MANAGE)."""
        table, col = self._grant_table(kind)
        with self.engine.begin() as conn:
            done = conn.execute(table.update().where(col == str(resource), table.c.user_id == user_id)
                                .values(permission=permission)).rowcount
            if not done:
                conn.execute(table.insert().values({col.key: str(resource), "user_id": user_id,
                                                    "permission": permission}))

    def _entity(self, kind: str, resource: str, user_id: int, permission: str) -> Any:
        if kind == "experiment":
            return ExperimentPermission(str(resource), user_id, permission)
        return RegisteredModelPermission(str(resource), user_id, permission)

    def read_grant(self, kind: str, resource: str, username: str) -> Any:
        user = self.get_user(username, with_permissions=False)
        permission = self.get_grant(kind, resource, user.id)
        if permission is None:
            what = "Experiment" if kind == "experiment" else "Registered model"
            raise ResourceNotFoundError(f"{what} permission with {'experiment_id' if kind == 'experiment' else 'name'}"
                                        f"={resource} and username={username} not found")
        return self._entity(kind, resource, user.id, permission)

    def update_grant(self, kind: str, resource: str, username: str, permission: str) -> None:
        get_permission(permission)
        self.read_grant(kind, resource, username)
        user = self.get_user(username, with_permissions=False)
        self.set_grant(kind, resource, user.id, permission)

    def delete_grant(self, kind: str, resource: str, username: str) -> None:
        self.read_grant(kind, resource, username)
        user = self.get_user(username, with_permissions=False)
        table, col = self._grant_table(kind)
        with self.engine.begin() as conn:
            conn.execute(table.delete().where(col == str(resource), table.c.user_id == user.id))

    def rename_model_grants(self, old: str, new: str) -> None:
        rp = self.registered_model_permissions
        with self.engine.begin() as conn:
            conn.execute(rp.update().where(rp.c.name == old).values(name=new))

    def delete_model_grants(self, name: str) -> None:
        rp = self.registered_model_permissions
        with self.engine.begin() as conn:
            conn.execute(rp.delete().where(rp.c.name == name))
