"""The one schema, as numbered migrations shared by the SQLite and PostgreSQL stores."""

from __future__ import annotations

__all__ = ["MIGRATIONS", "RETENTION", "ROLLUPS", "statements"]

Statement = str | dict[str, str]
"""One statement for both stores (`{json}` and `{real}` name each one's types), or one
per store name where their SQL differs."""

MIGRATIONS: list[tuple[int, list[Statement]]] = [
    (
        1,
        [
            "CREATE TABLE IF NOT EXISTS records ("
            " id TEXT PRIMARY KEY, kind TEXT NOT NULL, group_key TEXT NOT NULL DEFAULT '',"
            " status TEXT NOT NULL, created_at {real} NOT NULL, latency_ms {real},"
            " cost_usd {real}, technique TEXT, owner TEXT, doc {json} NOT NULL)",
            "CREATE INDEX IF NOT EXISTS records_kind_created"
            " ON records (kind, created_at DESC, id DESC)",
            "CREATE INDEX IF NOT EXISTS records_kind_group_created"
            " ON records (kind, group_key, created_at DESC, id DESC)",
            "CREATE INDEX IF NOT EXISTS records_kind_status_created"
            " ON records (kind, status, created_at DESC, id DESC)",
            "CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value {json} NOT NULL)",
            "CREATE TABLE IF NOT EXISTS samples (resolution TEXT NOT NULL, ts {real} NOT NULL,"
            " doc {json} NOT NULL, PRIMARY KEY (resolution, ts))",
        ],
    ),
]

MIGRATIONS.append(
    (
        2,
        [
            "ALTER TABLE records ADD COLUMN lease_until {real}",
            "CREATE INDEX IF NOT EXISTS records_pending ON records (kind, status, owner, created_at)",
        ],
    )
)

MIGRATIONS.append(
    (
        3,
        [
            "CREATE INDEX IF NOT EXISTS records_kind_group_status_created"
            " ON records (kind, group_key, status, created_at DESC, id DESC)",
        ],
    )
)

MIGRATIONS.append(
    (
        4,
        [
            "ALTER TABLE records ADD COLUMN category TEXT",
            "ALTER TABLE records ADD COLUMN provider TEXT",
            {
                "sqlite": "UPDATE records SET category = json_extract(doc, '$.category'),"
                " provider = json_extract(doc, '$.metrics.provider') WHERE kind = 'task'",
                "postgresql": "UPDATE records SET category = doc->>'category',"
                " provider = doc#>>'{metrics,provider}' WHERE kind = 'task'",
            },
        ],
    )
)


def statements(version: list[Statement], store: str) -> list[str]:
    """A migration's statements as the store named `store` runs them."""
    types = {"sqlite": ("TEXT", "REAL"), "postgresql": ("JSONB", "DOUBLE PRECISION")}[store]
    return [
        (s if isinstance(s, str) else s[store])
        .replace("{json}", types[0])
        .replace("{real}", types[1])
        for s in version
    ]


# (source, target, bucket width in seconds)
ROLLUPS: list[tuple[str, str, float]] = [("raw", "minute", 60.0), ("minute", "hour", 3600.0)]

# how long each resolution is kept, in seconds
RETENTION: dict[str, float] = {"raw": 86_400.0, "minute": 7 * 86_400.0, "hour": 30 * 86_400.0}
