#!/usr/bin/env python3
"""The task endpoints as users would write them instead: the REST benchmark's anchors.

    python scripts/peers.py sqlalchemy --db PATH --port N --secret S [--fill N]
    python scripts/peers.py asyncpg --db URL?schema=NAME --port N --secret S [--fill N]

`sqlalchemy`: FastAPI + SQLAlchemy 2 ORM, async, on aiosqlite in WAL mode, the way its
tutorials build a CRUD service. `asyncpg`: FastAPI + an asyncpg pool with hand-written
SQL, the fast idiomatic PostgreSQL service. Both serve `GET /api/v1/tasks` (limit,
agent_type, status), `GET /api/v1/tasks/{id}` and `POST /api/v1/tasks` with the same
camelCase JSON as devskyy_ws, check the same HS256 bearer token, and run under uvicorn
with uvloop and httptools, one process, as devskyy_ws does. They store the task and
answer; they run nothing (devskyy_ws also queues the task for its runner).

Bench-only: `pip install -e '.[bench]'` (FastAPI, uvicorn, SQLAlchemy, aiosqlite,
asyncpg, httptools).
"""

# No `from __future__ import annotations`: FastAPI, Pydantic and SQLAlchemy read the
# annotations at run time.
import argparse
import asyncio
import json
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import asyncpg
import jwt
import uvicorn
from benchproc import stored_tasks
from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from sqlalchemy import JSON, Boolean, DateTime, Float, Index, String, event, insert, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class Metrics(Camel):
    start_time: datetime | None = None
    end_time: datetime | None = None
    latency_ms: float | None = None
    cost_usd: float = 0.0
    tokens_used: int = 0
    provider: str | None = None


class TaskIn(Camel):
    agent_type: str
    prompt: str = Field(min_length=1, max_length=32768)
    parameters: dict[str, Any] = {}
    use_round_table: bool = False


class TaskOut(Camel):
    task_id: str
    agent_type: str
    prompt: str
    parameters: dict[str, Any] = {}
    status: str
    result: str | None = None
    error: str | None = None
    created_at: datetime
    progress: float = 0.0
    technique_used: str | None = None
    category: str | None = None
    use_round_table: bool = False
    competition_id: str | None = None
    metrics: Metrics = Metrics()


def build_app(kind: str, db: str, secret: str) -> FastAPI:
    bearer = HTTPBearer()

    def user(creds: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(creds.credentials, secret, algorithms=["HS256"])
        except jwt.PyJWTError as exc:
            raise HTTPException(401, "invalid token") from exc
        return claims

    backend = SqlAlchemyTasks(db) if kind == "sqlalchemy" else AsyncpgTasks(db)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await backend.open()
        yield
        await backend.close()

    app = FastAPI(lifespan=lifespan)
    Auth = Annotated[dict[str, Any], Depends(user)]

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "healthy"}

    @app.get("/api/v1/tasks", response_model=list[TaskOut])
    async def list_tasks(
        _: Auth,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        agent_type: str | None = None,
        status: str | None = None,
    ) -> list[dict[str, Any]]:
        return await backend.list(limit, agent_type, status)

    @app.get("/api/v1/tasks/{task_id}", response_model=TaskOut)
    async def get_task(task_id: str, _: Auth) -> dict[str, Any]:
        task = await backend.get(task_id)
        if task is None:
            raise HTTPException(404, "task not found")
        return task

    @app.post("/api/v1/tasks", response_model=TaskOut, status_code=201)
    async def submit_task(body: TaskIn, _: Auth) -> dict[str, Any]:
        task = {
            "task_id": f"task-{secrets.token_hex(6)}",
            **body.model_dump(),
            "status": "pending",
            "created_at": datetime.now(UTC),
        }
        await backend.add(task)
        return task

    return app


class Base(DeclarativeBase):
    pass


