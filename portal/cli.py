"""The `regua` command: every process and every operator task."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

import click

from core.settings import SettingsError, get_settings
from portal.jobs import load_tasks

log = logging.getLogger("regua")

# Processes that run until stopped log what they do; an operator command prints its
# answer alone unless asked for more (--verbose, or REGUA_LOG_LEVEL set).
SERVER_COMMANDS = frozenset({"web", "worker", "scheduler", "dialer", "up", "migrate"})


def _setup_logging(command: str | None, verbose: bool) -> None:
    settings = get_settings()
    chosen = verbose or command in SERVER_COMMANDS or "REGUA_LOG_LEVEL" in os.environ
    logging.basicConfig(
        level=settings.log_level if chosen else "WARNING",
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("botocore").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("pika").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: a line per SMTP verb


@click.group()
@click.option("--verbose", "-v", is_flag=True,
              help="Mostra o registro detalhado (logs) além da resposta.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Régua: plataforma de cobrança multi-credor."""
    try:
        _setup_logging(ctx.invoked_subcommand, verbose)
    except SettingsError as exc:
        click.echo(f"regua: {exc.code}", err=True)
        sys.exit(2)


def _services() -> Any:
    from core.runtime import Services

    services = Services(get_settings())
    services.start()
    return services


def _run_async(coro: Any) -> Any:
    return asyncio.run(coro)


