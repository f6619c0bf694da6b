"""All configuration, from `REGUA_*` environment variables or a `.env` file.

Nothing else in the code base reads `os.environ`: every process builds one `Settings`
at start, and a bad value stops it with a message naming the variable.
"""

from __future__ import annotations

import ipaddress
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

APP_DB_ROLE = "regua_app"
MAINTENANCE_DB_ROLE = "regua_maint"

CapChannel = Literal["email", "sms", "whatsapp", "letter", "call"]
CapKind = Literal["attempts_day", "attempts_week", "answered_day", "answered_week"]

# The agency's caps per debtor and channel, across every creditor (DOMAIN.md: at most 1
# answered call and 3 call attempts a day, 1 message per channel a day). The weekly
# figures are Régua's defaults; weeks run Monday to Sunday in the debtor's zone.
DEFAULT_CONTACT_CAPS: dict[CapChannel, dict[CapKind, int]] = {
    "call": {"attempts_day": 3, "answered_day": 1, "attempts_week": 10, "answered_week": 3},
    "sms": {"attempts_day": 1, "attempts_week": 3},
    "whatsapp": {"attempts_day": 1, "attempts_week": 3},
    "email": {"attempts_day": 1, "attempts_week": 3},
    "letter": {"attempts_day": 1, "attempts_week": 2},
}