class Task(Base):
    __tablename__ = "tasks"
    task_id: Mapped[str] = mapped_column(String, primary_key=True)
    agent_type: Mapped[str] = mapped_column(String)
    prompt: Mapped[str] = mapped_column(String)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String)
    result: Mapped[str | None] = mapped_column(String, nullable=True)
    error: Mapped[str | None] = mapped_column(String, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    technique_used: Mapped[str | None] = mapped_column(String, nullable=True)
    category: Mapped[str | None] = mapped_column(String, nullable=True)
    use_round_table: Mapped[bool] = mapped_column(Boolean, default=False)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    __table_args__ = (
        Index("tasks_created", "created_at"),
        Index("tasks_agent_status_created", "agent_type", "status", "created_at"),
    )


class SqlAlchemyTasks:
    """The ORM service: a declarative model, an async engine, a session per request."""

    def __init__(self, path: str) -> None:
        self.engine = create_async_engine(f"sqlite+aiosqlite:///{path}")

        @event.listens_for(self.engine.sync_engine, "connect")
        def wal(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    async def open(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)

    async def close(self) -> None:
        await self.engine.dispose()

    def _out(self, task: Any) -> dict[str, Any]:
        doc = {c.key: getattr(task, c.key) for c in Task.__table__.columns}
        doc["metrics"] = {"latency_ms": doc.pop("latency_ms")}
        return doc

    async def list(
        self, limit: int, agent_type: str | None, status: str | None
    ) -> list[dict[str, Any]]:
        query = select(Task).order_by(Task.created_at.desc()).limit(limit)
        if agent_type is not None:
            query = query.where(Task.agent_type == agent_type)
        if status is not None:
            query = query.where(Task.status == status)
        async with self.sessions() as session:
            return [self._out(t) for t in (await session.scalars(query)).all()]

    async def get(self, task_id: str) -> dict[str, Any] | None:
        async with self.sessions() as session:
            task = await session.get(Task, task_id)
            return None if task is None else self._out(task)

    async def add(self, fields: dict[str, Any]) -> None:
        async with self.sessions() as session, session.begin():
            session.add(Task(**fields))

    async def fill(self, count: int) -> None:
        rows = list(stored_tasks(count))
        async with self.engine.begin() as conn:
            for start in range(0, count, 5000):
                await conn.execute(insert(Task), rows[start : start + 5000])


class AsyncpgTasks:
    """The hand-written service: a pool, plain SQL, a row per task."""

    COLUMNS = (
        "task_id, agent_type, prompt, parameters, status, result, error, created_at,"
        " progress, technique_used, category, use_round_table, latency_ms"
    )

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.schema = parse_qs(parts.query).get("schema", ["devskyy_peer"])[0]
        self.dsn = urlunsplit(parts._replace(query=""))
        self.pool: Any = None

    async def open(self) -> None:
        async def setup(conn: Any) -> None:
            await conn.set_type_codec(
                "jsonb", encoder=_json_dumps, decoder=_json_loads, schema="pg_catalog"
            )

        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
        finally:
            await conn.close()
        self.pool = await asyncpg.create_pool(
            self.dsn, min_size=10, max_size=10, init=setup,
            server_settings={"search_path": self.schema},
        )  # fmt: skip
        await self.pool.execute(
            "CREATE TABLE IF NOT EXISTS tasks (task_id text PRIMARY KEY, agent_type text NOT NULL,"
            " prompt text NOT NULL, parameters jsonb NOT NULL DEFAULT '{}', status text NOT NULL,"
            " result text, error text, created_at timestamptz NOT NULL, progress float8 NOT NULL"
            " DEFAULT 0, technique_used text, category text, use_round_table boolean NOT NULL"
            " DEFAULT false, latency_ms float8);"
            " CREATE INDEX IF NOT EXISTS tasks_created ON tasks (created_at);"
            " CREATE INDEX IF NOT EXISTS tasks_agent_status_created"
            " ON tasks (agent_type, status, created_at)"
        )

    async def close(self) -> None:
        await self.pool.close()

    @staticmethod
    def _out(row: Any) -> dict[str, Any]:
        doc = dict(row)
        doc["metrics"] = {"latency_ms": doc.pop("latency_ms")}
        return doc

    async def list(
        self, limit: int, agent_type: str | None, status: str | None
    ) -> list[dict[str, Any]]:
        where, args = [], []
        for column, value in (("agent_type", agent_type), ("status", status)):
            if value is not None:
                args.append(value)
                where.append(f"{column} = ${len(args)}")
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = await self.pool.fetch(
            f"SELECT {self.COLUMNS} FROM tasks {clause}"
            f" ORDER BY created_at DESC LIMIT ${len(args) + 1}",
            *args,
            limit,
        )
        return [self._out(r) for r in rows]

    async def get(self, task_id: str) -> dict[str, Any] | None:
        row = await self.pool.fetchrow(
            f"SELECT {self.COLUMNS} FROM tasks WHERE task_id = $1", task_id
        )
        return None if row is None else self._out(row)

    async def add(self, fields: dict[str, Any]) -> None:
        await self.pool.execute(
            "INSERT INTO tasks (task_id, agent_type, prompt, parameters, status, created_at,"
            " use_round_table) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            fields["task_id"],
            fields["agent_type"],
            fields["prompt"],
            fields["parameters"],
            fields["status"],
            fields["created_at"],
            fields["use_round_table"],
        )

    async def fill(self, count: int) -> None:
        names = list(next(stored_tasks(1)))
        rows = [tuple(t[n] for n in names) for t in stored_tasks(count)]
        async with self.pool.acquire() as conn:
            await conn.copy_records_to_table("tasks", records=rows, columns=names)


def _json_dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _json_loads(text: str) -> Any:
    return json.loads(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["sqlalchemy", "asyncpg"])
    parser.add_argument("--db", required=True, help="SQLite path or postgresql:// URL")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--secret", default="")
    parser.add_argument("--fill", type=int, default=0, help="store N tasks, then exit")
    args = parser.parse_args()
    if args.fill:
        backend = SqlAlchemyTasks(args.db) if args.kind == "sqlalchemy" else AsyncpgTasks(args.db)

        async def fill() -> None:
            await backend.open()
            await backend.fill(args.fill)
            await backend.close()

        asyncio.run(fill())
        return 0
    app = build_app(args.kind, args.db, args.secret)
    uvicorn.run(
        app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
        loop="uvloop", http="httptools",
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
