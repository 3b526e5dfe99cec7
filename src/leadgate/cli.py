"""The ``leadgate`` command: thin Typer commands over the same services."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from leadgate.bootstrap import App, bootstrap, freeze_heap
from leadgate.config import Settings
from leadgate.domain.errors import InvalidConfig, LeadgateError

cli = typer.Typer(help="leadgate: capture, qualify, route and track leads.",
                  no_args_is_help=True, add_completion=False)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
config_cli = typer.Typer(help="Config as code: apply and export the whole setup.",
                         no_args_is_help=True)
user_cli = typer.Typer(help="Console and API users.", no_args_is_help=True)
import_cli = typer.Typer(help="Bulk import.", no_args_is_help=True)
source_cli = typer.Typer(help="Lead sources and their API keys.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")
cli.add_typer(config_cli, name="config")
cli.add_typer(user_cli, name="user")
cli.add_typer(import_cli, name="import")
cli.add_typer(source_cli, name="source")
token_cli = typer.Typer(help="Personal API tokens.", no_args_is_help=True)
cli.add_typer(token_cli, name="token")
score_cli = typer.Typer(help="Learned lead scoring: train, list, switch on.",
                        no_args_is_help=True)
cli.add_typer(score_cli, name="score")
suppress_cli = typer.Typer(help="Do-not-contact lists (phones, emails, domains).",
                           no_args_is_help=True)
cli.add_typer(suppress_cli, name="suppress")

out = Console()
err = Console(stderr=True)

DbOpt = Annotated[str | None, typer.Option(
    "--db", help="Database URL or SQLite file path (default: LEADGATE_DATABASE_URL or "
    "./leadgate.db).")]


def settings_for(db: str | None, **overrides: Any) -> Settings:
    """The settings; refused ones (e.g. a weak secret in production) end the command
    with one line saying why, not a traceback."""
    from pydantic import ValidationError

    from leadgate.config import settings_problem

    if db:
        overrides["database_url"] = db if "://" in db else f"sqlite:///{db}"
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err.print(f"error: {settings_problem(exc)}", markup=False, highlight=False,
                  soft_wrap=True)
        raise typer.Exit(2) from None


_opened: list[App] = []


@cli.callback()
def _root(ctx: typer.Context) -> None:
    """leadgate: capture, qualify, route and track leads."""
    ctx.call_on_close(_close_opened)


def _close_opened() -> None:
    while _opened:
        _opened.pop().close()


def open_app(db: str | None, *, migrate: bool = True, **overrides: Any) -> App:
    """Build the application for one command; its connections close with the command."""
    app = bootstrap(settings_for(db, **overrides), migrate=migrate)
    _opened.append(app)
    return app


def fail(exc: LeadgateError) -> None:
    err.print(f"[red]error:[/red] {exc.message}" if not isinstance(exc, InvalidConfig)
              else "[red]error:[/red] the configuration was refused:")
    if isinstance(exc, InvalidConfig):
        for path, msg in exc.errors:
            err.print(f"  {path}: {msg}" if path else f"  {msg}")
    raise typer.Exit(2)


@db_cli.command("upgrade")
def db_upgrade(db: DbOpt = None) -> None:
    """Create or upgrade the schema to the newest migration."""
    from leadgate.store.migrate import current

    app = open_app(db)
    out.print(f"database at revision {current(app.engine)}")


@db_cli.command("rebuild-loads")
def db_rebuild_loads(db: DbOpt = None) -> None:
    """Recompute every agent's live load (open leads, caps, outcomes) from history."""
    from leadgate.services import loads, snapshot

    app = open_app(db)
    with app.uow() as uow:
        infos = {a.id: a.agent for a in snapshot.current(uow.session).agents.values()}
        n = loads.rebuild(uow.session, infos, app.clock())
        uow.commit()
    out.print(f"rebuilt the loads of {n} agents")


#: How long an idle keep-alive connection stays open. uvicorn's default (5 s) is
#: shorter than what clients and load balancers keep idle connections for (60 s and
#: more): a client reusing a connection the server is closing at that moment gets a
#: connection error with no answer. Longer than the usual balancer idle timeout.
KEEP_ALIVE_SECONDS = 75
#: how uvicorn runs the API: warnings only (its access log was off at that level, but
#: the fields of each line were still worked out per request), and no ``server``
#: header (nothing to gain from telling clients what serves them)
UVICORN: dict[str, Any] = {"log_level": "warning", "timeout_graceful_shutdown": 5,
                           "timeout_keep_alive": KEEP_ALIVE_SECONDS, "access_log": False,
                           "server_header": False}


