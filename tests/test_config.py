import os
import stat

import pytest

from app.config import ConfigError, Settings


def test_development_needs_nothing_and_creates_a_private_secret(tmp_path):
    settings = Settings.from_env({}, instance_path=tmp_path)
    assert settings.env == "development"
    assert settings.database_url == f"sqlite:///{tmp_path / 'chorus.sqlite3'}"
    secret_file = tmp_path / "secret_key"
    assert secret_file.read_text() == settings.secret_key
    assert len(settings.secret_key) >= 48
    assert stat.S_IMODE(os.stat(secret_file).st_mode) == 0o600


def test_development_secret_is_stable_across_starts(tmp_path):
    first = Settings.from_env({}, instance_path=tmp_path)
    second = Settings.from_env({}, instance_path=tmp_path)
    assert first.secret_key == second.secret_key


def test_production_refuses_to_start_and_names_every_missing_variable(tmp_path):
    with pytest.raises(ConfigError) as error:
        Settings.from_env({"CHORUS_ENV": "production"}, instance_path=tmp_path)
    message = str(error.value)
    assert "SECRET_KEY" in message
    assert "DATABASE_URL" in message
    assert "CHORUS_BASE_URL" in message
    assert "CHORUS_AUDIT_KEY" in message
    assert not (tmp_path / "secret_key").exists(), "production must not invent a secret"
    assert not (tmp_path / "audit_key").exists(), "production must not invent a secret"


def test_production_rejects_short_secret_and_plain_http(tmp_path):
    good = {
        "CHORUS_ENV": "production",
        "DATABASE_URL": "postgresql://db/chorus",
        "CHORUS_BASE_URL": "https://chorus.example.org",
        "CHORUS_AUDIT_KEY": "a" * 40,
    }
    with pytest.raises(ConfigError, match="at least 32"):
        Settings.from_env({**good, "SECRET_KEY": "short"}, instance_path=tmp_path)
    with pytest.raises(ConfigError, match="https://"):
        Settings.from_env(
            {**good, "SECRET_KEY": "x" * 40, "CHORUS_BASE_URL": "http://chorus.example.org"},
            instance_path=tmp_path,
        )


def test_production_with_everything_set_uses_psycopg_and_secure_cookies(tmp_path):
    settings = Settings.from_env(
        {
            "CHORUS_ENV": "production",
            "SECRET_KEY": "x" * 40,
            "DATABASE_URL": "postgresql://db/chorus",
            "CHORUS_BASE_URL": "https://chorus.example.org",
            "CHORUS_AUDIT_KEY": "a" * 40,
        },
        instance_path=tmp_path,
    )
    assert settings.audit_key == "a" * 40 and "a" * 40 not in repr(settings)
    assert settings.database_url == "postgresql+psycopg://db/chorus"
    assert settings.session_cookie_name == "__Host-chorus_session"
    assert settings.cookies_secure


def test_settings_are_frozen_and_hide_the_secret_in_repr(tmp_path):
    settings = Settings.from_env({"SECRET_KEY": "s" * 40}, instance_path=tmp_path)
    with pytest.raises(AttributeError):
        settings.env = "production"  # type: ignore[misc]
    assert "s" * 40 not in repr(settings)


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("CHORUS_ENV", "staging", "CHORUS_ENV must be one of"),
        ("CHORUS_SESSION_IDLE_MINUTES", "ten", "whole number"),
        ("CHORUS_LOGIN_MAX_FAILURES", "0", "greater than 0"),
    ],
)
def test_bad_values_name_the_variable(tmp_path, variable, value, fragment):
    with pytest.raises(ConfigError, match=fragment):
        Settings.from_env({variable: value}, instance_path=tmp_path)


def test_production_refuses_a_short_audit_key(tmp_path):
    with pytest.raises(ConfigError, match="CHORUS_AUDIT_KEY must be at least 32"):
        Settings.from_env(
            {
                "CHORUS_ENV": "production",
                "SECRET_KEY": "x" * 40,
                "DATABASE_URL": "postgresql://db/chorus",
                "CHORUS_BASE_URL": "https://chorus.example.org",
                "CHORUS_AUDIT_KEY": "short",
            },
            instance_path=tmp_path,
        )


def test_development_audit_key_is_generated_once_beside_the_secret_key(tmp_path):
    first = Settings.from_env({}, instance_path=tmp_path)
    assert (tmp_path / "audit_key").stat().st_mode & 0o777 == 0o600
    assert Settings.from_env({}, instance_path=tmp_path).audit_key == first.audit_key
    assert first.audit_key != first.secret_key


@pytest.mark.parametrize(("raw", "count"), [(None, 0), ("0", 0), ("2", 2)])
def test_trusted_proxy_count(tmp_path, raw, count):
    environ = {} if raw is None else {"CHORUS_TRUSTED_PROXY_COUNT": raw}
    assert Settings.from_env(environ, instance_path=tmp_path).trusted_proxy_count == count


@pytest.mark.parametrize("raw", ["-1", "one", "9"])
def test_malformed_trusted_proxy_count_is_named(tmp_path, raw):
    with pytest.raises(ConfigError, match="CHORUS_TRUSTED_PROXY_COUNT"):
        Settings.from_env({"CHORUS_TRUSTED_PROXY_COUNT": raw}, instance_path=tmp_path)
