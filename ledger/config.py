"""Settings, from environment variables (docs/operations.md, Configuration), with sane
defaults.

With nothing configured the ledger runs embedded: SQLite under $LEDGER_HOME.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore")

    home: Path = Field(default=Path("var"), description="Folder for the embedded SQLite store.")
    database_url: str | None = Field(
        default=None, description="postgresql://user:password@host:port/db; unset: SQLite."
    )
    store_name: str = Field(
        default="ledger", pattern=r"^[a-z][a-z0-9_]{0,30}$",
        description="Prefix of the store's tables (ledger_events, ledger_tracking).",
    )
    db_pool_size: int = Field(default=5, ge=1)
    db_idle_in_transaction_timeout_s: int = Field(
        default=60, ge=0,
        description="PostgreSQL ends a session left idle inside a transaction this long (0: "
        "never). A process holding millions of facts can pause for seconds in a full "
        "garbage collection; the library's own default (5 s) cut such a process's writes.",
    )
    ingest_batch_size: int = Field(default=500, ge=1, le=10_000)
    allowed_lateness: timedelta = Field(
        default=timedelta(minutes=5),
        description="ISO 8601 duration: the event-time watermark trails the latest event time "
        "seen by this much before absent events are judged missing.",
    )
    obligation_due_soon: timedelta = Field(
        default=timedelta(hours=24), ge=timedelta(0),
        description="ISO 8601 duration: an obligation is announced due soon (8.7) once the "
        "event-time watermark is this close to its due time.",
    )
    sweep_interval_s: float = Field(
        default=5.0, gt=0, description="How often the engine sweeps when the ledger is quiet."
    )
    kafka_bootstrap: str = "127.0.0.1:19092"
    events_topic: str = "ledger.events"
    dlq_topic: str = "ledger.events.dlq"
    obligations_topic: str = Field(
        default="ledger.obligations", description="Reminder topic: every obligation opened, "
        "due soon, missed or escalated, relayed once from the ledger (8.7).",
    )
    # Tamper evidence: signed Merkle checkpoints; see ledger/application/sealing.py.
    checkpoint_every: int = Field(
        default=1000, ge=1,
        description="Sign a checkpoint once a tenant's ledger grew by this many entries...",
    )
    checkpoint_interval_s: float = Field(
        default=60.0, gt=0,
        description="...or when its last checkpoint is this old and entries were added since.",
    )
    signing_key_file: Path | None = Field(
        default=None, description="Ed25519 private key (PKCS#8 PEM) that signs checkpoints."
    )
    signing_key: SecretStr | None = Field(
        default=None, description="The private key itself (PEM, or base64 of its 32 raw bytes)."
    )
    signing_key_id: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="Key id written in checkpoints; default: the key's fingerprint.",
    )
    signing_required: bool = Field(
        default=False, description="Refuse to start without a signing key (production)."
    )
    log_origin_prefix: str = Field(
        default="ledger.local", pattern=r"^[^\s+]{1,200}$",
        description="Checkpoints are also C2SP signed notes; each tenant's log is named "
        "`<prefix>/<tenant>` (use your host name, e.g. ledger.example.com).",
    )
    witness_keys: str = Field(
        default="", description="Verifier keys of the witnesses whose cosignatures are kept "
        "(`ledger witness vkey` prints one), separated by commas.",
    )
    # Kafka ingest: consumers/; see docs/operations.md, "Kafka".
    kafka_group: str = Field(default="ledger", description="Consumer group of `ledger consume`.")
    kafka_partitions: int = Field(
        default=12, ge=1, description="Partitions of the events topic when it is created."
    )
    kafka_replication_factor: int = Field(default=1, ge=1)
    dlq_partitions: int = Field(default=3, ge=1, description="Partitions of the DLQ topic.")
    consume_batch_size: int = Field(
        default=2000, ge=1, le=50_000, description="Most messages per ledger transaction."
    )
    kafka_max_partition_fetch_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024, description="Most bytes a consumer fetches (and "
        "holds unrecorded) per partition at a time."
    )
    kafka_max_message_bytes: int = Field(
        default=1024 * 1024, ge=1024,
        description="Largest Kafka message `ledger consume` reads (value, key and header names "
        "and values, in bytes); a larger one is not parsed: it is dead-lettered (rule "
        "message_too_large) with its original bytes, and the rest of its batch is recorded.",
    )
    consume_linger_ms: int = Field(
        default=100, ge=0, description="How long a partition batch may wait to fill up."
    )
    kafka_session_timeout_ms: int = Field(
        default=10_000, ge=6_000, description="Group session timeout: how soon a dead "
        "consumer's partitions move to the others."
    )
    kafka_stall_after_s: float = Field(
        default=10.0, ge=5.0, description="A consumer or worker holding no partitions rejoins "
        "its group once partitions of its topic have belonged to nobody, or the group has "
        "not counted it, this long (consumers/group_health.py)."
    )
    # Limits on hostile or clumsy input; see docs/operations.md.
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1024,
        description="Largest HTTP request body; a larger one is a 413 problem, refused from "
        "its Content-Length or as soon as the streamed body passes the limit, before parsing.",
    )
    max_events_per_request: int = Field(
        default=1000, ge=1,
        description="Most events in one POST /v1/events; more is a 413 problem (type "
        "too-many-events) and nothing is recorded. Send larger batches as several requests.",
    )
    max_string_length: int = Field(
        default=65_536, ge=256,
        description="Longest string (in characters), key or value, anywhere in an event; a "
        "longer one is refused per event (rule string_too_long), on every ingest path.",
    )
    future_time_tolerance: timedelta = Field(
        default=timedelta(minutes=5),
        description="ISO 8601 duration: an event whose time is further ahead of the service's "
        "clock is refused (rule time_in_future), on every ingest path. At most "
        "LEDGER_ALLOWED_LATENESS keeps the watermark from ever passing the clock.",
    )
    token_cache_size: int = Field(
        default=10_000, ge=1,
        description="Most API token records the server keeps cached (least recently used "
        "go first); unknown tokens are cached too, so this bounds what bogus ones cost.",
    )
    metrics_port: int = Field(
        default=9464, ge=0, le=65535,
        description="Port of `ledger consume`'s /metrics (0: any free port; taken: any free).",
    )
    # Derivation workers (`ledger work`, docs/decisions/0012-derivation-workers.md).
    work_mode: Literal["embedded", "kafka"] = Field(
        default="embedded", description="embedded: `ledger serve` derives in-process and "
        "`ledger work` follows the store's log; kafka: `ledger work` processes are a consumer "
        "group on the entries topic and `ledger serve` only reads and ingests (chosen "
        "explicitly: a Kafka address alone does not mean workers are deployed).",
    )
    work_group: str = Field(default="ledger-workers", description="Consumer group of "
                            "`ledger work` on the entries topic.")
    work_project: bool = Field(
        default=True, description="Kafka mode: the `ledger work` member holding partition 0 "
        "also keeps the read models current; false when a `ledger projections follow` "
        "process does (the views then use a core of their own).",
    )
    entries_topic: str = Field(default="ledger.entries", description="Topic committed ledger "
                               "entries are relayed to, keyed by tenant (wakes the workers).")
    quarantine_after: int = Field(
        default=3, ge=1, description="Failures of a stage on one case before the case is "
        "quarantined for that stage (`ledger quarantine list|retry`).",
    )
    engine_batch_size: int = Field(
        default=2000, ge=1, le=100_000, description="Entries of one tenant a worker derives "
        "per batch. Between batches it takes in other tenants' wake-ups, so smaller batches "
        "answer a tenant that just posted sooner, at a cost in throughput.",
    )
    engine_cache_tenants: int = Field(
        default=1000, ge=0, description="Settled tenants (nothing due) a worker keeps in "
        "memory beyond those with work; others are rebuilt from the ledger on demand.",
    )
    engine_cache_cases: int = Field(
        default=20_000, ge=0, description="Settled cases (nothing due) a worker keeps in "
        "memory across its tenants, beyond its open ones; the least recently used others are "
        "set aside on local disk (LEDGER_ENGINE_SPILL_DIR) and brought back when news "
        "reaches them.",
    )
    engine_spill_dir: Path | None = Field(
        default=None, description="Directory for the set-aside cases' file (a private cache "
        "of each worker process, removed when it ends); default: the system's temporary "
        "directory.",
    )
    projection_cache_tenants: int = Field(
        default=1000, ge=1, description="Tenants the case-chains view keeps in memory "
        "(their facts); the least recently used beyond them are dropped and replayed from "
        "the ledger when next needed. Keep it above the tenants active at once.",
    )
    projection_cache_cases: int = Field(
        default=20_000, ge=0, description="Settled cases the case-chains view keeps in "
        "memory across its tenants, beyond its open ones; the least recently used others are "
        "set aside on local disk (LEDGER_ENGINE_SPILL_DIR) and brought back when an entry "
        "touches them.",
    )
    engine_live: bool = Field(
        default=True, description="`ledger work` also judges deadlines of quiet tenants "
        "against the wall clock (minus LEDGER_ALLOWED_LATENESS); false: event time only, "
        "so verdicts are a pure function of the ledger (replays and reconciliation tests).",
    )
    min_position_wait_s: float = Field(
        default=5.0, ge=0, description="Longest a GET with `min_position` waits for derivation "
        "and the read models to reach it before answering 503 with Retry-After.",
    )
    # Logs of every process (cli/root.py configures them) and the HTTP API's errors.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", description="Least severe log records written (DEBUG ... CRITICAL)."
    )
    log_format: Literal["json", "text"] = Field(
        default="json", description="json: one JSON object per line on stderr (for log "
        "collectors); text: plain lines for a person at a terminal."
    )
    retry_after_s: int = Field(
        default=1, ge=0, description="Seconds the HTTP API tells a client to wait "
        "(`Retry-After`) before sending again a request the store could not take (503)."
    )
    # Customer policy rules (CEL): limits at definition (rule_too_complex beyond them) and
    # evaluation in worker processes; see ledger/domain/responsibility/rules.py.
    rule_max_length: int = Field(default=4096, ge=16, description="Longest rule, in characters.")
    rule_max_depth: int = Field(
        default=32, ge=1, description="Most brackets, parentheses and braces open at once."
    )
    rule_max_nodes: int = Field(
        default=512, ge=1, description="Most identifiers, literals and operators in a rule."
    )
    rule_max_path_depth: int = Field(
        default=16, ge=1, description="Most selections in one field path (payload.a.b is 2)."
    )
    rule_max_comprehension_depth: int = Field(
        default=2, ge=0, description="Most all/exists/exists_one/map/filter inside each other."
    )
    rule_max_literal_items: int = Field(
        default=256, ge=1, description="Most items in one list or map literal of a rule."
    )
    rule_max_cost: int = Field(
        default=1_000_000, ge=1, description="Largest static cost estimate: nodes weighted by "
        "how often the comprehensions around them run (a literal's size, else "
        "LEDGER_RULE_ASSUMED_ITERATIONS)."
    )
    rule_assumed_iterations: int = Field(
        default=100, ge=1, description="Iterations assumed, in the cost estimate, for a "
        "comprehension over a payload value."
    )
    rule_workers: int = Field(
        default=2, ge=1, description="Worker processes that evaluate policy rules."
    )
    rule_budget_ms: int = Field(
        default=200, ge=1, description="CPU time a rule worker may spend on one evaluation "
        "(time it waits for a core is not counted, so a busy machine does not change a "
        "verdict); past it the worker is killed and the rule 'could not be evaluated within "
        "budget'."
    )
    rule_wall_cap_ms: int = Field(
        default=10_000, ge=1, description="Wall time one rule evaluation may take however "
        "little CPU it got (a worker stopped or starved for ever); past it the worker is "
        "killed and the rule 'could not be evaluated within budget (wall-time cap ...)'. "
        "Keep it far above LEDGER_RULE_BUDGET_MS."
    )
    rule_memory_mb: int = Field(
        default=512, ge=0, description="Address space of a rule worker process (0: no cap)."
    )
    rule_cache_size: int = Field(
        default=10_000, ge=1, description="Rule outcomes kept per (rule, payload digest)."
    )

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _log_case(cls, value: object, info: ValidationInfo) -> object:
        """LEDGER_LOG_LEVEL=debug and LEDGER_LOG_FORMAT=JSON mean what they say."""
        if not isinstance(value, str):
            return value
        return value.upper() if info.field_name == "log_level" else value.lower()

    @field_validator("signing_key_file", "signing_key", "signing_key_id", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _one_signing_key(self) -> Settings:
        if self.signing_key_file is not None and self.signing_key is not None:
            raise ValueError("set LEDGER_SIGNING_KEY_FILE or LEDGER_SIGNING_KEY, not both")
        return self

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError("LEDGER_DATABASE_URL must be a postgresql:// URL")
        if not parts.password:
            raise ValueError("LEDGER_DATABASE_URL must carry a password; none is assumed")
        return value

    @property
    def sqlite_path(self) -> Path:
        return self.home / "ledger.sqlite"

    def eventsourcing_env(self) -> dict[str, str]:
        """The eventsourcing library's own variables, derived from ours."""
        if self.database_url is None:
            self.home.mkdir(parents=True, exist_ok=True)
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.sqlite_path),
                "SQLITE_LOCK_TIMEOUT": "30",
            }
        url = urlsplit(self.database_url)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": url.path.lstrip("/") or "ledger",
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or ""),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_POOL_SIZE": str(self.db_pool_size),
            "POSTGRES_MAX_OVERFLOW": str(self.db_pool_size),
            "POSTGRES_LOCK_TIMEOUT": "30",
            "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": str(
                self.db_idle_in_transaction_timeout_s),
        }