@cli.command()
def serve(db: DbOpt = None,
          host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
          worker: Annotated[bool, typer.Option(help="Run the job worker in-process.")] = True,
          ) -> None:
    """Run the API, the web console and (by default) a job worker in one process."""
    import uvicorn

    from leadgate.api.app import create_app

    app = open_app(db)
    if app.engine.dialect.name == "postgresql":
        # the capture thread holds the flow's routing lock across its round trips, and
        # after each answer waits for the GIL while the event loop parses and qualifies
        # requests: up to the 5 ms default switch interval each time. 0.5 ms measured
        # +25-40 % leads/s with 2 processes; on SQLite (nothing held across processes)
        # it only cost CPU.
        sys.setswitchinterval(0.0005)
    api = create_app(app=app, worker=worker)
    # Everything made so far (modules, phone and e-mail metadata, the app) lives as
    # long as the process: frozen out of the cyclic garbage collector, a full
    # collection no longer walks it. Measured under load on SQLite: full collections
    # of 110-235 ms (the p99 of capture) became 15-25 ms; p99 297 -> 88 ms.
    freeze_heap()
    out.print(f"leadgate serving on http://{host}:{port} (database: {app.engine.url.drivername})")
    uvicorn.run(api, host=host, port=port, **UVICORN)


@cli.command()
def worker(db: DbOpt = None,
           threads: Annotated[int, typer.Option(
               min=0, max=64, help="Jobs run at once; 0 = LEADGATE_WORKER_THREADS or "
                                   "4 on PostgreSQL, 1 on SQLite.")] = 0) -> None:
    """Run an extra background job worker (as many as you like, on one database)."""
    import threading

    from leadgate.services import handlers
    from leadgate.services.jobs import Worker, default_threads
    from leadgate.services.wake import Listener, pg_dsn

    app = open_app(db)
    n = threads or app.settings.worker_threads or default_threads(app.engine.dialect.name)
    out.print(f"leadgate worker running ({n} thread{'s' if n != 1 else ''}); Ctrl-C to stop")
    event = threading.Event()
    dsn = pg_dsn(app.engine)
    if dsn is not None:  # woken at once by commits in other processes
        Listener(dsn, event).start()
    w = Worker(app.uow, app.clock, event, app.settings.worker_poll_seconds,
               periodic=[(handlers.RETRY_EVERY_SECONDS, handlers.schedule_queue_retry)],
               threads=n)
    # as serve: the start-up heap frozen out of the garbage collector, so a full
    # collection (every job thread and the pinger's event loop wait for it) is short
    freeze_heap()
    with contextlib.suppress(KeyboardInterrupt):
        w.run_forever()


@cli.command()
def demo(db: Annotated[str, typer.Option("--db", help="SQLite file or database URL.")] =
         "leadgate-demo.db",
         host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
         port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
         serve_it: Annotated[bool, typer.Option("--serve/--no-serve",
                                                help="Serve after seeding.")] = True) -> None:
    """Seed a demo workspace and serve it: API, console and worker on one port."""
    from leadgate.services import demo as demo_service

    app = open_app(db)
    try:
        info = demo_service.seed(app)
    except LeadgateError as exc:
        fail(exc)
        return
    out.print("[bold green]leadgate demo workspace ready[/bold green]")
    out.print(f"  console:    http://{host}:{port}/console  (API docs at /docs)")
    for email, password, role in info.users:
        out.print(f"  login:      {email} / {password}  ({role})")
    out.print(f"  source key: {info.source_key}  (source '{info.source}')")
    out.print("  try:")
    out.print(f"    curl -s -X POST http://{host}:{port}/v1/leads -H 'Authorization: Bearer "
              f"{info.source_key}' -H 'Content-Type: application/json' -d "
              "'{\"first_name\":\"Asha\",\"phone\":\"+91 98123 45678\",\"city\":\"Mumbai\","
              "\"product\":\"health\"}'", soft_wrap=True)
    if serve_it:
        import uvicorn

        from leadgate.api.app import create_app

        uvicorn.run(create_app(app=app), host=host, port=port, **UVICORN)