class SettingsError(SystemExit):
    """Raised (as a clean exit) when the environment holds an invalid value."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="REGUA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Literal["development", "production", "test"] = "development"
    state_dir: Path = Path(".regua")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # Where the schema owner / migration role connects. Empty: embedded PostgreSQL.
    database_url: str | None = None
    # Where the application role connects. Empty: derived from database_url with the
    # application role's name and password.
    database_app_url: str | None = None
    database_app_password: SecretStr | None = None
    database_pool_size: int = Field(default=10, ge=1, le=200)

    broker_url: str | None = None
    worker_threads: int = Field(default=4, ge=1, le=64)

    s3_endpoint_url: str | None = None
    s3_public_endpoint_url: str | None = None
    s3_bucket: str = "regua"
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None

    secret_key: SecretStr | None = None
    # Keys the agency-wide contact counts (HMAC of the CPF/CNPJ). Every process of one
    # deployment must share it, or caps are counted apart.
    contact_key_secret: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str | None = None
    session_ttl_hours: int = Field(default=12, ge=1, le=24 * 30)
    token_ttl_hours: int = Field(default=8, ge=1, le=24 * 30)
    # Failed logins one (account, address) pair may make before each next attempt waits
    # a growing delay; an address gets 4x that, an account from everywhere 20x.
    login_max_failures: int = Field(default=5, ge=1, le=1000)
    # How long a failure is remembered (after the last failure or delay).
    login_window_minutes: int = Field(default=15, ge=1, le=24 * 60)
    login_max_delay_seconds: int = Field(default=900, ge=1, le=24 * 3600)
    # Addresses or networks (comma-separated) of reverse proxies whose X-Forwarded-For
    # names the client. Empty: the header is ignored and the peer is the client.
    trusted_proxies: str = ""
    # The platform's ceilings for a creditor's file; each tenant's own limits (lower by
    # default, tenants.intake.limits) may rise up to these and no further.
    intake_max_file_mb: int = Field(default=2048, ge=1, le=1_000_000)
    intake_max_unpacked_mb: int = Field(default=8192, ge=1, le=1_000_000)
    intake_max_ratio: int = Field(default=1000, ge=2, le=100_000)
    intake_max_rows: int = Field(default=20_000_000, ge=1, le=1_000_000_000)
    intake_max_columns: int = Field(default=2000, ge=2, le=16384)
    intake_max_cell_chars: int = Field(default=1_000_000, ge=100, le=100_000_000)
    intake_max_memory_mb: int = Field(default=4096, ge=256, le=1_000_000)
    default_timezone: str = "America/Sao_Paulo"
    # JSON, e.g. {"call": {"attempts_day": 2}}: merged over DEFAULT_CONTACT_CAPS.
    contact_caps: dict[CapChannel, dict[CapKind, int]] = Field(
        default_factory=lambda: {ch: dict(caps) for ch, caps in DEFAULT_CONTACT_CAPS.items()})

    # The agency, as every collection message identifies it (CDC art. 42-A).
    agency_name: str = "Régua Assessoria de Cobrança"
    agency_cnpj: str = "11222333000181"
    agency_phone: str = "(11) 4000-0000"

    # E-mail over SMTP. Empty host: a local SMTP sandbox on loopback (`regua up`).
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_tls: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_sender: str = "cobranca@regua.local"

    # SMS through Zenvia's API v2. Empty token: the local provider sandbox.
    zenvia_api_url: str = "https://api.zenvia.com"
    zenvia_api_token: SecretStr | None = None
    zenvia_sender: str = "regua"
    # Zenvia does not sign its webhooks; its subscription sends this header back instead.
    zenvia_webhook_token: SecretStr | None = None

    # WhatsApp Business Cloud API. Empty token: the local provider sandbox.
    whatsapp_api_url: str = "https://graph.facebook.com"
    whatsapp_api_version: str = "v21.0"
    whatsapp_phone_number_id: str = "100000000000000"
    whatsapp_access_token: SecretStr | None = None
    whatsapp_app_secret: SecretStr | None = None  # signs the webhooks (X-Hub-Signature-256)
    # Payment slips: the agency's PIX key and boleto agreement with its bank.
    pix_key: str | None = None  # default: the agency's CNPJ as its PIX key
    pix_location_url: str | None = None  # set: dynamic codes at {url}/{txid} (the PSP's)
    pix_merchant_city: str = "SAO PAULO"
    pix_webhook_secret: SecretStr | None = None  # HMAC-SHA256 key of X-Regua-Pix-Signature
    boleto_bank: str = "001"
    boleto_convenio: str = "1234567"  # Banco do Brasil convênio of 7 digits
    boleto_carteira: str = "17"
    # Protest through the CRA: the agency's code there as apresentante (3 digits) and
    # name (default: agency_name); the species of titles that name none.
    cra_presenter_code: str = Field(default="999", pattern=r"^\d{3}$")
    cra_presenter_name: str | None = None
    protest_default_species: str | None = None
    whatsapp_verify_token: SecretStr | None = None  # answers Meta's subscription check

    # The local SMTP and provider sandbox (only when a channel is not configured).
    sandbox_url: str | None = None
    sandbox_smtp_port: int | None = None

    # The credit bureau's gateway for PEFIN remessa files (legal.escalation.bureau).
    # Empty: the local bureau sandbox on loopback (`regua up` and `regua escalation run`
    # start it and publish its address in `bureau_sandbox_url`).
    bureau_url: str | None = None
    bureau_logon: str = "REGUA001"  # the informant's logon, in the remessa's header
    bureau_password: SecretStr | None = None  # HTTP Basic password for the gateway
    bureau_sandbox_url: str | None = None

    # The dialer's SIP trunk: calls go to sip:<number>@<host:port of the trunk URI>.
    # Empty: no trunk; with `dialer_demo` the dialer calls its built-in loopback peer.
    sip_trunk_uri: str | None = None
    sip_trunk_user: str | None = None
    sip_trunk_password: SecretStr | None = None
    sip_trunk_register: bool = False  # REGISTER to the trunk (most trunks only challenge)
    sip_caller_id: str = "regua"
    # In order of preference; codecs not named are disabled.
    sip_codecs: str = "PCMA/8000,PCMU/8000"
    dialer_demo: bool = False
    dialer_workers: int = Field(default=2, ge=1, le=200)  # line-worker processes
    dialer_sip_port: int = Field(default=5260, ge=1024, le=65000)  # worker i: port + i
    dialer_rtp_port: int = Field(default=30000, ge=1024, le=60000)  # worker i: + 40 * i
    # Demo peers: debtor phones at port + i, agents' phones at port + 100 + j.
    dialer_demo_port: int = Field(default=5700, ge=1024, le=64000)
    # Days a call recording is kept when its tenant sets no period of its own.
    call_recording_retention_days: int = Field(default=180, ge=30, le=3650)

    @field_validator("sip_trunk_uri")
    @classmethod
    def _sip_uri(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if not value.startswith(("sip:", "sips:")) or "@" in value:
            raise ValueError("must be a sip:host[:port] URI (no user part)")
        return value

    @field_validator("database_url", "database_app_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        scheme = urlsplit(value).scheme
        if scheme not in {"postgresql", "postgres", "postgresql+asyncpg", "postgresql+psycopg"}:
            raise ValueError("must be a postgresql:// URL")
        return value

    @field_validator("broker_url")
    @classmethod
    def _broker_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if urlsplit(value).scheme not in {"amqp", "amqps", "redis", "rediss"}:
            raise ValueError("must be an amqp:// (RabbitMQ) or redis:// URL")
        return value

    @field_validator("s3_endpoint_url", "s3_public_endpoint_url", "public_url",
                     "zenvia_api_url", "whatsapp_api_url", "sandbox_url",
                     "bureau_url", "bureau_sandbox_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if urlsplit(value).scheme not in {"http", "https"}:
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for item in _split(value):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"not an address or network: {item!r}") from exc
        return value

    @field_validator("default_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("contact_caps")
    @classmethod
    def _caps(cls, value: dict[CapChannel, dict[CapKind, int]]
              ) -> dict[CapChannel, dict[CapKind, int]]:
        merged = {ch: dict(caps) for ch, caps in DEFAULT_CONTACT_CAPS.items()}
        for channel, caps in value.items():
            for kind, limit in caps.items():
                if limit < 0:
                    raise ValueError(f"{channel}.{kind} must be 0 or more")
                merged[channel][kind] = limit
        return merged

    @property
    def embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def embedded_broker(self) -> bool:
        return self.broker_url is None

    @property
    def embedded_s3(self) -> bool:
        return self.s3_endpoint_url is None

    @property
    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(item, strict=False)
                     for item in _split(self.trusted_proxies))

    def public_base_url(self) -> str:
        """Where people reach the web app (links in messages): REGUA_PUBLIC_URL, else the
        address `regua web` listens on."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def resolved_secret_key(self) -> str:
        """The signing/hashing key: configured, or generated once into the state folder."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        return _state_secret(self.state_dir, "secret_key")

    def resolved_contact_key(self) -> str:
        if self.contact_key_secret is not None:
            return self.contact_key_secret.get_secret_value()
        return _state_secret(self.state_dir, "contact_key")

    @property
    def email_sandboxed(self) -> bool:
        return self.smtp_host is None

    @property
    def sms_sandboxed(self) -> bool:
        return self.zenvia_api_token is None

    @property
    def whatsapp_sandboxed(self) -> bool:
        return self.whatsapp_access_token is None

    def resolved_zenvia_webhook_token(self) -> str:
        if self.zenvia_webhook_token is not None:
            return self.zenvia_webhook_token.get_secret_value()
        return _state_secret(self.state_dir, "zenvia_webhook_token")

    def resolved_whatsapp_app_secret(self) -> str:
        if self.whatsapp_app_secret is not None:
            return self.whatsapp_app_secret.get_secret_value()
        return _state_secret(self.state_dir, "whatsapp_app_secret")

    def resolved_pix_webhook_secret(self) -> str:
        if self.pix_webhook_secret is not None:
            return self.pix_webhook_secret.get_secret_value()
        return _state_secret(self.state_dir, "pix_webhook_secret")

    def resolved_whatsapp_verify_token(self) -> str:
        if self.whatsapp_verify_token is not None:
            return self.whatsapp_verify_token.get_secret_value()
        return _state_secret(self.state_dir, "whatsapp_verify_token")

    def resolved_app_password(self) -> str:
        if self.database_app_password is not None:
            return self.database_app_password.get_secret_value()
        return _state_secret(self.state_dir, "database_app_password")


def _split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _state_secret(state_dir: Path, name: str) -> str:
    """A random secret kept in the state folder, so restarts reuse it."""
    path = state_dir / "secrets" / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_urlsafe(32)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(value)
    tmp.chmod(0o600)
    tmp.replace(path)
    return value


def load_settings() -> Settings:
    """Build settings, turning a validation error into a message naming each variable."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"])
            lines.append(f"  REGUA_{field.upper()}: {error['msg']}")
        raise SettingsError("invalid configuration:\n" + "\n".join(lines)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
