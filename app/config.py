"""Configuration: every setting comes from the environment (or a .env-style file named by EZZ_CONFIG).

One place for configuration keys, so that the deployment guide can list them and the app can refuse to
start in production with an unsafe default.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
REFERENCE_DIR = DATA_DIR / "reference"

DEFAULT_COOKIE_KEY = "development-only-cookie-key-change-me"


class ConfigError(RuntimeError):
    """Raised when the configuration is unsafe or inconsistent."""


def _read_file(path: str | None) -> dict[str, str]:
    if not path:
        return {}
    values: dict[str, str] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip().strip('"')
    return values


@dataclass(frozen=True)
class Settings:
    database_url: str
    database_schema: str | None = None  # PostgreSQL only: the schema (search_path) holding the tables
    mode: str = "development"  # development | production
    cookie_key: str = DEFAULT_COOKIE_KEY
    cookie_name: str = "ezz_session"
    cookie_secure: bool = False
    session_hours: int = 12
    lockout_failures: int = 5
    lockout_minutes: int = 30
    default_language: str = "zh"
    public_base_url: str = "http://127.0.0.1:8501"
    background_jobs: bool = True
    job_interval_seconds: int = 300
    write_retries: int = 5
    yellow_days: int = 2          # domain.md §5 defaults: yellow at ≤ 2 working days left …
    yellow_ratio: float = 0.8     # … or 80 % of the limit used; red when the limit has passed
    rating_weights: tuple[int, int, int] = (40, 30, 30)   # 评定 weights: efficiency, quality, satisfaction (%)
    followup_days: int = 15       # working days to follow up a bad review (domain.md §7: complex problems)
    complaint_days: int = 5       # working days to answer a complaint
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_duckdb(self) -> bool:
        return self.database_url.startswith("duckdb")

    def check(self) -> None:
        """Refuse settings that would be unsafe in production."""
        if self.mode == "production":
            if self.cookie_key == DEFAULT_COOKIE_KEY or len(self.cookie_key) < 32:
                raise ConfigError(
                    "EZZ_COOKIE_KEY must be set to a secret of at least 32 characters in production mode"
                )
        if self.yellow_days < 0 or not 0 < self.yellow_ratio <= 1:
            raise ConfigError("EZZ_YELLOW_DAYS must be ≥ 0 and EZZ_YELLOW_RATIO within (0, 1]")
        if self.followup_days < 1 or self.complaint_days < 1:
            raise ConfigError("EZZ_FOLLOWUP_DAYS and EZZ_COMPLAINT_DAYS must be at least 1 working day")
        if len(self.rating_weights) != 3 or min(self.rating_weights) < 0 or sum(self.rating_weights) != 100:
            raise ConfigError("EZZ_RATING_WEIGHTS must be three whole percentages (efficiency, quality, "
                              "satisfaction) adding up to 100, e.g. 40,30,30")
        if self.mode not in ("development", "production"):
            raise ConfigError(f"EZZ_MODE must be development or production, not {self.mode!r}")


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    values = {**_read_file(env.get("EZZ_CONFIG")), **env}
    default_db = f"duckdb:///{DATA_DIR / 'ezz.duckdb'}"
    return Settings(
        database_url=values.get("EZZ_DATABASE_URL", default_db),
        database_schema=values.get("EZZ_DATABASE_SCHEMA") or None,
        mode=values.get("EZZ_MODE", "development"),
        cookie_key=values.get("EZZ_COOKIE_KEY", DEFAULT_COOKIE_KEY),
        cookie_name=values.get("EZZ_COOKIE_NAME", "ezz_session"),
        cookie_secure=values.get("EZZ_COOKIE_SECURE", "0") in ("1", "true", "yes"),
        session_hours=int(values.get("EZZ_SESSION_HOURS", "12")),
        lockout_failures=int(values.get("EZZ_LOCKOUT_FAILURES", "5")),
        lockout_minutes=int(values.get("EZZ_LOCKOUT_MINUTES", "30")),
        default_language=values.get("EZZ_LANGUAGE", "zh"),
        public_base_url=values.get("EZZ_PUBLIC_BASE_URL", "http://127.0.0.1:8501"),
        background_jobs=values.get("EZZ_BACKGROUND_JOBS", "1") in ("1", "true", "yes"),
        job_interval_seconds=int(values.get("EZZ_JOB_INTERVAL_SECONDS", "300")),
        write_retries=int(values.get("EZZ_WRITE_RETRIES", "5")),
        yellow_days=int(values.get("EZZ_YELLOW_DAYS", "2")),
        yellow_ratio=float(values.get("EZZ_YELLOW_RATIO", "0.8")),
        rating_weights=_weights(values.get("EZZ_RATING_WEIGHTS", "40,30,30")),
        followup_days=int(values.get("EZZ_FOLLOWUP_DAYS", "15")),
        complaint_days=int(values.get("EZZ_COMPLAINT_DAYS", "5")),
    )


def path_setting(name: str, default: Path) -> Path:
    """A folder or file setting (EZZ_FILES_DIR, EZZ_WAREHOUSE) from the environment or the EZZ_CONFIG file, read
    at each call (tests redirect them), like every other key."""
    value = os.environ.get(name) or _read_file(os.environ.get("EZZ_CONFIG")).get(name)
    return Path(value) if value else default


def _weights(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.replace("/", ",").split(","))
    except ValueError as exc:
        raise ConfigError(f"EZZ_RATING_WEIGHTS must be three whole numbers such as 40,30,30, not {text!r}") from exc


@functools.lru_cache(maxsize=1)
def response_limits() -> tuple[int, int]:
    """Working days to follow up a bad review and to answer a complaint, read once per process; tests that
    change them call response_limits.cache_clear()."""
    s = load_settings()
    return s.followup_days, s.complaint_days


@functools.lru_cache(maxsize=1)
def warning_rule() -> tuple[int, float]:
    """The yellow-warning thresholds (working days left, share of the limit used), read once per process;
    tests that change them call warning_rule.cache_clear()."""
    s = load_settings()
    return s.yellow_days, s.yellow_ratio
