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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.delivery.email import SmtpSettings

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


def _float(environ: Mapping[str, str], name: str, default: float, *, maximum: float) -> float:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not 0 < value <= maximum:
        raise ConfigError(f"{name} must be between 0 and {maximum:g} seconds, got {raw}")
    return value


SMTP_SECURITY = ("starttls", "tls", "none")
_SMTP_DEFAULT_PORT = {"starttls": 587, "tls": 465, "none": 25}


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
    # Keys the audit chain (HMAC); never stored in the database (app/audit/service.py).
    audit_key: str = field(default="", repr=False)
    # How many proxies in front of Chorus set X-Forwarded-For (werkzeug ProxyFix x_for); 0 trusts
    # no forwarded header, so a client cannot pick the address the sign-in throttle counts.
    trusted_proxy_count: int = 0
    session_idle_minutes: int = 30
    session_absolute_hours: int = 12
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    login_ip_max_failures: int = 50
    log_level: str = "INFO"
    # Delivery (the `chorus scheduler` process). SMTP off when smtp_host is None.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_from: str | None = None
    vapid_subject: str | None = None  # required in production; see push_subject
    scheduler_tick_seconds: int = 30
    scheduler_plan_seconds: int = 300
    scheduler_batch_size: int = 100
    scheduler_lease_seconds: int = 300
    scheduler_send_threads: int = 4
    outbox_max_attempts: int = 8
    push_timeout_seconds: float = 10.0

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

    @property
    def smtp(self) -> SmtpSettings | None:
        """How to reach the mail relay, or None when e-mail is off (no CHORUS_SMTP_HOST)."""
        if self.smtp_host is None or self.smtp_from is None:
            return None
        from app.delivery.email import SmtpSettings

        return SmtpSettings(
            host=self.smtp_host,
            port=self.smtp_port,
            security=self.smtp_security,  # type: ignore[arg-type]  # one of SMTP_SECURITY
            sender=self.smtp_from,
            username=self.smtp_username,
            password=self.smtp_password,
        )

    @property
    def push_subject(self) -> str:
        """The VAPID ``sub`` claim; outside production a local placeholder when unset."""
        return self.vapid_subject or "mailto:chorus@localhost"

    def scheduler_problems(self) -> list[str]:
        """What `chorus scheduler` still needs before it may start in production, naming each
        variable. Web workers never deliver, so these are not asked of them (the SMTP password
        then lives only in the scheduler's environment)."""
        if not self.is_production:
            return []
        problems = []
        if self.vapid_subject is None:
            problems.append(
                "CHORUS_VAPID_SUBJECT (mailto:ops@your-organisation.org or an https:// page;"
                " push services contact it about problems)"
            )
        if self.smtp_host is None:
            problems.append("CHORUS_SMTP_HOST (the mail relay for e-mail reminders and alerts)")
        if self.smtp_from is None:
            problems.append('CHORUS_SMTP_FROM (e.g. "Chorus <no-reply@your-organisation.org>")')
        return problems

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
            if not env_vars.get("CHORUS_AUDIT_KEY", ""):
                missing.append(
                    "CHORUS_AUDIT_KEY (a long random string, kept outside the database: it keys"
                    " the audit chain)"
                )
            elif len(env_vars["CHORUS_AUDIT_KEY"]) < 32:
                raise ConfigError("CHORUS_AUDIT_KEY must be at least 32 characters in production")
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
        audit_key = env_vars.get("CHORUS_AUDIT_KEY", "") or _load_or_create_secret(
            instance / "audit_key"
        )
        proxies = env_vars.get("CHORUS_TRUSTED_PROXY_COUNT", "").strip() or "0"
        if not proxies.isdigit() or int(proxies) > 5:
            raise ConfigError(
                f"CHORUS_TRUSTED_PROXY_COUNT must be a whole number from 0 to 5, got {proxies!r}"
            )
        if not database_url:
            database_url = f"sqlite:///{instance / 'chorus.sqlite3'}"
        if database_url.startswith("postgresql://"):
            # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
            database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")

        delivery = _delivery_from_env(env_vars)
        return cls(
            env=env,
            instance_path=instance,
            database_url=database_url,
            secret_key=secret_key,
            audit_key=audit_key,
            trusted_proxy_count=int(proxies),
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
            **delivery,
        )


