"""Settings: defaults from atlas/config.py, `ATLAS_…` environment values in their declared type."""

from __future__ import annotations

from datetime import timedelta

import pytest

from atlas import config
from atlas.web.app import create_app


def test_the_app_starts_from_the_declared_defaults(instance, monkeypatch):
    monkeypatch.delenv("ATLAS_DATABASE_URL", raising=False)
    app = create_app()
    for name, value in config.defaults(instance).items():
        assert app.config[name] == value, name
    assert app.config["DATABASE_URL"] == f"sqlite:///{instance}/atlas.sqlite3"
    assert app.config["SECRET_KEY"] == (instance / "secret_key").read_text().strip()


def test_environment_values_take_their_declared_type(instance, monkeypatch):
    for name, text in {
        "SMTP_PORT": "587",
        "SMTP_PASSWORD": "1234",
        "SMTP_STARTTLS": "no",
        "RATELIMIT_ENABLED": "off",
        "SESSION_COOKIE_SECURE": "True",
        "NOMINATIM_MIN_DELAY": "2",
        "SECRET_KEY": "12345",
        "TILES": '{"url": "https://tiles.example.de/{z}/{x}/{y}.png"}',
        "TILES__attribution": "© Beispiel",
    }.items():
        monkeypatch.setenv(f"ATLAS_{name}", text)
    app = create_app()
    assert app.config["SMTP_PORT"] == 587
    assert app.config["SMTP_PASSWORD"] == "1234"
    assert app.config["SMTP_STARTTLS"] is False
    assert app.config["RATELIMIT_ENABLED"] is False
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["NOMINATIM_MIN_DELAY"] == 2.0
    assert app.config["SECRET_KEY"] == "12345"
    assert app.config["TILES"] == {
        "url": "https://tiles.example.de/{z}/{x}/{y}.png",
        "attribution": "© Beispiel",
    }


@pytest.mark.parametrize("name, text", [("SMTP_STARTTLS", "maybe"), ("SMTP_PORT", "25a")])
def test_a_malformed_value_stops_the_start_with_its_name(instance, monkeypatch, name, text):
    monkeypatch.setenv(f"ATLAS_{name}", text)
    with pytest.raises(ValueError, match=f"ATLAS_{name}="):
        create_app()


def test_settings_of_a_mapping_fill_in_the_defaults():
    settings = config.Settings.of({"SMTP_HOST": "mail.example", "SMTP_PORT": 2525})
    assert (settings.SMTP_HOST, settings.SMTP_PORT) == ("mail.example", 2525)
    assert settings.MAIL_FROM == config.Settings.MAIL_FROM
    assert settings.PERMANENT_SESSION_LIFETIME == timedelta(hours=8)
