"""Chorus settings: read from the environment once, frozen, and checked before start-up.

Development works with nothing set (SQLite and a generated secret in the instance folder);
production refuses to start until every required secret is given, and says which is missing.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ENVIRONMENTS = ("development", "test", "production")
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """The environment does not describe a runnable Chorus; the message names the variable."""


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be greater than 0, got {value}")
    return value


def _load_or_create_secret(path: Path) -> str:
    """A per-installation development secret, created once with owner-only permissions."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    # O_EXCL so two processes starting together cannot both write (one would lose its secret).
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


@dataclass(frozen=True)
class Settings:
    env: str
    instance_path: Path
    database_url: str
    secret_key: str = field(repr=False)
    base_url: str
    instruments_path: Path
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    login_ip_max_failures: int = 50
    log_level: str = "INFO"

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_development(self) -> bool:
        return self.env == "development"

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def session_cookie_name(self) -> str:
        # The __Host- prefix makes browsers refuse the cookie unless it is Secure, host-only and
        # path=/; plain-HTTP development on 127.0.0.1 cannot set a Secure cookie, so it goes without.
        return "chorus_session" if self.is_development else "__Host-chorus_session"

    @property
    def cookies_secure(self) -> bool:
        return not self.is_development

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, instance_path: Path | None = None
    ) -> Settings:
        env_vars = os.environ if environ is None else environ
        env = env_vars.get("CHORUS_ENV", "development")
        if env not in ENVIRONMENTS:
            raise ConfigError(f"CHORUS_ENV must be one of {', '.join(ENVIRONMENTS)}, got {env!r}")
        instance = Path(
            env_vars.get("CHORUS_INSTANCE_PATH") or instance_path or PROJECT_ROOT / "instance"
        )

        missing = []
        secret_key = env_vars.get("SECRET_KEY", "")
        database_url = env_vars.get("DATABASE_URL", "")
        base_url = env_vars.get("CHORUS_BASE_URL", "")
        if env == "production":
            if not secret_key:
                missing.append(
                    "SECRET_KEY (a long random string: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
                )
            elif len(secret_key) < 32:
                raise ConfigError("SECRET_KEY must be at least 32 characters in production")
            if not database_url:
                missing.append("DATABASE_URL (postgresql+psycopg://user:password@host/dbname)")
            if not base_url:
                missing.append("CHORUS_BASE_URL (the public https:// address participants open)")
            elif not base_url.startswith("https://"):
                raise ConfigError("CHORUS_BASE_URL must start with https:// in production")
            if missing:
                raise ConfigError(
                    "Chorus will not start in production without: " + "; ".join(missing)
                )
        if not secret_key:
            secret_key = _load_or_create_secret(instance / "secret_key")
        if not database_url:
            database_url = f"sqlite:///{instance / 'chorus.sqlite3'}"
        if database_url.startswith("postgresql://"):
            # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
            database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")

        return cls(
            env=env,
            instance_path=instance,
            database_url=database_url,
            secret_key=secret_key,
            base_url=(base_url or "http://127.0.0.1:5000").rstrip("/"),
            instruments_path=Path(
                env_vars.get("CHORUS_INSTRUMENTS_PATH") or PROJECT_ROOT / "instruments"
            ),
            session_idle_minutes=_int(env_vars, "CHORUS_SESSION_IDLE_MINUTES", 30),
            session_absolute_hours=_int(env_vars, "CHORUS_SESSION_ABSOLUTE_HOURS", 12),
            login_max_failures=_int(env_vars, "CHORUS_LOGIN_MAX_FAILURES", 5),
            login_lockout_minutes=_int(env_vars, "CHORUS_LOGIN_LOCKOUT_MINUTES", 15),
            login_ip_max_failures=_int(env_vars, "CHORUS_LOGIN_IP_MAX_FAILURES", 50),
            log_level=env_vars.get("CHORUS_LOG_LEVEL", "INFO").upper(),
        )