def _optional(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


def _delivery_from_env(env_vars: Mapping[str, str]) -> dict[str, Any]:
    """SMTP, VAPID subject and scheduler knobs; a malformed value stops start-up in every
    environment (a typo must not silently turn reminders off), naming the variable."""
    security = (_optional(env_vars, "CHORUS_SMTP_TLS") or "starttls").lower()
    if security not in SMTP_SECURITY:
        raise ConfigError(
            f"CHORUS_SMTP_TLS must be one of {', '.join(SMTP_SECURITY)}, got {security!r}"
        )
    port = _int(env_vars, "CHORUS_SMTP_PORT", _SMTP_DEFAULT_PORT[security])
    if port > 65535:
        raise ConfigError(f"CHORUS_SMTP_PORT must be 1-65535, got {port}")
    values: dict[str, Any] = {
        "smtp_host": _optional(env_vars, "CHORUS_SMTP_HOST"),
        "smtp_port": port,
        "smtp_security": security,
        "smtp_username": _optional(env_vars, "CHORUS_SMTP_USERNAME"),
        "smtp_password": env_vars.get("CHORUS_SMTP_PASSWORD") or None,
        "smtp_from": _optional(env_vars, "CHORUS_SMTP_FROM"),
        "vapid_subject": _optional(env_vars, "CHORUS_VAPID_SUBJECT"),
        "scheduler_tick_seconds": _int(env_vars, "CHORUS_SCHEDULER_TICK_SECONDS", 30),
        "scheduler_plan_seconds": _int(env_vars, "CHORUS_SCHEDULER_PLAN_SECONDS", 300),
        "scheduler_batch_size": _int(env_vars, "CHORUS_SCHEDULER_BATCH_SIZE", 100),
        "scheduler_lease_seconds": _int(env_vars, "CHORUS_SCHEDULER_LEASE_SECONDS", 300),
        "scheduler_send_threads": _int(env_vars, "CHORUS_SCHEDULER_SEND_THREADS", 4),
        "outbox_max_attempts": _int(env_vars, "CHORUS_OUTBOX_MAX_ATTEMPTS", 8),
        "push_timeout_seconds": _float(env_vars, "CHORUS_PUSH_TIMEOUT_SECONDS", 10.0, maximum=120),
    }
    if values["scheduler_send_threads"] > 64:
        raise ConfigError("CHORUS_SCHEDULER_SEND_THREADS must be at most 64")
    if values["scheduler_lease_seconds"] < 2 * values["push_timeout_seconds"]:
        raise ConfigError(
            "CHORUS_SCHEDULER_LEASE_SECONDS must be at least twice CHORUS_PUSH_TIMEOUT_SECONDS"
            f" ({values['push_timeout_seconds']:g} s): a claim must outlive the send it covers"
        )
    if values["vapid_subject"] is not None:
        _check_vapid_subject(values["vapid_subject"])
    if values["smtp_host"] is not None:
        _check_smtp(values)
    return values


def _check_smtp(values: Mapping[str, Any]) -> None:
    from app.delivery._net import is_loopback_host
    from app.delivery.email import EmailConfigError, SmtpSettings

    if values["smtp_from"] is None:
        raise ConfigError("CHORUS_SMTP_FROM is required when CHORUS_SMTP_HOST is set")
    if (values["smtp_username"] is None) != (values["smtp_password"] is None):
        raise ConfigError("set both CHORUS_SMTP_USERNAME and CHORUS_SMTP_PASSWORD, or neither")
    if values["smtp_security"] == "none" and not is_loopback_host(values["smtp_host"]):
        raise ConfigError(
            "CHORUS_SMTP_TLS=none is only allowed to a relay on this machine (localhost);"
            " use starttls (port 587) or tls (port 465)"
        )
    try:
        SmtpSettings(
            host=values["smtp_host"],
            port=values["smtp_port"],
            security=values["smtp_security"],
            sender=values["smtp_from"],
            username=values["smtp_username"],
            password=values["smtp_password"],
        )
    except EmailConfigError as exc:
        # What is left is the sender address (host, port and security were checked above).
        raise ConfigError(f"CHORUS_SMTP_FROM: {exc}") from None


def _check_vapid_subject(subject: str) -> None:
    from app.delivery.vapid import VapidConfigError, VapidKeys

    try:
        VapidKeys(subject=subject, application_server_key="", signer=None)
    except VapidConfigError:
        raise ConfigError(
            f"CHORUS_VAPID_SUBJECT must be a mailto: address or an https: URL, got {subject!r}"
        ) from None
