"""Delivery settings: SMTP, VAPID subject and scheduler knobs from the environment, refused
with the variable named when malformed, and required by `chorus scheduler` in production."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import ConfigError, Settings

PRODUCTION = {
    "CHORUS_ENV": "production",
    "SECRET_KEY": "x" * 40,
    "DATABASE_URL": "postgresql://db/chorus",
    "CHORUS_BASE_URL": "https://chorus.example.org",
    "CHORUS_AUDIT_KEY": "a" * 40,
}


def test_development_has_email_off_and_sane_scheduler_defaults(tmp_path: Path) -> None:
    settings = Settings.from_env({}, instance_path=tmp_path)
    assert settings.smtp is None
    assert settings.push_subject == "mailto:chorus@localhost"
    assert settings.scheduler_problems() == []
    assert (settings.scheduler_tick_seconds, settings.scheduler_batch_size) == (30, 100)
    assert (settings.scheduler_lease_seconds, settings.outbox_max_attempts) == (300, 8)


def test_smtp_settings_are_built_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "CHORUS_SMTP_HOST": "smtp.example.org",
            "CHORUS_SMTP_TLS": "tls",
            "CHORUS_SMTP_USERNAME": "chorus",
            "CHORUS_SMTP_PASSWORD": "s3cret-pass",
            "CHORUS_SMTP_FROM": "Chorus <no-reply@example.org>",
        },
        instance_path=tmp_path,
    )
    smtp = settings.smtp
    assert smtp is not None
    assert (smtp.host, smtp.port, smtp.security) == ("smtp.example.org", 465, "tls")
    assert (smtp.username, smtp.password) == ("chorus", "s3cret-pass")
    assert smtp.envelope_sender == "no-reply@example.org"
    assert "s3cret-pass" not in repr(settings)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"CHORUS_SMTP_TLS": "ssl"}, "CHORUS_SMTP_TLS"),
        ({"CHORUS_SMTP_PORT": "smtp"}, "CHORUS_SMTP_PORT"),
        ({"CHORUS_SMTP_PORT": "70000"}, "CHORUS_SMTP_PORT"),
        ({"CHORUS_SMTP_HOST": "smtp.example.org"}, "CHORUS_SMTP_FROM"),
        (
            {"CHORUS_SMTP_HOST": "smtp.example.org", "CHORUS_SMTP_FROM": "not an address"},
            "CHORUS_SMTP_FROM",
        ),
        (
            {
                "CHORUS_SMTP_HOST": "smtp.example.org",
                "CHORUS_SMTP_FROM": "a@example.org",
                "CHORUS_SMTP_USERNAME": "u",
            },
            "CHORUS_SMTP_PASSWORD",
        ),
        (
            {
                "CHORUS_SMTP_HOST": "smtp.example.org",
                "CHORUS_SMTP_FROM": "a@example.org",
                "CHORUS_SMTP_TLS": "none",
            },
            "CHORUS_SMTP_TLS",
        ),
        ({"CHORUS_VAPID_SUBJECT": "ops@example.org"}, "CHORUS_VAPID_SUBJECT"),
        ({"CHORUS_VAPID_SUBJECT": "http://example.org"}, "CHORUS_VAPID_SUBJECT"),
        ({"CHORUS_SCHEDULER_BATCH_SIZE": "0"}, "CHORUS_SCHEDULER_BATCH_SIZE"),
        ({"CHORUS_SCHEDULER_TICK_SECONDS": "often"}, "CHORUS_SCHEDULER_TICK_SECONDS"),
        ({"CHORUS_PUSH_TIMEOUT_SECONDS": "500"}, "CHORUS_PUSH_TIMEOUT_SECONDS"),
        ({"CHORUS_SCHEDULER_LEASE_SECONDS": "15"}, "CHORUS_SCHEDULER_LEASE_SECONDS"),
    ],
)
def test_malformed_delivery_settings_stop_start_up_naming_the_variable(
    tmp_path: Path, environ: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        Settings.from_env(environ, instance_path=tmp_path)


def test_plaintext_smtp_to_this_machine_is_allowed(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"CHORUS_SMTP_HOST": "127.0.0.1", "CHORUS_SMTP_TLS": "none", "CHORUS_SMTP_FROM": "a@b.org"},
        instance_path=tmp_path,
    )
    assert settings.smtp is not None and settings.smtp.port == 25


def test_production_scheduler_names_every_missing_delivery_variable(tmp_path: Path) -> None:
    settings = Settings.from_env(PRODUCTION, instance_path=tmp_path)
    problems = " ".join(settings.scheduler_problems())
    for name in ("CHORUS_VAPID_SUBJECT", "CHORUS_SMTP_HOST", "CHORUS_SMTP_FROM"):
        assert name in problems
    complete = Settings.from_env(
        {
            **PRODUCTION,
            "CHORUS_VAPID_SUBJECT": "mailto:ops@example.org",
            "CHORUS_SMTP_HOST": "smtp.example.org",
            "CHORUS_SMTP_FROM": "no-reply@example.org",
        },
        instance_path=tmp_path,
    )
    assert complete.scheduler_problems() == []
    assert complete.push_subject == "mailto:ops@example.org"