@config_cli.command("apply")
def config_apply(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                                      help="The YAML setup file.")],
                 db: DbOpt = None) -> None:
    """Apply a YAML setup file. It is validated as a whole first; a file with any
    error changes nothing. Applying the same file twice changes nothing."""
    from leadgate.services import configure

    app = open_app(db)
    try:
        data, lines = configure.load_yaml(file.read_text(encoding="utf-8"), file.name)
        with app.uow() as uow:
            report = configure.apply(uow, data, app.clock(), lines=lines, actor="cli")
    except LeadgateError as exc:
        fail(exc)
        return
    table = Table("entity", "key", "change")
    for entity, key, action in report.changes:
        table.add_row(entity, key, action)
    out.print(table)
    out.print(f"{report.changed} change(s) applied")
    for key, secret in report.source_keys.items():
        out.print(f"[yellow]new API key for source {key} (shown once):[/yellow] {secret}")


@config_cli.command("export")
def config_export(db: DbOpt = None,
                  output: Annotated[Path | None, typer.Option("-o", "--output",
                                                              help="Write to this file.")] = None
                  ) -> None:
    """Export the whole setup as YAML (API keys are never exported)."""
    from leadgate.services import configure

    app = open_app(db)
    with app.reader() as uow:
        text = configure.dump_yaml(configure.export(uow))
    if output:
        output.write_text(text, encoding="utf-8")
        err.print(f"written to {output}")
    else:
        sys.stdout.write(text)


@user_cli.command("create")
def user_create(email: Annotated[str, typer.Argument(help="Login email.")],
                role: Annotated[str, typer.Option(help="admin, manager, agent or buyer.")
                                ] = "manager",
                password: Annotated[str, typer.Option(prompt=True, hide_input=True,
                                                      confirmation_prompt=True,
                                                      help="At least 8 characters.")] = "",
                agent: Annotated[str | None, typer.Option(
                    help="Agent key this user works as (required for role agent).")] = None,
                buyer: Annotated[str | None, typer.Option(
                    help="Buyer key this user buys for (required for role buyer).")] = None,
                name: Annotated[str | None, typer.Option(help="Display name.")] = None,
                db: DbOpt = None) -> None:
    """Create a console/API user with a role."""
    from leadgate.services import accounts

    app = open_app(db)
    try:
        with app.uow() as uow:
            user = accounts.create_user(uow, email, password, role, app.clock(), name=name,
                                        agent_key=agent, buyer_key=buyer)
            uow.commit()
            out.print(f"user {user.email} created with role {user.role}")
    except LeadgateError as exc:
        fail(exc)


@user_cli.command("deactivate")
def user_deactivate(email: Annotated[str, typer.Argument(help="Login email.")],
                    db: DbOpt = None) -> None:
    """Deactivate a user: their console sessions end and API tokens stop at once."""
    from leadgate.services import accounts

    app = open_app(db)
    try:
        with app.uow() as uow:
            gone = accounts.deactivate_user(uow, email)
    except LeadgateError as exc:
        fail(exc)
        return
    out.print(f"user {email} deactivated; {gone['sessions']} session(s) ended, "
              f"{gone['tokens']} token(s) revoked")


@token_cli.command("create")
def token_create(email: Annotated[str, typer.Argument(help="The user's login email.")],
                 name: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
                 expires_days: Annotated[int | None, typer.Option(
                     help="Stop working after this many days (default: never).")] = None,
                 db: DbOpt = None) -> None:
    """Create a personal API token for a user (their first one, typically)."""
    from leadgate.services import accounts

    app = open_app(db)
    try:
        with app.uow() as uow:
            user = accounts.user_by_email(uow, email)
            secret = accounts.create_token(uow, user, name, app.clock(),
                                           expires_days=expires_days)
            uow.commit()
    except LeadgateError as exc:
        fail(exc)
        return
    out.print(f"API token {name!r} for {email} (shown once):", highlight=False)
    sys.stdout.write(secret + "\n")


@source_cli.command("rotate-key")
def source_rotate(key: Annotated[str, typer.Argument(help="Source key.")],
                  db: DbOpt = None) -> None:
    """Issue a new API key for a source; the old one stops working at once."""
    from leadgate.services import accounts

    app = open_app(db)
    try:
        with app.uow() as uow:
            secret = accounts.rotate_source_key(uow, key)
            uow.commit()
    except LeadgateError as exc:
        fail(exc)
        return
    out.print(f"new API key for source {key} (shown once): {secret}")


