"""Configuration read from the environment, with a test variant."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def instance_dir(override: str | Path | None = None) -> Path:
    """Return the folder for the SQLite file, the secret key and the certificate."""
    path = Path(override or os.environ.get("INSTANCE_DIR", ROOT / "instance"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def secret_key(folder: Path) -> str:
    """Return SECRET_KEY from the environment, else one generated once into instance/."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = folder / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


class Config:
    """Settings for a plant's server; every one can come from the environment."""

    def __init__(self, instance: str | Path | None = None) -> None:
        folder = instance_dir(instance)
        self.INSTANCE_DIR = str(folder)
        self.SECRET_KEY = secret_key(folder)
        self.SQLALCHEMY_DATABASE_URI = os.environ.get(
            "DATABASE_URL", f"sqlite:///{folder / 'shopfloor.sqlite3'}"
        ).replace("postgres://", "postgresql+psycopg://", 1).replace(
            "postgresql://", "postgresql+psycopg://", 1
        )
        self.PUBLIC_URL = os.environ.get("PUBLIC_URL", "").rstrip("/")
        # Name of the plant made when labels are minted into an empty database (default 工厂 / Plant).
        self.PLANT_NAME = os.environ.get("PLANT_NAME", "").strip()
        self.UPLOAD_DIR = os.environ.get("UPLOAD_DIR", str(folder / "uploads"))
        # Request bodies: 4 MiB (a push of 200 events is well under 1 MiB); a whole photo, the
        # no-JavaScript photo form and the office import get their own caps (webapp/routes/blobs.py).
        self.MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", str(4 << 20)))
        # Photos (webapp/services/blobs.py): pixels per image (16 MP; phones send ~2 MP), images decoded
        # at once per worker process, hours an unfinished upload is kept untouched, and per device
        # (or person, without a device): bytes of unfinished uploads held at once, bytes sent per day.
        self.BLOB_MAX_PIXELS = int(os.environ.get("BLOB_MAX_PIXELS", str(16 << 20)))
        self.BLOB_DECODE_SLOTS = int(os.environ.get("BLOB_DECODE_SLOTS", "2"))
        self.PARTIAL_UPLOAD_HOURS = float(os.environ.get("PARTIAL_UPLOAD_HOURS", "24"))
        self.UPLOAD_HELD_BYTES = int(os.environ.get("UPLOAD_HELD_BYTES", str(200 << 20)))
        self.UPLOAD_DAILY_BYTES = int(os.environ.get("UPLOAD_DAILY_BYTES", str(1 << 30)))
        self.PORT = int(os.environ.get("PORT", "8000"))
        self.HTTPS_PORT = int(os.environ.get("HTTPS_PORT", "8443"))
        self.RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
        # Failed sign-ins only (a correct password never counts): per username from any address,
        # and per client address across usernames. Workers share them only through a shared store.
        self.LOGIN_RATE_LIMIT_USER = os.environ.get("LOGIN_RATE_LIMIT_USER", "10 per minute;50 per hour")
        self.LOGIN_RATE_LIMIT_ADDRESS = os.environ.get("LOGIN_RATE_LIMIT_ADDRESS", "30 per minute;200 per hour")
        # Proxies in front that set X-Forwarded-For/-Proto/-Host (nginx: 1); 0 trusts none of them.
        self.PROXY_HOPS = int(os.environ.get("PROXY_HOPS", "0") or "0")
        self.MIN_BUILD = os.environ.get("MIN_BUILD", "")  # a release number (webapp/releases.py); empty: any
        self.BABEL_DEFAULT_TIMEZONE = os.environ.get("PLANT_TIMEZONE", "Asia/Shanghai")
        # Cookies are Secure on every HTTPS request anyway (webapp/security.py); 1: on plain HTTP too.
        self.SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "0") == "1"

    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)  # one shift
    REMEMBER_COOKIE_DURATION = timedelta(hours=12)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = 12 * 3600  # a form opened at the start of a shift still posts
    WTF_CSRF_HEADERS = ["X-CSRFToken", "X-CSRF-Token"]
    BABEL_DEFAULT_LOCALE = "en"
    LANGUAGES = ("zh_CN", "en")
    DEVICE_TOKEN_HOURS = 12
    STATIC_DIR: str | None = None  # the static files to serve; None: webapp/static (tests use copies)
    TESTING = False


class TestConfig(Config):
    __test__ = False  # not a pytest test class

    """Settings for the test suite: a throwaway database, fast hashing, a test limit."""

    TESTING = True

    def __init__(self, database_url: str | None = None, instance: str | Path | None = None,
                 static_dir: str | Path | None = None) -> None:
        super().__init__(instance)
        if database_url:
            self.SQLALCHEMY_DATABASE_URI = database_url
        if static_dir:
            self.STATIC_DIR = str(static_dir)
        self.LOGIN_RATE_LIMIT_USER = self.LOGIN_RATE_LIMIT_ADDRESS = "1000 per minute"
        self.PROXY_HOPS = 0
        self.SESSION_COOKIE_SECURE = False
