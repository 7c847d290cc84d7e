"""Settings from the environment (`KIEMCHUNG_…`) and an optional settings file.

The settings file is `kiemchung.env` in the working directory, or the file named by
`KIEMCHUNG_SETTINGS_FILE`; both use `KEY=value` lines with the same names as the environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KIEMCHUNG_", extra="ignore",
                                      env_file=os.environ.get("KIEMCHUNG_SETTINGS_FILE",
                                                              "kiemchung.env"))

    # Trusted roots and intermediates: PEM/DER files or folders, separated by ':'.
    trust_roots: Annotated[list[Path], NoDecode] = []
    # Where kiemchung keeps its own state: imported trust roots (trust/), stored documents
    # (blobs/) and the SQLite database.
    data_dir: Path = Path.home() / ".local" / "share" / "kiemchung"
    ocr_dpi: int = 300
    # SQLAlchemy URL of the database; unset: the SQLite file `kiemchung.sqlite3` in data_dir.
    # PostgreSQL: postgresql://user@host/dbname (the psycopg 3 driver is used).
    database_url: str | None = None
    # Largest file the API accepts for upload.
    max_upload_bytes: int = 50 * 1024 * 1024
    # Batches. Unset broker: the embedded default, a local pool of worker processes over the job
    # table. Set (redis://host:6379/0): Celery, with `kiemchung worker` on one or more machines.
    broker_url: str | None = None
    broker_queue: str = "kiemchung"
    # Per batch item: past the soft limit the item fails with a clear reason; past the hard
    # limit the worker process is killed (code stuck where no signal reaches it).
    item_soft_time_limit: int = 300
    item_time_limit: int = 360
    # Seconds between sweeps of the job table (`kiemchung worker`'s beat): items a lost worker
    # held go back to the queue, and queued items whose task message was lost are sent again.
    sweep_interval: float = 60.0
    # Address space of one worker process (MiB); Celery also replaces a child past it.
    worker_max_memory_mb: int = 4096
    # HMAC-SHA256 key of the `X-Kiemchung-Signature` header on batch webhooks.
    webhook_secret: str | None = None
    # Hosts batch webhooks may call, separated by ','; unset: any host with public addresses
    # only (never this machine or the internal network).
    webhook_hosts: Annotated[list[str], NoDecode] = []
    # Seconds before a failed webhook is tried again, doubled before each further try.
    webhook_retry_pause: float = Field(default=1.0, ge=0)
    # The pages' cookies carry Secure on requests that came over TLS; set this behind a TLS
    # proxy whose scheme uvicorn does not see.
    secure_cookies: bool = False

    @property
    def trust_dir(self) -> Path:
        return self.data_dir / "trust"

    @field_validator("webhook_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value):
        if isinstance(value, str):
            return [h.strip() for h in value.split(",") if h.strip()]
        return value

    @field_validator("trust_roots", mode="before")
    @classmethod
    def _split_paths(cls, value):
        if isinstance(value, str):
            return [Path(p) for p in value.split(os.pathsep) if p.strip()]
        return value


def load_settings() -> Settings:
    return Settings()