@import_cli.command("leads")
def import_leads(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                                      help="CSV or .xlsx file.")],
                 source: Annotated[str, typer.Option("--source", help="Source key.")],
                 report: Annotated[Path | None, typer.Option(
                     help="Where to write rejected rows (default FILE.rejected.csv).")] = None,
                 db: DbOpt = None) -> None:
    """Import leads through the full pipeline with a progress bar and a report of
    rejected rows with their reasons."""
    from leadgate.services import importer

    app = open_app(db)
    try:
        _, rows, count = importer.read_rows(file.name, file.read_bytes())
        with Progress(TextColumn("importing"), BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn(), console=err, transient=False,
                      disable=not err.is_terminal and count < 1) as bar:
            task = bar.add_task("rows", total=count)
            result = importer.import_rows(app.uow, source, rows, app.clock,
                                          progress=lambda n: bar.advance(task, n))
    except LeadgateError as exc:
        fail(exc)
        return
    table = Table("outcome", "rows")
    for status, n in sorted(result.statuses.items()):
        table.add_row(status, str(n))
    out.print(table)
    if result.reasons:
        reasons = Table("reason", "rows")
        for code, n in sorted(result.reasons.items()):
            reasons.add_row(code, str(n))
        out.print(reasons)
    if result.rejected:
        path = report or file.with_suffix(".rejected.csv")
        result.write_rejects(path)
        out.print(f"{len(result.rejected)} rejected row(s) written to {path}")
    out.print(f"imported {result.total} row(s)")


CampaignOpt = Annotated[str, typer.Option("--campaign", help="Campaign key.")]


@score_cli.command("train")
def score_train(campaign: CampaignOpt,
                activate: Annotated[bool, typer.Option(
                    "--activate/--no-activate", help="Switch the new model on.")] = False,
                seed: Annotated[int, typer.Option(help="Seed of the train/test split.")] = 0,
                db: DbOpt = None) -> None:
    """Train a model on the campaign's won/lost leads; prints held-out AUC (against
    the rule score's AUC on the same split) and calibration."""
    from leadgate.services import scoring

    app = open_app(db)
    try:
        with app.uow() as uow:
            r = scoring.train(uow, campaign, app.clock(), activate=activate, seed=seed)
    except ImportError:
        err.print("[red]error:[/red] training needs scikit-learn: pip install 'leadgate[ml]'")
        raise typer.Exit(2) from None
    except LeadgateError as exc:
        fail(exc)
        return
    rule = f"{r['rule_auc']:.3f}" if r["rule_auc"] is not None else "n/a (no scoring rules)"
    out.print(f"model v{r['version']} for {campaign}: trained on {r['n_train']} outcomes, "
              f"tested on {r['n_test']}")
    out.print(f"held-out AUC: model {r['auc']:.3f}, rule score {rule}; Brier {r['brier']:.3f}")
    table = Table("predicted", "observed", "leads")
    for b in r["calibration"]:
        table.add_row(f"{b['predicted']:.2f}", f"{b['observed']:.2f}",
                      str(b["count"]))
    out.print(table)
    out.print("switched on" if activate else
              f"not switched on: leadgate score activate --campaign {campaign} "
              f"--version {r['version']}")


@score_cli.command("activate")
def score_activate(campaign: CampaignOpt,
                   version: Annotated[int | None, typer.Option(
                       help="Model version; omit to switch learned scoring off.")] = None,
                   db: DbOpt = None) -> None:
    """Switch a trained model on for a campaign (or off)."""
    from leadgate.services import scoring

    app = open_app(db)
    try:
        with app.uow() as uow:
            scoring.activate(uow, campaign, version)
    except LeadgateError as exc:
        fail(exc)
        return
    out.print(f"model v{version} switched on" if version else "learned scoring switched off")


@score_cli.command("list")
def score_list(campaign: CampaignOpt, db: DbOpt = None) -> None:
    """The campaign's trained models and their held-out metrics."""
    from leadgate.services import scoring

    app = open_app(db)
    try:
        with app.reader() as uow:
            models = scoring.list_models(uow, campaign)
    except LeadgateError as exc:
        fail(exc)
        return
    table = Table("version", "active", "AUC", "rule AUC", "Brier", "outcomes", "created")
    for r in models:
        table.add_row(str(r["version"]), "yes" if r["active"] else "", f"{r['auc']:.3f}",
                      f"{r['rule_auc']:.3f}" if r["rule_auc"] is not None else "",
                      f"{r['brier']:.3f}", str(r["n_train"] + r["n_test"]), r["created_at"])
    out.print(table)


def _cli_principal() -> Any:
    from leadgate.services.principal import Principal

    return Principal(kind="user", name="cli", role="admin")


def _add_suppressions(values: list[str], reason: str | None, region: str | None,
                      db: str | None) -> None:
    from leadgate.services import suppressions

    app = open_app(db)
    try:
        with app.uow() as uow:
            r = suppressions.add(uow, _cli_principal(), values, app.clock(), reason=reason,
                                 default_region=region)
    except LeadgateError as exc:
        fail(exc)
        return
    out.print(f"{r['added']} added, {r['already_listed']} already listed")


