"""Settings are read without pydantic-settings (questlog.envsettings), by pydantic's rules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr as PydanticSecretStr

from questlog.envsettings import SecretStr, SettingsError
from questlog.errors import ConfigurationError
from questlog.settings import Settings, load_settings


def test_defaults_are_the_declared_ones() -> None:
    settings = Settings()
    for name, info in Settings.fields().items():
        assert getattr(settings, name) == info.make_default(), name
    assert settings.db == Path("questlog.db") and settings.durability == "FULL"


@pytest.mark.parametrize(("name", "text", "value"), [
    ("busy_timeout_ms", "6000", 6000),
    ("busy_timeout_ms", " 7000 ", 7000),
    ("busy_timeout_ms", "8000.0", 8000),
    ("writer_batch_wait_ms", "1.5", 1.5),
    ("allow_unsafe_sqlite", "yes", True),
    ("allow_unsafe_sqlite", "0", False),
    ("litestream_active", "TRUE", True),
    ("durability", "NORMAL", "NORMAL"),
    ("api_token", "", ""),
    ("anchor_path", "/tmp/anchors.jsonl", Path("/tmp/anchors.jsonl")),
    ("db", "sqlite:///x.db", "sqlite:///x.db"),
    ("db", "some/x.db", Path("some/x.db")),
])
def test_environment_values_are_converted(name: str, text: str, value: object,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"QUESTLOG_{name.upper()}", text)
    assert getattr(load_settings(), name) == value


def test_names_match_ignoring_case_and_keywords_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("questlog_snapshot_every", "7")
    monkeypatch.setenv("QUESTLOG_DURABILITY", "OFF")
    settings = load_settings(durability="EXTRA", unknown_setting=1)
    assert settings.snapshot_every == 7 and settings.durability == "EXTRA"


@pytest.mark.parametrize(("name", "text", "says"), [
    ("durability", "full", "Input should be 'OFF', 'NORMAL', 'FULL' or 'EXTRA'"),
    ("busy_timeout_ms", "4999", "greater than or equal to 5000"),
    ("busy_timeout_ms", "1e4", "valid integer"),
    ("append_timeout_s", "0", "greater than 0"),
    ("max_json_depth", "201", "less than or equal to 200"),
    ("allow_unsafe_sqlite", "maybe", "valid boolean"),
    ("writer_batch_wait_ms", "soon", "valid number"),
])
def test_bad_values_are_one_line_naming_the_variable(name: str, text: str, says: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(f"QUESTLOG_{name.upper()}", text)
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    message = str(info.value)
    assert f"QUESTLOG_{name.upper()}={text!r}" in message and says in message
    assert "\n" not in message


def test_every_bad_value_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as info:
        Settings(durability="fast", snapshot_every=0)
    assert [e["loc"] for e in info.value.errors] == [("durability",), ("snapshot_every",)]


def test_secrets_stay_hidden_and_pydantic_secrets_are_taken() -> None:
    settings = Settings(anchor_key=PydanticSecretStr("k" * 32))
    assert isinstance(settings.anchor_key, SecretStr)
    assert settings.anchor_key.get_secret_value() == "k" * 32
    assert "k" * 32 not in repr(settings)


def test_reading_settings_imports_no_pydantic() -> None:
    code = ("import sys\nfrom questlog.settings import load_settings\nload_settings()\n"
            "print(sorted(m for m in ('pydantic', 'pydantic_settings') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_a_subclass_keeps_or_redeclares_its_base_settings() -> None:
    from questlog.envsettings import EnvSettings, Field

    class Base(EnvSettings):
        env_prefix = "QLTEST_"
        level: int = Field(default=1, ge=0)
        name: str = "base"

    class Redeclared(Base):
        level: int = Field(default=2, ge=0)

    class Inherited(Base):
        extra: bool = False

    assert Redeclared().level == 2 and Redeclared().name == "base"
    with pytest.raises(SettingsError):
        Redeclared(level=-1)   # the redeclared bound holds
    assert Inherited().level == 1 and Inherited().name == "base" and Inherited().extra is False
    with pytest.raises(SettingsError):
        Inherited(level=-1)    # the base's bound is inherited
    assert list(Inherited.fields()) == ["level", "name", "extra"]
