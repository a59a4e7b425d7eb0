"""Tables of the sync engine, on the metadata the web app's models share."""

from __future__ import annotations

from sqlalchemy import (
    false,
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Times are epoch milliseconds (UTC) as BigInteger: the device speaks ms, and one
# representation for device, server and effective time keeps the arithmetic plain.

devices = Table(
    "sync_devices",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", Integer, nullable=False, index=True),
    Column("label", String(120), nullable=False, default=""),
    Column("token_hash", String(64), unique=True),
    Column("token_expires_at", BigInteger),
    Column("registered_at", BigInteger, nullable=False),
    Column("last_seen_at", BigInteger),
    Column("last_push_at", BigInteger),
    Column("revoked_at", BigInteger),
    Column("revoked_by", Integer),
    Column("acked_through_seq", BigInteger, nullable=False, default=0),
    Column("build", String(64)),
    Column("clock_offset_ms", BigInteger),
    Column("pending_count", Integer),  # outbox size the device reported at its last push
    Column("user_agent", String(300)),
    # "device": made by a phone (holds `secret_hash`); "web" and "import": made by the server,
    # never accepted from a client.
    Column("kind", String(10), nullable=False, default="device", server_default="device"),
    Column("secret_hash", String(64)),  # SHA-256 of the secret the device made: re-registering proves it
    Column("session_id", String(64)),  # the sign-in session that last registered it (revocation ends it)
)

device_users = Table(
    "sync_device_users",
    metadata,
    Column("device_id", String(36), ForeignKey("sync_devices.id"), primary_key=True),
    Column("user_id", Integer, primary_key=True),
    Column("first_seen_at", BigInteger, nullable=False),
)

events = Table(
    "sync_events",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("device_id", String(36), ForeignKey("sync_devices.id"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("type", String(80), nullable=False),
    Column("v", Integer, nullable=False),
    Column("occurred_at", BigInteger, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("effective_at", BigInteger, nullable=False),
    Column("actor_id", Integer, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("payload_hash", String(64), nullable=False),
    Column("attachments", JSON, nullable=False),
    Column("subject", String(120), index=True),
    Column("build", String(64)),
    Column("pushed_by", Integer),  # who delivered it: the token's person, or the office user who imported it
    UniqueConstraint("device_id", "seq", name="uq_sync_events_device_seq"),
    Index("ix_sync_events_order", "effective_at", "device_id", "seq"),
    Index("ix_sync_events_received", "received_at"),
)

# Events that could not be stored as events: unparsable, unknown type, id or seq
# collisions, handler crashes, forbidden actors. Kept raw; never block a queue.
quarantine = Table(
    "sync_quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String(36), nullable=False, index=True),
    Column("seq", BigInteger),
    Column("event_id", String(64), index=True),
    Column("payload_hash", String(64)),
    Column("reason", String(40), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("raw", Text, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Column("pushed_by", Integer),
)

# Flags, in one place (sync/flags.py): every exception a domain rule raised and every
# quarantined event, each resolvable with a note; the office's review queue.
exceptions = Table(
    "sync_exceptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(40), nullable=False, index=True),
    Column("event_id", String(36), index=True),
    Column("quarantine_id", Integer, ForeignKey("sync_quarantine.id")),
    Column("subject", String(120), index=True),
    Column("detail", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("resolved_at", BigInteger),
    Column("resolved_by", Integer),
    Column("resolution_note", Text),
    Column("resolution_event_id", String(36)),
    # The log no longer supports it (a late event re-judged this one): closed, and no longer the event's flag.
    Column("withdrawn", Boolean, nullable=False, default=False, server_default=false()),
)

# Change log behind pull: one row per change of a pulled entity; the cursor is a
# change number, never a timestamp.
changes = Table(
    "sync_changes",
    metadata,
    Column("change_no", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("entity", String(40), nullable=False),
    Column("key", String(120), nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("changed_at", BigInteger, nullable=False),
    Column("txid", BigInteger),  # PostgreSQL: the writing transaction (see sync/pull.py); NULL on SQLite
    Index("ix_sync_changes_entity_key", "entity", "key"),
    Index("ix_sync_changes_txid", "txid", "change_no"),
)

# Small facts the engine keeps about itself, e.g. how far the change log was compacted.
meta = Table(
    "sync_meta",
    metadata,
    Column("key", String(40), primary_key=True),
    Column("value", BigInteger, nullable=False),
)
