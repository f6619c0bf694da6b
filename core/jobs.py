"""Background jobs on Dramatiq.

- The broker comes from settings: RabbitMQ (`amqp://`) or Redis (`redis://`) when
  `REGUA_BROKER_URL` is set, otherwise Dramatiq's in-process stub broker, consumed by
  worker threads inside the same process (`regua up`).
- The tenant travels with a job: `TenantScopeMiddleware` copies the enqueuing
  context's scope into the message and activates it while the job runs.
- Jobs are sent after the transaction that asked for them commits (`enqueue_after_commit`),
  so a worker never races a transaction that may roll back.
- Jobs are sent by name (`"intake.import_portfolio"`): each area registers its actors in
  its `tasks.py`, which every process imports at start (portal/jobs.py lists them), so a
  service never imports its own tasks module and no import cycle arises.
- Periodic jobs are declared beside their actors with `periodic(...)`; the scheduler
  (core.maintenance) collects them. A daily job of a tenant runs once per tenant at the
  hour it names in the tenant's own time zone.
- `run_once` makes an effect idempotent: its key commits together with the effect.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, cast

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.errors import ActorNotFound
from dramatiq.middleware import AsyncIO, CurrentMessage, Middleware
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from core.db import Scope
from core.models import JobOnce
from core.settings import Settings, get_settings

log = logging.getLogger("regua.jobs")

P = ParamSpec("P")
R = TypeVar("R")

_current_scope: contextvars.ContextVar[Scope | None] = contextvars.ContextVar(
    "regua_job_scope", default=None
)
_OPTION = "regua_scope"


class TenantScopeMiddleware(Middleware):
    """Carry the enqueuer's tenant scope in the message and restore it in the worker."""

    def before_enqueue(self, broker: Any, message: Any, delay: Any) -> None:
        scope = _current_scope.get()
        if scope is not None and _OPTION not in message.options:
            message.options[_OPTION] = {
                "tenant_ids": sorted(str(t) for t in scope.tenant_ids),
                "agency": scope.agency,
            }

    def before_process_message(self, broker: Any, message: Any) -> None:
        raw = message.options.get(_OPTION)
        scope = None
        if raw is not None:
            scope = Scope(frozenset(uuid.UUID(t) for t in raw["tenant_ids"]), bool(raw["agency"]))
        message.options["_regua_token"] = _current_scope.set(scope)

    def after_process_message(self, broker: Any, message: Any, *,
                              result: Any = None, exception: Any = None) -> None:
        token = message.options.pop("_regua_token", None)
        if token is not None:
            _current_scope.set(None)

    after_skip_message = after_process_message


def build_broker(settings: Settings) -> dramatiq.Broker:
    url = settings.broker_url
    broker: dramatiq.Broker
    if url is None:
        broker = StubBroker()
        broker.emit_after("process_boot")
        log.info("jobs: in-process broker (set REGUA_BROKER_URL for RabbitMQ or Redis)")
    elif url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=url)
        log.info("jobs: RabbitMQ broker")
    else:
        from dramatiq.brokers.redis import RedisBroker

        broker = RedisBroker(url=url)  # type: ignore[no-untyped-call]
        log.info("jobs: Redis broker")
    broker.add_middleware(AsyncIO())
    broker.add_middleware(CurrentMessage())
    broker.add_middleware(TenantScopeMiddleware())
    return broker


broker = build_broker(get_settings())
dramatiq.set_broker(broker)


def actor(name: str, *, max_retries: int = 5, time_limit_ms: int = 60 * 60 * 1000,
          queue_name: str = "default") -> Callable[[Callable[P, R]], dramatiq.Actor[P, R]]:
    """Declare an actor named `<area>.<verb>`, retried with backoff, on our broker."""

    def wrap(fn: Callable[P, R]) -> dramatiq.Actor[P, R]:
        declare = dramatiq.actor(
            actor_name=name,
            broker=broker,
            queue_name=queue_name,
            max_retries=max_retries,
            min_backoff=1000,
            max_backoff=5 * 60 * 1000,
            time_limit=time_limit_ms,
        )
        return cast("dramatiq.Actor[P, R]", declare(fn))

    return wrap


@dataclass(frozen=True)
class Periodic:
    """A job the scheduler sends on its own: every `every`, or each day at `daily_at`.

    A daily job `per_tenant` is sent once for each active tenant at `daily_at` in the
    tenant's time zone, with the tenant's id as its argument and the tenant's scope in
    the message; other daily jobs run at `daily_at` UTC.
    """

    job: str
    every: dt.timedelta | None = None
    daily_at: dt.time | None = None
    per_tenant: bool = False

    def __post_init__(self) -> None:
        if (self.every is None) == (self.daily_at is None):
            raise ValueError(f"{self.job}: give either `every` or `daily_at`")
        if self.per_tenant and self.daily_at is None:
            raise ValueError(f"{self.job}: a per-tenant job runs daily (`daily_at`)")