@suppress_cli.command("add")
def suppress_add(values: Annotated[list[str], typer.Argument(help="Phones, emails, domains.")],
                 reason: Annotated[str | None, typer.Option(help="Why.")] = None,
                 region: Annotated[str | None, typer.Option(
                     help="Country for national phone numbers, e.g. IN.")] = None,
                 db: DbOpt = None) -> None:
    """Add entries to the do-not-contact list."""
    _add_suppressions(values, reason, region, db)


@suppress_cli.command("import")
def suppress_import(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                                         help="One entry per line, or a CSV "
                                                         "whose first column is the entry.")],
                    reason: Annotated[str | None, typer.Option(help="Why.")] = None,
                    region: Annotated[str | None, typer.Option(
                        help="Country for national phone numbers, e.g. IN.")] = None,
                    db: DbOpt = None) -> None:
    """Import a do-not-contact list from a file (all or nothing)."""
    import csv

    lines = file.read_text(encoding="utf-8-sig").splitlines()
    header = [h.strip().lower() for h in next(csv.reader(lines[:1]), [])]
    if "value" in header:  # a CSV with a value column (and optionally a kind column)
        values = [f"{row['kind'].strip()}:{row['value'].strip()}"
                  if row.get("kind") and row["kind"].strip() else (row.get("value") or "")
                  for row in csv.DictReader(lines, fieldnames=header)][1:]
    else:  # one entry per line (first column)
        values = [r[0] for r in csv.reader(lines) if r and r[0].strip()]
    _add_suppressions(values, reason, region, db)


@cli.command()
def simulate(flow: Annotated[str, typer.Option(
                 "--flow", help="A flow key (its draft) or a YAML file with one flow.")],
             leads: Annotated[Path | None, typer.Option(
                 "--leads", exists=True, dir_okay=False,
                 help="CSV of leads (fields as columns; optional created_at).")] = None,
             since: Annotated[str, typer.Option(
                 help="Replay the history of this period, e.g. 30d or 12h.")] = "30d",
             db: DbOpt = None) -> None:
    """Replay leads through a draft flow with the current team setup and compare
    per agent and per rule with what actually happened."""
    import yaml

    from leadgate.services import flows as flow_service
    from leadgate.services import importer

    app = open_app(db)
    now = app.clock()
    try:
        with app.reader() as uow:
            if Path(flow).is_file():
                spec = yaml.safe_load(Path(flow).read_text(encoding="utf-8"))
                if not isinstance(spec, dict) or "key" not in spec:
                    raise InvalidConfig("the flow file must be a mapping with a 'key'")
                parsed = flow_service.validate_spec(uow, str(spec["key"]), spec)
                label = f"file {flow}"
            else:
                parsed, _ = flow_service.flow_for(uow, flow, "draft")
                label = "draft"
            if leads is not None:
                _, rows, _count = importer.read_rows(leads.name, leads.read_bytes())
                history = []
                for row in rows:
                    at = importer.row_time(row.pop(importer.TIME_COLUMN, None)) or now
                    history.append(({k: v for k, v in row.items() if v not in ("", None)},
                                    at, None))
            else:
                history = flow_service.history(uow, parsed.key, _duration(since), now)
            with Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(),
                          TimeRemainingColumn(), console=err) as bar:
                task = bar.add_task("leads", total=len(history))
                report = flow_service.simulate(uow, parsed, history, now, label=label,
                                               progress=lambda n: bar.advance(task, n))
    except LeadgateError as exc:
        fail(exc)
        return
    table = Table("agent", "simulated", "actual", "difference")
    for row in report["per_agent"]:
        table.add_row(row["agent"], str(row["simulated"]), str(row["actual"]),
                      f"{row['difference']:+d}")
    out.print(table)
    rules = Table("rule", "leads")
    for rule, n in report["per_rule"].items():
        rules.add_row(rule, str(n))
    out.print(rules)
    out.print(f"{report['leads']} lead(s); {report['changed_owner']} would change owner; "
              f"{report['nobody']['count']} would find nobody")


def _duration(text: str) -> Any:
    from datetime import timedelta

    units = {"d": "days", "h": "hours", "m": "minutes", "w": "weeks"}
    try:
        return timedelta(**{units[text[-1]]: float(text[:-1])})
    except (KeyError, ValueError, IndexError):
        raise typer.BadParameter(f"{text!r} is not a duration like 30d, 12h or 2w") from None


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
