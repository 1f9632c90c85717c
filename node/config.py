"""Node configuration: environment (COMUNA_*), then an optional file in the data directory.

Validated once at start; a wrong value stops the node with a message that names the setting.
"""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

CONFIG_FILE = "comuna.json"


class Level(StrEnum):
    commune = "commune"
    city = "city"
    territory = "territory"
    nation = "nation"
    thematic = "thematic"


class ConfigError(Exception):
    """A setting is missing or wrong; the message is meant for the facilitator."""


class _FileSource(PydanticBaseSettingsSource):
    """Reads `comuna.json` from the data directory (lower priority than the environment)."""

    def __init__(self, settings_cls: type[BaseSettings], data_dir: Path | None) -> None:
        super().__init__(settings_cls)
        self._data: dict[str, Any] = {}
        if data_dir is not None:
            path = data_dir / CONFIG_FILE
            if path.exists():
                try:
                    self._data = json.loads(path.read_text("utf-8"))
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{path}: not valid JSON ({exc})") from exc

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._data.items() if k in self.settings_cls.model_fields}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COMUNA_", extra="ignore")

    data_dir: Path
    url: str = ""
    handle: str = ""
    name: str = ""
    level: Level = Level.commune
    database_url: str = ""
    allow_private_networks: bool = False
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    # Signatures dated further back or ahead than this are refused (seconds).
    max_signature_age: int = 12 * 3600
    max_signature_skew_ahead: int = 3600
    fetch_timeout: float = 10.0
    fetch_max_bytes: int = 1024 * 1024
    fetch_max_redirects: int = 3
    key_refetch_per_host_per_minute: int = 30
    delivery_concurrency: int = Field(default=64, ge=1)
    delivery_per_host: int = Field(default=16, ge=1)
    delivery_timeout: float = 15.0
    delivery_max_attempts: int = Field(default=16, ge=1)
    # First retry delay in seconds; each further one doubles (capped at 8 h).
    delivery_backoff_base: float = Field(default=30.0, gt=0)
    # How often a loop looks again at work that is due but held (leased by another
    # worker, a host in its breaker's cooldown).
    delivery_poll_seconds: float = 1.0
    # How often an idle loop looks for work nothing told it about. Work queued on this
    # machine wakes the loops at once, a retry wakes them when it falls due; only a
    # process on another machine sharing the database goes unheard until then.
    idle_poll_seconds: float = Field(default=15.0, gt=0)
    # Longest wait between two passes of the economy (local matching, brokering, rising);
    # a new offer, need or answer starts a pass at once.
    economy_tick_seconds: float = Field(default=10.0, gt=0)
    # Failures in a row that open a host's circuit breaker; the first cooldown (seconds)
    # doubles with each trip up to the max, then one delivery probes the host.
    breaker_threshold: int = Field(default=5, ge=1)
    breaker_cooldown: float = Field(default=5.0, gt=0)
    breaker_cooldown_max: float = Field(default=600.0, gt=0)
    trusted_proxies: str = "127.0.0.1,::1"
    admin_token_sha256: str = ""
    # Background loops (inbox processing, delivery) in the web process.
    background: bool = True
    workers: int = Field(default=1, ge=1, le=32)
    delivery_workers: int = Field(default=1, ge=0, le=32)
    # Times are stored in UTC and shown to people in this zone (an IANA name).
    timezone: str = "America/Caracas"

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v:
            return v
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http(s) URL such as https://comuna.example")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("must be the bare origin, without a path")
        return f"{parts.scheme}://{parts.netloc}".lower()

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("must be a time zone name such as America/Caracas") from exc
        return v

    @field_validator("handle")
    @classmethod
    def _handle(cls, v: str) -> str:
        if v and not all(c.isalnum() or c in "_-." for c in v):
            raise ValueError("may contain only letters, digits, '_', '-' and '.'")
        return v.lower()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        raw = os.environ.get("COMUNA_DATA_DIR")
        init_dir = init_settings().get("data_dir")
        data_dir = Path(init_dir) if init_dir else (Path(raw) if raw else None)
        return (init_settings, env_settings, _FileSource(settings_cls, data_dir))

    @property
    def host(self) -> str:
        return urlsplit(self.url).netloc

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'comuna.sqlite3'}"

    @property
    def is_initialised(self) -> bool:
        return bool(self.url and self.handle)


def load_settings(data_dir: str | Path | None = None, **overrides: Any) -> Settings:
    """Build settings, turning validation errors into one readable ConfigError."""
    kwargs: dict[str, Any] = dict(overrides)
    if data_dir is not None:
        kwargs["data_dir"] = Path(data_dir)
    elif not os.environ.get("COMUNA_DATA_DIR"):
        raise ConfigError("no data directory: pass --data-dir DIR or set COMUNA_DATA_DIR")
    try:
        return Settings(**kwargs)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "configuration"
            lines.append(f"  COMUNA_{loc.upper()}: {err['msg']}")
        raise ConfigError("invalid configuration:\n" + "\n".join(lines)) from exc


def write_config_file(data_dir: Path, values: dict[str, Any]) -> None:
    path = data_dir / CONFIG_FILE
    current: dict[str, Any] = {}
    if path.exists():
        current = json.loads(path.read_text("utf-8"))
    current.update(values)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n", "utf-8")
    os.replace(tmp, path)