PERIODIC: dict[str, Periodic] = {}


def periodic(job: str, *, every: dt.timedelta | None = None, daily_at: dt.time | None = None,
             per_tenant: bool = False) -> Periodic:
    """Declare a periodic job beside its actor (in the area's tasks.py)."""
    declared = Periodic(job, every, daily_at, per_tenant)
    PERIODIC[job] = declared
    return declared


def current_scope() -> Scope:
    """The scope of the job being processed (raises if a job carries none)."""
    scope = _current_scope.get()
    if scope is None:
        raise RuntimeError("this job was enqueued without a tenant scope")
    return scope


@contextmanager
def scoped(scope: Scope) -> Iterator[None]:
    """Jobs sent inside this block carry `scope` (for code outside a request)."""
    token = _current_scope.set(scope)
    try:
        yield
    finally:
        _current_scope.reset(token)


class UnknownJob(LookupError):
    """No actor of that name is registered (its area's tasks module was not imported)."""


def lookup(name: str) -> dramatiq.Actor[Any, Any]:
    """The actor registered under `name`."""
    try:
        found: dramatiq.Actor[Any, Any] = broker.get_actor(name)
    except ActorNotFound:
        raise UnknownJob(
            f"no job named {name!r}: is it declared in an area's tasks.py, and is that module"
            " in portal/jobs.py TASK_MODULES?") from None
    return found


def send(name: str, *args: Any, **kwargs: Any) -> None:
    """Send the job `name` now, carrying the current scope (see `scoped`)."""
    lookup(name).send(*args, **kwargs)


def enqueue_after_commit(session: AsyncSession, name: str, *args: Any,
                         delay: dt.timedelta | None = None, **kwargs: Any) -> None:
    """Send the job `name` with `args` once `session`'s transaction commits (to be run
    `delay` later, when given); drop it on rollback. An unknown name fails here, in the
    request, not later in the worker."""
    message_actor = lookup(name)
    sync: Session = session.sync_session
    pending: list[tuple[Any, tuple[Any, ...], dict[str, Any], int | None, Scope | None]]
    pending = sync.info.setdefault("regua_pending_jobs", [])
    if not pending:
        event.listen(sync, "after_commit", _flush_jobs, once=True)
        event.listen(sync, "after_rollback", _drop_jobs, once=True)
    delay_ms = max(0, int(delay.total_seconds() * 1000)) if delay is not None else None
    pending.append((message_actor, args, kwargs, delay_ms or None, sync.info.get("scope")))


def _flush_jobs(sync: Session) -> None:
    pending = sync.info.pop("regua_pending_jobs", [])
    if event.contains(sync, "after_rollback", _drop_jobs):
        event.remove(sync, "after_rollback", _drop_jobs)
    for message_actor, args, kwargs, delay_ms, scope in pending:
        token = _current_scope.set(scope)
        try:
            message_actor.send_with_options(args=args, kwargs=kwargs, delay=delay_ms)
        finally:
            _current_scope.reset(token)


def _drop_jobs(sync: Session) -> None:
    sync.info.pop("regua_pending_jobs", None)
    if event.contains(sync, "after_commit", _flush_jobs):
        event.remove(sync, "after_commit", _flush_jobs)


async def run_once(session: AsyncSession, key: str) -> bool:
    """True the first time `key` is claimed; the claim commits with the caller's transaction.

    A job that dies before commit leaves no claim, so its retry does the work again; a
    retry after commit finds the claim and skips, so the effect happens once.
    """
    result = await session.execute(
        insert(JobOnce).values(key=key).on_conflict_do_nothing().returning(JobOnce.key)
    )
    return result.scalar_one_or_none() is not None


def ping_broker() -> None:
    """Raise when the configured broker cannot be reached (the stub broker always can)."""
    client = getattr(broker, "client", None)
    if client is not None:  # Redis
        client.ping()
    elif not isinstance(broker, StubBroker):  # RabbitMQ: opening the channel connects
        getattr(broker, "channel")  # noqa: B009 - a property that connects


def start_worker(threads: int) -> dramatiq.Worker:
    worker = dramatiq.Worker(broker, worker_threads=threads)
    worker.start()
    return worker