def _operate(label: str, work: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run an operator command against the configured (or embedded) services.

    A domain error (bad CNPJ, unknown tenant...) becomes a one-line message and exit 1.
    """
    from core.errors import DomainError
    from core.runtime import migrate as run_migrate

    services = _services()
    try:
        if services.postgres is not None:  # a fresh embedded database needs its schema
            run_migrate(get_settings())
        load_tasks()  # the work may send jobs by name
        return _run_async(work())
    except DomainError as exc:
        click.echo(f"regua {label}: {exc}", err=True)
        sys.exit(1)
    finally:
        services.stop()


@cli.command()
def migrate() -> None:
    """Bring the database to the latest migration (roles, grants and policies included)
    and make sure the S3 bucket exists: what every process expects before it starts."""
    from core.runtime import get_storage
    from core.runtime import migrate as run_migrate

    services = _services()
    try:
        run_migrate(get_settings())
        get_storage().ensure_bucket()
    finally:
        services.stop()


def _uvicorn_server(port: int) -> Any:
    import uvicorn

    from portal.app import create_app

    settings = get_settings()
    # Bounded graceful shutdown: a request still in flight (a long poll, the worker's own
    # calls to the loopback sandbox) must not hold Ctrl-C up indefinitely.
    config = uvicorn.Config(create_app(), host=settings.host, port=port, log_level="warning",
                            lifespan="on", timeout_graceful_shutdown=5)
    return uvicorn.Server(config)


@cli.command()
@click.option("--port", type=int, default=None)
def web(port: int | None) -> None:
    """The web application (pages, API under /api/v1, OpenAPI at /schema)."""
    load_tasks()
    server = _uvicorn_server(port or get_settings().port)
    server.run()


def _start_scheduler(blocking: bool) -> Any:
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    from core.maintenance import start_scheduler

    scheduler = BlockingScheduler(timezone="UTC") if blocking else BackgroundScheduler(
        timezone="UTC"
    )
    start_scheduler(scheduler)
    return scheduler


@cli.command()
def scheduler() -> None:
    """Periodic enqueueing (cadences, reconciliation, clean-ups)."""
    load_tasks()
    _start_scheduler(blocking=True)


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


@cli.command()
def worker() -> None:
    """Background jobs: imports, cadence steps, channel sends, reports."""
    load_tasks()
    from core.jobs import start_worker

    if get_settings().embedded_broker:
        click.echo("regua worker: REGUA_BROKER_URL is not set; with the in-process broker "
                   "the worker runs inside `regua up`", err=True)
        sys.exit(2)
    running = start_worker(get_settings().worker_threads)
    log.info("worker: %d threads", get_settings().worker_threads)
    _resume_pending()
    _wait_for_signal()
    running.stop()


@cli.group(invoke_without_command=True)
@click.pass_context
def dialer(ctx: click.Context) -> None:
    """The SIP dialer: a coordinator pacing campaigns and its line-worker processes (with a
    subcommand: dialer tools)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = get_settings()
    if not settings.sip_trunk_uri and not settings.dialer_demo:
        log.info("dialer: no SIP trunk (REGUA_SIP_TRUNK_URI) and demo mode off "
                 "(REGUA_DIALER_DEMO); waiting idle")
        _wait_for_signal()
        return
    from dialer.engine.service import run

    _run_async(run(settings))
    log.info("dialer: stopped")


@dialer.command("simulate")
@click.option("--policy", type=click.Choice(["predictive", "progressive", "ratio", "vicidial"]),
              required=True)
@click.option("--ratio", "lines_per_agent", type=click.FloatRange(min=0), default=2.0,
              show_default=True, help="Lines per agent for --policy ratio.")
@click.option("--agents", type=click.IntRange(min=1), required=True)
@click.option("--answer-rate", type=click.FloatRange(0, 1), required=True)
@click.option("--ring-min", type=click.FloatRange(min=0), required=True)
@click.option("--ring-max", type=click.FloatRange(min=0), required=True)
@click.option("--no-answer-timeout", type=click.FloatRange(min=0, min_open=True),
              required=True)
@click.option("--talk-mean", type=click.FloatRange(min=0, min_open=True), required=True)
@click.option("--talk-sigma", type=click.FloatRange(min=0), required=True)
@click.option("--wrap", type=click.FloatRange(min=0), required=True)
@click.option("--hours", type=click.FloatRange(min=0, min_open=True), required=True)
@click.option("--seed", type=int, required=True)
@click.option("--abandon-target", type=click.FloatRange(0, 1), default=0.03, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def dialer_simulate(policy: str, lines_per_agent: float, agents: int, answer_rate: float,
                    ring_min: float, ring_max: float, no_answer_timeout: float,
                    talk_mean: float, talk_sigma: float, wrap: float, hours: float, seed: int,
                    abandon_target: float, as_json: bool) -> None:
    """Run a pacing policy against a synthetic campaign in simulated time."""
    from dialer.simulator import Campaign, simulate

    if ring_min > ring_max:
        raise click.BadParameter("deve ser no máximo --ring-max", param_hint="--ring-min")
    campaign = Campaign(agents=agents, answer_rate=answer_rate, ring_min=ring_min,
                        ring_max=ring_max, no_answer_timeout=no_answer_timeout,
                        talk_mean=talk_mean, talk_sigma=talk_sigma, wrap=wrap, hours=hours,
                        abandon_target=abandon_target)
    result = simulate(campaign, policy, seed, lines_per_agent=lines_per_agent).as_dict()
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(f"política: {result['policy']}")
    click.echo(f"ocupação: {result['occupancy']:.1%}")
    click.echo(f"taxa de abandono: {result['abandon_rate']:.2%} "
               f"({result['abandoned']} de {result['answered']} atendidas)")
    click.echo(f"discadas: {result['dialed']}")
    click.echo(f"espera média do agente: {result['agent_wait_mean_s']:.1f} s")


@dialer.command("retention")
@click.option("--tenant", "tenant_slug", required=True, help="The creditor's slug.")
@click.option("--days", type=int, default=None,
              help="Keep this tenant's call recordings this many days (30 to 3650).")
@click.option("--purge", is_flag=True,
              help="Delete the recordings past the period now (the nightly job's work).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def dialer_retention(tenant_slug: str, days: int | None, purge: bool, as_json: bool) -> None:
    """Show or set how long a tenant's call recordings are kept."""
    from portal.operator import recording_retention

    result = _operate("dialer retention",
                      lambda: recording_retention(tenant_slug, days, purge))
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(f"{result['tenant']}: gravações guardadas por {result['retention_days']} dias")
    if result["deleted"] is not None:
        click.echo(f"gravações vencidas apagadas agora: {result['deleted']}")


def _resume_pending() -> None:
    """Messages are not the source of truth: find imports a dead process left behind."""
    from core.jobs import send

    send("intake.resume")


def _child(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "portal.cli", *args])


def _stop_children(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@cli.command()
@click.option("--demo", is_flag=True, help="Create demo users, tenants and data (once).")
@click.option("--port", type=int, default=None, help="Web port (default 8000).")
def up(demo: bool, port: int | None) -> None:
    """Everything on one machine: web, worker, scheduler and dialer."""
    from core.channels.sandbox import start_for_port as start_sandbox
    from core.runtime import get_storage
    from core.runtime import migrate as run_migrate

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt  # SIGTERM during start-up: still run the clean-up below

    signal.signal(signal.SIGTERM, interrupted)
    from core.runtime import Services

    services = Services(get_settings())
    children: list[subprocess.Popen[bytes]] = []
    running_worker = background = sandbox = bureau = None
    try:
        services.start()
        port = port or get_settings().port
        sandbox = start_sandbox(get_settings(), port)
        from legal.escalation.bureau_sandbox import start as start_bureau

        bureau = start_bureau(get_settings())
        settings = get_settings()
        run_migrate(settings)
        get_storage().ensure_bucket()
        load_tasks()
        if demo:  # no trunk configured: the dialer calls its built-in loopback peers
            os.environ["REGUA_DIALER_DEMO"] = "true"
        children.append(_child("dialer"))
        if settings.embedded_broker:
            from core.jobs import start_worker

            running_worker = start_worker(settings.worker_threads)
            _resume_pending()
            background = _start_scheduler(blocking=False)
            log.info("worker and scheduler run in this process (in-process broker)")
        else:
            children += [_child("worker"), _child("scheduler")]
        logins = []
        if demo:  # after the workers: the demo's imports run on them
            from portal.demo import seed

            logins = _run_async(seed())
        phone = None
        if demo and not settings.sip_trunk_uri:
            from dialer.engine.demo import demo_phone_uri

            phone = demo_phone_uri("operador")
        _announce(settings.public_url or f"http://{settings.host}:{port}", logins, phone)
        _uvicorn_server(port).run()
    except KeyboardInterrupt:
        # Ctrl-C before the web server took over, or re-raised by it after its own
        # graceful shutdown: either way, stop everything below.
        pass
    finally:
        # A second Ctrl-C must not cut the clean-up short and leave servers behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        log.info("stopping")
        started = time.monotonic()
        try:
            if background is not None:
                background.shutdown(wait=False)
            if running_worker is not None:
                running_worker.stop(timeout=10_000)
            log.info("worker stopped (%.1f s)", time.monotonic() - started)
            _stop_children(children)
            log.info("dialer stopped (%.1f s)", time.monotonic() - started)
            if sandbox is not None:
                sandbox.stop()
            if bureau is not None:
                bureau.stop()
        finally:  # whatever failed above, the embedded servers are not left running
            services.stop()
    log.info("régua stopped (%.1f s)", time.monotonic() - started)


def _announce(url: str, logins: list[tuple[str, str, str]], phone: str | None) -> None:
    lines = ["", f"  Régua em {url}", ""]
    if logins:
        lines.append("  Acessos de demonstração:")
        width = max(len(e) for _, e, _ in logins)
        secret = max(len(p) for _, _, p in logins)
        for label, email, password in logins:
            lines.append(f"    {email.ljust(width)}  senha: {password.ljust(secret)}  ({label})")
        lines.append("")
        if phone:
            lines += [f"  Telefone do operador em Atendimento: {phone} (atende sozinho)", ""]
    lines.append("  Ctrl-C encerra tudo.")
    click.echo("\n".join(lines) + "\n", err=False)
    sys.stdout.flush()


@cli.group()
def tenant() -> None:
    """Creditor tenants."""


@tenant.command("create")
@click.option("--name", required=True, help="Legal name (razão social).")
@click.option("--cnpj", required=True)
@click.option("--state", default="SP", show_default=True, help="UF of the creditor.")
@click.option("--trade-name", default=None)
@click.option("--timezone", default=None, help="Default: REGUA_DEFAULT_TIMEZONE.")
@click.option("--slug", default=None)
@click.option("--json", "as_json", is_flag=True, help="Print the tenant as one JSON object.")
def tenant_create(name: str, cnpj: str, state: str, trade_name: str | None,
                  timezone: str | None, slug: str | None, as_json: bool) -> None:
    from portal.operator import create_tenant

    zone = timezone or get_settings().default_timezone
    created = _operate("tenant create",
                       lambda: create_tenant(name, cnpj, state, trade_name, zone, slug))
    if as_json:
        click.echo(json.dumps(created, default=str))
    else:
        click.echo(f"credor criado: {created['slug']} ({created['id']})")


@tenant.command("list")
@click.option("--json", "as_json", is_flag=True)
def tenant_list(as_json: bool) -> None:
    from portal.operator import list_tenants

    rows = _operate("tenant list", list_tenants)
    if as_json:
        click.echo(json.dumps(rows, default=str))
        return
    for row in rows:
        click.echo(f"{row['slug']:30} {row['cnpj']:16} {row['status']:9} {row['legal_name']}")


@cli.group()
def user() -> None:
    """Users."""


@user.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(
    ["admin", "supervisor", "agent", "legal", "creditor_admin", "creditor_viewer"]))
@click.option("--tenant", "tenant_slug", default=None,
              help="Creditor users: their tenant. Agency staff: a tenant they work "
                   "(repeat with commas).")
@click.option("--name", default="")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--json", "as_json", is_flag=True)
def user_create(email: str, role: str, tenant_slug: str | None, name: str,
                password_stdin: bool, as_json: bool) -> None:
    from portal.operator import create_user

    if not password_stdin:
        raise click.UsageError("pass the password on standard input with --password-stdin")
    password = sys.stdin.readline().rstrip("\r\n")
    created = _operate("user create",
                       lambda: create_user(email, role, tenant_slug, name, password))
    click.echo(json.dumps(created, default=str) if as_json else f"usuário criado: {email}")


@cli.group()
def audit() -> None:
    """The audit log."""


@audit.command("verify")
@click.option("--tenant", "tenant_slug", default=None, help="Only this tenant's chain.")
def audit_verify(tenant_slug: str | None) -> None:
    """Walk the hash chain(s) and name the first broken link."""
    from portal.operator import verify_audit

    reports = _operate("audit verify", lambda: verify_audit(tenant_slug))
    broken = False
    for report in reports:
        if report.ok:
            click.echo(f"ok      {report.chain}: {report.entries} entries")
        else:
            broken = True
            where = f"entry {report.broken_at_seq}"
            if report.broken_entry_id:
                where += f" (id {report.broken_entry_id})"
            click.echo(f"BROKEN  {report.chain}: at {where}: {report.reason}")
    sys.exit(1 if broken else 0)


@cli.group()
def portfolio() -> None:
    """Portfolio intake."""


@portfolio.command("import")
@click.option("--tenant", "tenant_slug", required=True, help="The creditor's slug.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--layout", default=None, help="A saved column layout of the tenant.")
@click.option("--mode", default="incremental", show_default=True,
              type=click.Choice(["incremental", "full", "settlement", "recall"]))
@click.option("--sheet", default=None, help="XLSX: the sheet to read (default: the first).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def portfolio_import(tenant_slug: str, file: str, layout: str | None, mode: str,
                     sheet: str | None, as_json: bool) -> None:
    """Import FILE for a tenant, the same way an upload through the portal does."""
    from portal.operator import import_portfolio

    result = _operate("portfolio import",
                      lambda: import_portfolio(tenant_slug, file, layout, mode, sheet))
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(_portfolio_lines(result))
    sys.exit(0 if result["status"] in ("done", "duplicate") else 1)


def _portfolio_lines(result: dict[str, Any]) -> str:
    """An import's answer in Portuguese: what happened, then its counters."""
    from tenants.intake import counters

    status = {"done": "concluída", "duplicate": "arquivo já importado: nada mudou",
              "failed": "recusada", "queued": "na fila", "running": "em andamento"}
    lines = [("Carteira", result["portfolio_id"]), ("Arquivo", result["file_name"]),
             ("Situação", status.get(result["status"], result["status"]))]
    if result["error"]:
        lines.append(("Motivo", result["error"]))
    if result["duplicate_of"]:
        lines.append(("Importado antes em", result["duplicate_of"]))
    lines += counters.shown(result)
    width = max(len(label) for label, _ in lines)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in lines)


@portfolio.command("errors")
@click.argument("portfolio_id")
@click.option("--warnings", is_flag=True, help="Print the warnings report instead.")
def portfolio_errors(portfolio_id: str, warnings: bool) -> None:
    """Print a portfolio's error report (CSV)."""
    from portal.operator import portfolio_report

    kind = "warnings" if warnings else "errors"
    body = _operate("portfolio errors", lambda: portfolio_report(portfolio_id, kind))
    sys.stdout.write(body.decode("utf-8-sig"))


@cli.group()
def payments() -> None:
    """Payments received: bank return files."""


@payments.command("import-return")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def payments_import_return(file: str, as_json: bool) -> None:
    """Import a CNAB 240 or CNAB 400 return file: settle the paid slips, report the rest."""
    from portal.payments_operator import import_return

    with open(file, "rb") as handle:
        data = handle.read()
    result = _operate("payments import-return", lambda: import_return(file, data))
    if as_json:
        click.echo(json.dumps(result))
    elif "error" in result:
        click.echo(f"Arquivo recusado: {result['error']}")
    else:
        labels = {"settled": "parcelas quitadas", "partial": "pagamentos parciais (não quitam)",
                  "overpaid": "pagamentos a maior", "duplicate": "já importados",
                  "unknown": "nosso número desconhecido", "not_payable": "parcela não pagável"}
        click.echo(f"{result['file']} ({result['layout']})")
        for key, label in labels.items():
            click.echo(f"  {label}: {result['counts'].get(key, 0)}")
    sys.exit(1 if "error" in result else 0)


@cli.group()
def protest() -> None:
    """Protest through the CRA: the day's remessa and the return files."""


@protest.command("remessa")
@click.option("--tenant", "tenant_slug", required=True, help="The creditor's slug.")
@click.option("--date", "day", default=None, help="YYYY-MM-DD (default: today, tenant's zone).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True),
              help="Where to write the remessa file.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def protest_remessa(tenant_slug: str, day: str | None, out: str, as_json: bool) -> None:
    """Write the day's remessa (layout 4.3): the fit queued titles go to `sent`."""
    from core.formatting import brl
    from portal.protest_operator import remessa

    at = _day(day)
    result = _operate("protest remessa", lambda: remessa(tenant_slug, at, out))
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    if result["file"]:
        again = " (já gerada hoje; mesmo arquivo)" if result["reused"] else ""
        click.echo(f"Remessa {result['file']}{again}: {result['titles']} títulos,"
                   f" {brl(result['total_amount'])} -> {result['out']}")
    else:
        click.echo("Nenhum título em condições de ir a protesto hoje; nenhum arquivo gerado.")
    for item in result["not_sent"]:
        click.echo(f"  não enviado {item['escalation_id']}: {'; '.join(item['reasons'])}")


@protest.command("import-return")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def protest_import_return(file: str, as_json: bool) -> None:
    """Read a confirmação or retorno file and update each title's state."""
    from portal.protest_operator import import_return

    with open(file, "rb") as handle:
        data = handle.read()
    result = _operate("protest import-return", lambda: import_return(file, data))
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
    elif "error" in result:
        click.echo(f"Arquivo recusado: {result['error']}")
    else:
        click.echo(f"{result['file']} ({result['kind']})")
        for t in result["titles"]:
            move = f"{t['from']} -> {t['to']}" if t["to"] else (t["from"] or "-")
            click.echo(f"  linha {t['line']} nosso número {t['our_number']}: {t['result']}"
                       f" ({move}) {t['reason']}")
        for problem in result["malformed"]:
            click.echo(f"  registro ilegível: {problem}")
    sys.exit(1 if "error" in result else 0)


@cli.group()
def compliance() -> None:
    """The compliance guard: may a debtor be contacted on a channel at a moment."""


def _moment(value: str) -> Any:
    """An ISO 8601 moment; one without an offset is UTC."""
    import datetime as dt

    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("data e hora inválida; use ISO 8601, "
                                 "ex.: 2026-12-07T10:00:00-03:00", param_hint="--at") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@compliance.command("check")
@click.option("--state", default=None, help="The debtor's UF (a debtor's own state wins).")
@click.option("--channel", required=True,
              type=click.Choice(["call", "sms", "whatsapp", "email", "letter"]))
@click.option("--at", "at_text", required=True, help="ISO 8601; without an offset, UTC.")
@click.option("--tenant", "tenant_slug", default=None, help="Apply this tenant's windows too.")
@click.option("--debtor", "debtor_id", type=click.UUID, default=None,
              help="Check every rule for this debtor.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as one JSON object.")
def compliance_check(state: str | None, channel: str, at_text: str, tenant_slug: str | None,
                     debtor_id: Any, as_json: bool) -> None:
    """With only a state: windows and holidays. With a debtor: every rule."""
    from core.compliance import guard
    from core.errors import DomainError
    from core.formatting import datetime_br

    at = _moment(at_text)

    def ask() -> Coroutine[Any, Any, guard.Answer]:
        return guard.answer(channel, at, state=state, tenant_slug=tenant_slug,
                            debtor_id=debtor_id)

    if tenant_slug is None and debtor_id is None:  # the calendar alone needs no database
        try:
            result = _run_async(ask())
        except DomainError as exc:
            click.echo(f"regua compliance check: {exc}", err=True)
            sys.exit(1)
    else:
        result = _operate("compliance check", ask)
    verdict = result.verdict
    if as_json:
        click.echo(json.dumps(verdict.as_json(result.zone), ensure_ascii=False))
    elif verdict.allowed:
        click.echo("permitido")
    else:
        from zoneinfo import ZoneInfo

        click.echo(f"bloqueado: {verdict.reason}")
        if verdict.next_allowed_at is not None:
            when = datetime_br(verdict.next_allowed_at, ZoneInfo(result.zone))
            click.echo(f"próximo horário permitido: {when} ({result.zone})")


@compliance.command("policy")
@click.option("--tenant", "tenant_slug", required=True, help="The creditor's slug.")
@click.argument("file", type=click.File("r", encoding="utf-8"), required=False)
@click.option("--clear", is_flag=True, help="Remove the tenant's own policy.")
def compliance_policy(tenant_slug: str, file: Any, clear: bool) -> None:
    """Set a tenant's own contact policy (windows, caps, quiet days) from a JSON FILE
    ('-': standard input); it only narrows the agency's rules. Prints the stored policy
    as one JSON object."""
    from core.compliance import policy

    if clear == (file is not None):
        raise click.UsageError("give a JSON FILE or --clear")
    try:
        raw = None if clear else json.load(file)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"JSON inválido: {exc.msg} (linha {exc.lineno})",
                                 param_hint="FILE") from None
    stored = _operate("compliance policy", lambda: policy.set_for_tenant(tenant_slug, raw))
    click.echo(json.dumps(stored, ensure_ascii=False))


@cli.group()
def score() -> None:
    """Segments and the collection score."""


@score.command("run")
@click.option("--tenant", "tenant_slug", required=True, help="The creditor's slug.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def score_run(tenant_slug: str, as_json: bool) -> None:
    """Compute the tenant's segments and scores now; print counts by band and segment."""
    from core.scoring.rules import SEGMENT_LABELS
    from core.scoring.service import METHOD_LABELS
    from portal.operator import score_tenant

    result = _operate("score run", lambda: score_tenant(tenant_slug))
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(f"Devedores com nota: {result['debtors']}"
               f" (método: {METHOD_LABELS[result['method']]})")
    for band, n in result["bands"].items():
        click.echo(f"  faixa {band}: {n}")
    for segment, n in result["segments"].items():
        click.echo(f"  {SEGMENT_LABELS[segment]}: {n}")


@cli.group()
def cadence() -> None:
    """The collection cadence (régua): load, export and run it."""


@cadence.command("load")
@click.option("--tenant", "tenant_slug", required=True, help="The creditor's slug.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--activate", is_flag=True, help="Make it the tenant's cadence for all debtors.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def cadence_load(tenant_slug: str, file: str, activate: bool, as_json: bool) -> None:
    """Add a version of the cadence in FILE (YAML) for a tenant."""
    from portal.operator import load_cadence

    result = _operate("cadence load", lambda: load_cadence(tenant_slug, file, activate))
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(f"régua carregada: versão {result['version']} ({result['cadence_id']})"
                   + (", ativa" if result["active"] else ""))


@cadence.command("export")
@click.option("--tenant", "tenant_slug", required=True, help="The creditor's slug.")
@click.option("--name", default=None, help="The cadence's name (default: the active one).")
def cadence_export(tenant_slug: str, name: str | None) -> None:
    """Print a cadence of the tenant as YAML."""
    from portal.operator import export_cadence

    sys.stdout.write(_operate("cadence export", lambda: export_cadence(tenant_slug, name)))


@cadence.command("run")
@click.option("--tenant", "tenant_slug", required=True, help="The creditor's slug.")
@click.option("--date", "day_text", required=True, help="YYYY-MM-DD, the tenant's local day.")
@click.option("--dry-run", is_flag=True, help="Show what would be planned; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
def cadence_run(tenant_slug: str, day_text: str, dry_run: bool, as_json: bool) -> None:
    """Plan a day of the tenant's cadence (idempotent) and send its messages."""
    import datetime as dt

    from portal.operator import run_cadence

    try:
        day = dt.date.fromisoformat(day_text)
    except ValueError:
        raise click.BadParameter("data inválida; use AAAA-MM-DD", param_hint="--date") from None
    result = _operate("cadence run", lambda: run_cadence(tenant_slug, day, dry_run))
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    click.echo(f"{'simulação de ' if dry_run else ''}{day.strftime('%d/%m/%Y')}: "
               f"{result['actions']} ações para {result['debtors']} devedores")
    for row in result["by_step"]:
        click.echo(f"  D{row['day']:+d} {row['channel']:9} planejadas {row['planned']:6}"
                   f"  bloqueadas {row['blocked']}")
    for reason, n in result["blocked_reasons"].items():
        click.echo(f"  bloqueio {reason}: {n}")


@cli.group()
def escalation() -> None:
    """Legal escalation: rules, bureau notices, listings and removals."""


@escalation.command("run")
@click.option("--tenant", "tenant_slug", required=True, help="The creditor's slug.")
@click.option("--date", "day_text", default=None,
              help="YYYY-MM-DD: run as of that day in the tenant's zone (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object.")
def escalation_run(tenant_slug: str, day_text: str | None, as_json: bool) -> None:
    """Evaluate the rules, send notices, list, remove and expire (idempotent)."""
    import datetime as dt

    from portal.operator import run_escalation

    try:
        day = dt.date.fromisoformat(day_text) if day_text else None
    except ValueError:
        raise click.BadParameter("data inválida; use AAAA-MM-DD", param_hint="--date") from None
    result = _operate("escalation run", lambda: run_escalation(tenant_slug, day))
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    opened = result["opened"]
    click.echo(f"{result['date']}: escalados {sum(opened.values())} (negativação"
               f" {opened['bureau']}, protesto {opened['protest']}, judicial"
               f" {opened['judicial']}); notificações {result['notices']}; negativados"
               f" {result['listed']}; baixas {result['removed']}; expirados {result['expired']};"
               f" cancelados {result['cancelled']}; baixas fora do prazo"
               f" {result['removals_overdue']}")
    for error in result["bureau_errors"]:
        click.echo(f"  bureau: {error}")


@cli.group()
def indexes() -> None:
    """Published index values (IPCA, Selic) that update debts."""


@indexes.command("load")
@click.argument("file", type=click.File("r", encoding="utf-8"))
def indexes_load(file: Any) -> None:
    """Load monthly values from FILE (index,month,value,source; see
    legal/data/indices.csv); a month already loaded is replaced."""
    from portal.operator import load_indexes

    text = file.read()
    result = _operate("indexes load", lambda: load_indexes(text))
    click.echo(json.dumps(result, ensure_ascii=False))


@cli.group()
def fees() -> None:
    """The agency's fee contract with a creditor: commission and the debtor's fee."""


def _print_fees(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    from core.models.ledger import BUCKET_LABELS

    if result["default"]:
        click.echo("Sem contrato salvo: comissão padrão.")
    for band in result["bands"]:
        days = (f"{band['min_days']} a {band['max_days']} dias" if band["max_days"] is not None
                else f"{band['min_days']} dias ou mais")
        rates = ", ".join(f"{BUCKET_LABELS[b]} {band[b]}%" for b in BUCKET_LABELS
                          if band.get(b) is not None)
        click.echo(f"Comissão, {days} de atraso na colocação: {rates}")
    click.echo("Pagamentos direto ao credor geram comissão: "
               + ("sim" if result["direct_payments_earn"] else "não"))
    fee = result["debtor_fee_pct"]
    click.echo("Honorários cobrados do devedor: "
               + (f"{fee}% sobre o saldo atualizado" if fee is not None else "não cobrados"))


@fees.command("show")
@click.option("--tenant", "tenant_slug", required=True, help="The creditor's slug.")
@click.option("--json", "as_json", is_flag=True, help="Print the contract as one JSON object.")
def fees_show(tenant_slug: str, as_json: bool) -> None:
    """Print a tenant's fee contract (the default commission until one is saved)."""
    from portal.operator import fee_contract

    _print_fees(_operate("fees show", lambda: fee_contract(tenant_slug, None)), as_json)


@fees.command("set")
@click.option("--tenant", "tenant_slug", required=True, help="The creditor's slug.")
@click.option("--band", "bands", multiple=True, metavar="DE-ATÉ:COMPONENTE=PCT,...",
              help="A commission band, e.g. 0-180:principal=10,interest=30 or "
                   "181-:principal=20 (repeat; replaces every band).")
@click.option("--debtor-fee", default=None, metavar="PCT",
              help="Fee charged to the debtor, % of the updated balance; 'none': not charged.")
@click.option("--direct-payments-earn/--direct-payments-do-not-earn", default=None,
              help="Whether payments made directly to the creditor earn commission.")
@click.option("--json", "as_json", is_flag=True, help="Print the contract as one JSON object.")
def fees_set(tenant_slug: str, bands: tuple[str, ...], debtor_fee: str | None,
             direct_payments_earn: bool | None, as_json: bool) -> None:
    """Change a tenant's fee contract; what is not given stays as it is."""
    from core.errors import DomainError
    from legal.fees import band_from_text
    from portal.operator import fee_contract

    changes: dict[str, Any] = {}
    if bands:
        try:
            changes["bands"] = [band_from_text(b) for b in bands]
        except DomainError as exc:
            click.echo(f"regua fees set: {exc}", err=True)
            sys.exit(1)
    if debtor_fee is not None:
        changes["debtor_fee_pct"] = None if debtor_fee.strip().lower() in ("none", "") \
            else debtor_fee
    if direct_payments_earn is not None:
        changes["direct_payments_earn"] = direct_payments_earn
    if not changes:
        raise click.UsageError("give --band, --debtor-fee or --direct-payments-earn")
    _print_fees(_operate("fees set", lambda: fee_contract(tenant_slug, changes)), as_json)


@cli.group()
def agreement() -> None:
    """Negotiation: simulate options and create agreements."""


def _day(value: str | None) -> Any:
    import datetime as dt

    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("data inválida; use AAAA-MM-DD", param_hint="--date") from None


@agreement.command("simulate")
@click.option("--tenant", "tenant_slug", required=True, help="The creditor's slug.")
@click.option("--debtor", "document", required=True, help="The debtor's CPF or CNPJ.")
@click.option("--date", "day", default=None, help="Reference date, YYYY-MM-DD (default: today).")
@click.option("--json", "as_json", is_flag=True, help="Print the options as a JSON list.")
def agreement_simulate(tenant_slug: str, document: str, day: str | None, as_json: bool) -> None:
    """The options the tenant's policy allows for the debtor's open debts."""
    from portal.operator import simulate_agreement

    at = _day(day)
    result = _operate("agreement simulate", lambda: simulate_agreement(tenant_slug, document, at))
    options = result["options"]
    if as_json:
        click.echo(json.dumps(options, ensure_ascii=False))
        return
    click.echo(f"Saldo atualizado em {result['at']}: R$ {result['updated_balance']}")
    for o in options:
        click.echo(f"{o['option']}. {o['label']}: total R$ {o['total']}, entrada"
                   f" R$ {o['down_payment']}, parcela R$ {o['installment_amount']},"
                   f" aprovação: {o['approval']}")
    for note in result["notes"]:
        click.echo(f"Observação: {note}")


@agreement.command("create")
@click.option("--tenant", "tenant_slug", required=True, help="The creditor's slug.")
@click.option("--debtor", "document", required=True, help="The debtor's CPF or CNPJ.")
@click.option("--option", "option", required=True, type=int, help="The simulated option's number.")
@click.option("--date", "day", default=None, help="Reference date, YYYY-MM-DD (default: today).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def agreement_create(tenant_slug: str, document: str, option: int, day: str | None,
                     as_json: bool) -> None:
    """Create an agreement on a simulated option (it then awaits approval or acceptance)."""
    from portal.operator import create_agreement

    at = _day(day)
    result = _operate("agreement create",
                      lambda: create_agreement(tenant_slug, document, option, at))
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
    else:
        click.echo(f"Acordo {result['agreement_id']} criado ({result['status']}).")


@agreement.command("slips")
@click.argument("agreement_id")
@click.option("--json", "as_json", is_flag=True, help="Print the slips as one JSON list.")
def agreement_slips(agreement_id: str, as_json: bool) -> None:
    """Issue (once) and send an agreement's PIX and boleto slips, and print them."""
    from portal.payments_operator import agreement_slips as run

    result = _operate("agreement slips", lambda: run(agreement_id))
    if as_json:
        click.echo(json.dumps(result))
        return
    for item in result:
        click.echo(f"Parcela {item['number']}  vence {item['due_date']}  R$ {item['amount']}\n"
                   f"  PIX: {item['pix_payload']}\n  Boleto: {item['boleto_line']}")


@cli.group()
def report() -> None:
    """Per-tenant reports: the monthly PDF, its e-mail, the aggregates' refresh."""


@report.command("monthly")
@click.option("--tenant", "tenant_slug", required=True, help="The creditor's slug.")
@click.option("--month", "month", required=True, help="YYYY-MM")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="The PDF file to write.")
def report_monthly(tenant_slug: str, month: str, out: str) -> None:
    """Write the creditor's monthly report for MONTH as a PDF."""
    from pathlib import Path

    from portal.reports_operator import monthly_pdf

    pdf = _operate("report monthly", lambda: monthly_pdf(tenant_slug, month))
    Path(out).write_bytes(pdf)
    click.echo(f"Relatório de {month} gravado em {out} ({len(pdf)} bytes).")


@report.command("send")
@click.option("--tenant", "tenant_slug", required=True, help="The creditor's slug.")
@click.option("--month", "month", required=True, help="YYYY-MM")
def report_send(tenant_slug: str, month: str) -> None:
    """E-mail MONTH's report to the creditor's users (once per user and month)."""
    from portal.reports_operator import send_monthly

    for sent in _operate("report send", lambda: send_monthly(tenant_slug, month)):
        state = "já enviado antes" if sent["already_sent"] else sent["status"]
        click.echo(f"{sent['recipient']}: {state}")


@report.command("refresh")
@click.option("--tenant", "tenant_slug", required=True, help="The creditor's slug.")
@click.option("--full", is_flag=True, help="Recompute every month, not only the changed.")
def report_refresh(tenant_slug: str, full: bool) -> None:
    """Bring the tenant's report figures up to date now."""
    from portal.reports_operator import refresh

    result = _operate("report refresh", lambda: refresh(tenant_slug, full))
    click.echo(json.dumps(result))


def main() -> None:
    cli(prog_name="regua")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
