"""Configuration: production mode refuses the default cookie key, in code and when the server starts."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import DEFAULT_COOKIE_KEY, ConfigError, load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_production_refuses_the_default_key():
    with pytest.raises(ConfigError):
        load_settings({"EZZ_MODE": "production"}).check()
    with pytest.raises(ConfigError):
        load_settings({"EZZ_MODE": "production", "EZZ_COOKIE_KEY": "short"}).check()
    load_settings({"EZZ_MODE": "production", "EZZ_COOKIE_KEY": "k" * 40}).check()
    load_settings({}).check()  # development mode accepts the default
    assert load_settings({}).cookie_key == DEFAULT_COOKIE_KEY


def test_settings_from_a_file(tmp_path):
    conf = tmp_path / "ezz.env"
    conf.write_text("EZZ_DATABASE_URL=duckdb:////srv/ezz/ezz.duckdb\nEZZ_LOCKOUT_FAILURES=7\n", encoding="utf-8")
    settings = load_settings({"EZZ_CONFIG": str(conf)})
    assert settings.database_url == "duckdb:////srv/ezz/ezz.duckdb" and settings.lockout_failures == 7


def test_server_does_not_start_in_production_with_the_default_key(tmp_path):
    env = {**os.environ, "EZZ_MODE": "production", "EZZ_DATABASE_URL": f"duckdb:///{tmp_path / 'p.duckdb'}",
           "EZZ_BACKGROUND_JOBS": "0"}
    env.pop("EZZ_COOKIE_KEY", None)
    proc = subprocess.run([sys.executable, "-m", "streamlit", "run", "server.py", "--server.port", "8697",
                           "--server.headless", "true"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode != 0
    assert "EZZ_COOKIE_KEY" in proc.stdout + proc.stderr


def test_files_folder_from_the_config_file_and_the_environment_first(tmp_path, monkeypatch):
    """EZZ_FILES_DIR is read like every other key: from the EZZ_CONFIG file, the environment winning — a server
    configured by its file alone must not keep uploads in its own checkout."""
    from app import files

    config = tmp_path / "ezz.env"
    config.write_text(f"EZZ_FILES_DIR={tmp_path / 'shared-files'}\n", encoding="utf-8")
    monkeypatch.setenv("EZZ_CONFIG", str(config))
    monkeypatch.delenv("EZZ_FILES_DIR", raising=False)
    assert files.files_dir() == tmp_path / "shared-files"
    monkeypatch.setenv("EZZ_FILES_DIR", str(tmp_path / "from-env"))
    assert files.files_dir() == tmp_path / "from-env"
