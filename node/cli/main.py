"""The `comuna` command line. Other tools script against these spellings.

Only the standard library is imported up front: `comuna post` usually hands its text
to the running node (node/handoff.py) and should start in a fraction of a second, so
each command imports what it needs (the settings alone take pydantic).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from node import handoff

if TYPE_CHECKING:
    from node.config import Settings

# node.config.Level, spelled out so that building the parser needs no pydantic
# (tests/test_cli_post.py holds the two together).
LEVELS = ["commune", "city", "territory", "nation", "thematic"]


def _settings(args: argparse.Namespace) -> Settings:
    from node.config import load_settings

    settings = load_settings(args.data_dir)
    os.environ["COMUNA_DATA_DIR"] = str(settings.data_dir)
    return settings


def _ask(prompt: str, default: str = "") -> str:
    from node.config import ConfigError

    if not sys.stdin.isatty():
        raise ConfigError(f"missing --{prompt.split()[0].lower()} (no terminal to ask on)")
    value = input(f"{prompt}{f' [{default}]' if default else ''}: ").strip()
    return value or default


def cmd_init(args: argparse.Namespace) -> int:
    from node.config import load_settings

    data_dir = Path(args.data_dir or os.environ.get("COMUNA_DATA_DIR") or "")
    if not str(data_dir) or str(data_dir) == ".":
        data_dir = Path(_ask("Data directory", "./data"))
    data_dir.mkdir(parents=True, exist_ok=True)
    existing = load_settings(data_dir)
    url = args.url or existing.url or _ask("URL of the node (public)", "http://localhost:8000")
    handle = args.handle or existing.handle or _ask("Handle of the body (e.g. comuna_el_maizal)")
    name = args.name or existing.name or _ask("Display name of the body")
    level = args.level or _ask("Level (" + ", ".join(LEVELS) + ")", "commune")
    from node.provision import init_node

    made = init_node(data_dir, url, handle, name, level)
    if made.refused:
        print(f"error: {made.refused}", file=sys.stderr)
        return 2
    if made.token is None:
        print(f"Node already initialised: @{made.handle}@{made.host}")
        return 0
    print(f"Node ready: @{made.handle}@{made.host} ({made.level})")
    print(f"Facilitator token (shown once, keep it safe): {made.token}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from node.storage.db import make_null_engine
    from node.storage.migrate import current_revision, upgrade

    settings = _settings(args)
    engine = make_null_engine(settings.effective_database_url)
    upgrade(engine)
    print(f"database at revision {current_revision(engine)}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from node.config import ConfigError

    settings = _settings(args)
    if not settings.is_initialised:
        if not sys.stdin.isatty():
            raise ConfigError(f"{settings.data_dir} holds no node: run `comuna init` first")
        init_args = argparse.Namespace(data_dir=str(settings.data_dir), url=None, handle=None,
                                       name=None, level=None)
        if cmd_init(init_args) != 0:
            return 2
    from node.storage.schema_head import url_is_current

    # Migrate in a child process so the serving process never loads Alembic; most
    # starts find the schema current and need no child at all.
    if not url_is_current(settings.effective_database_url):
        migrated = subprocess.run([sys.executable, "-m", "node.cli.main", "migrate",
                                   "--data-dir", str(settings.data_dir)], env=os.environ.copy())
        if migrated.returncode != 0:
            return migrated.returncode
    if args.no_background:
        os.environ["COMUNA_BACKGROUND"] = "0"
    from node.governance.passwords import warn_if_cheap

    warn_if_cheap()
    # Written before the web processes start, so each of them reads this run's token.
    local = handoff.write(settings.data_dir, args.host, args.port)

    def remove_then_die(sig: int, _frame: Any) -> None:
        # uvicorn shuts down gracefully on SIGTERM, then raises it again with the
        # handler it found (this one) so that the process still ends by the signal.
        handoff.remove(settings.data_dir, local)
        signal.signal(sig, signal.SIG_DFL)
        signal.raise_signal(sig)

    signal.signal(signal.SIGTERM, remove_then_die)
    options: dict[str, Any] = dict(
        factory=True, host=args.host, port=args.port,
        workers=args.workers or settings.workers, proxy_headers=False,
        log_level=os.environ.get("COMUNA_LOG_LEVEL", "info").lower(), access_log=False,
        timeout_graceful_shutdown=10)
    try:
        if options["workers"] > 1:
            uvicorn.run("node.app:app_factory", **options)
        else:
            from node.cli.server import serve

            if not serve(uvicorn.Config("node.app:app_factory", **options)):
                return 3  # as uvicorn exits when the app fails to start
    finally:
        handoff.remove(settings.data_dir, local)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from node.background import loops
    from node.context import build_context
    from node.outbox.delivery import DeliveryWorker

    settings = _settings(args)

    async def main() -> None:
        ctx = build_context(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        tasks = [DeliveryWorker(ctx).run(stop)]
        if not args.delivery_only:
            # Each imported at its first row (node/background.py), as in `serve`.
            tasks.extend(loops(ctx, stop))
        await asyncio.gather(*tasks)
        await ctx.fetcher.client.aclose()

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
    return 0


def _sync_ctx(args: argparse.Namespace) -> Any:
    from node.context import build_context

    return build_context(_settings(args))


def cmd_post(args: argparse.Namespace) -> int:
    data_dir = args.data_dir or os.environ.get("COMUNA_DATA_DIR")
    if data_dir:
        try:
            print(handoff.post_note(Path(data_dir), args.text))
            return 0
        except handoff.NotReached:
            pass  # no node took it, so nothing was written: write the rows here
        except (handoff.Refused, handoff.Unconfirmed) as exc:
            print(f"error: {exc}", file=sys.stderr)
            if isinstance(exc, handoff.Unconfirmed):
                print("check `comuna status` before posting again", file=sys.stderr)
            return 1
    return _post_here(args)


def _post_here(args: argparse.Namespace) -> int:
    """Publish from this process and wake the node's delivery workers (through the
    wake-up bus; one on another machine finds the rows at its next poll)."""
    from sqlmodel import Session

    from node.outbox.publish import post_note

    ctx = _sync_ctx(args)
    with Session(ctx.engine) as s:
        item = post_note(ctx.tx(s, ctx.primary), ctx.primary, args.text)
        activity_id = item.activity_id
        s.commit()
    print(activity_id)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from node.outbox.status import federation_status
    from node.storage.db import make_null_engine
    from node.storage.migrate import current_revision, head_revision

    settings = _settings(args)
    engine = make_null_engine(settings.effective_database_url)
    status = federation_status(engine)
    status["node"] = {"url": settings.url, "handle": settings.handle,
                      "level": settings.level.value,
                      "schema": current_revision(engine), "schema_head": head_revision()}
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    d, i = status["delivery"], status["inbox"]
    print(f"node       @{settings.handle} at {settings.url} ({settings.level.value})")
    print(f"schema     {status['node']['schema']} (latest {status['node']['schema_head']})")
    print(f"delivery   {d['queued']} queued, {d['delivered']} delivered, {d['failed']} failed")
    print(f"inbox      {i['queued']} queued, {i['done']} processed, {i['failed']} failed")
    for h in status["hosts"]:
        state = "BLOCKED" if h["blocked"] else (
            f"circuit open until {h['circuit_open_until']}" if h["circuit_open_until"] else "ok")
        print(f"  {h['host']}: {h['queued']} queued, {h['failed']} failed, "
              f"{h['delivered']} delivered; {state}")
        if h["last_error"]:
            print(f"    last error ({h['last_error_at']}): {h['last_error']}")
    return 0


def cmd_follow(args: argparse.Namespace, undo: bool = False) -> int:
    from sqlmodel import Session

    from node.activitypub.resolve import resolve_actor
    from node.governance import follows

    ctx = _sync_ctx(args)

    async def lookup() -> dict[str, Any]:
        try:
            return await resolve_actor(ctx, args.target)
        finally:
            await ctx.fetcher.client.aclose()

    doc = asyncio.run(lookup())
    with Session(ctx.engine) as s:
        if undo:
            done = follows.unfollow(ctx.tx(s, ctx.primary), ctx.primary, doc["id"], doc["inbox"])
            s.commit()
            print("unfollowed" if done else "was not following")
        else:
            follows.follow(ctx.tx(s, ctx.primary), ctx.primary, doc["id"], doc["inbox"])
            s.commit()
            print(f"follow request sent to {doc['id']}")
    return 0


def cmd_host(args: argparse.Namespace) -> int:
    from node.activitypub.directory import expire_host_keys
    from node.outbox.status import retry_failed, set_blocked
    from node.storage.db import make_null_engine

    # The running processes hear of a block or an expiry through the change feed; the
    # changing functions commit on their own, so each bump is a transaction of its own.
    engine = make_null_engine(_settings(args).effective_database_url)
    if args.action in ("block", "unblock"):
        set_blocked(engine, args.host, args.action == "block")
        print(f"{args.host}: {args.action}ed")
    elif args.action == "expire-keys":
        count = expire_host_keys(engine, args.host)
        print(f"{args.host}: {count} cached actors expired")
    elif args.action == "retry":
        print(f"{args.host}: {retry_failed(engine, args.host)} deliveries requeued")
    if args.action in ("unblock", "retry"):
        # The node's delivery workers sleep until told of work (or their idle poll).
        from node.storage.wakebus import WakeBus

        bus = WakeBus(_settings(args).data_dir / "run")
        bus.notify("delivery")
        bus.close()
    return 0


def cmd_invite(args: argparse.Namespace) -> int:
    from node.provision import invite

    base, raw = invite(_settings(args), args.role, args.days, args.body)
    print(f"Open in a browser to create the account: {base}/join/{raw}")
    print(f"invitation token: {raw}")
    print(f"or accept with: POST {base}/api/v1/invitations/{raw}/accept")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from node.demo.run import run

    return run(args)


def cmd_verify(args: argparse.Namespace) -> int:
    """Recompute a federated decision from its signed mandates and votes."""
    from node.errors import Problem
    from node.federations import escalation

    ctx = _sync_ctx(args)

    async def run() -> Any:
        try:
            return await escalation.verify(ctx, args.decision)
        finally:
            await ctx.fetcher.client.aclose()

    try:
        report = asyncio.run(run())
    except Problem as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 2
    print(f"decision {report.decision}")
    for line in report.lines:
        print(f"  {line}")
    c = report.counted
    print(f"recomputed: for {c.get('for')} · against {c.get('against')} · abstain "
          f"{c.get('abstain')} of {c.get('electorate')} → {report.outcome}")
    for problem in report.problems:
        print(f"  PROBLEM: {problem}")
    print("the decision holds" if report.holds else "the decision does NOT hold")
    return 0 if report.holds else 1


def cmd_backup(args: argparse.Namespace) -> int:
    from node.storage.backup import BackupError, backup

    try:
        made = backup(_settings(args), Path(args.out))
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"backup of @{made['node']['handle']} ({made['database']}, schema {made['schema']}) "
          f"written to {args.out}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from node.storage.backup import BackupError
    from node.storage.restore import restore

    data_dir = args.data_dir or os.environ.get("COMUNA_DATA_DIR")
    if not data_dir:
        print("error: name the new data directory with --data-dir", file=sys.stderr)
        return 2
    try:
        done = restore(Path(args.archive), Path(data_dir), args.database_url or "")
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"restored @{done['node']['handle']} ({done['node']['url']}) of {done['created_at']} "
          f"into {done['data_dir']}; {done['leases_freed']} leased rows queued again")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="comuna", description="Comuna node")
    sub = p.add_subparsers(dest="command", required=True)

    def with_dir(sp: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sp.add_argument("--data-dir", default=None,
                        help="node data directory (or COMUNA_DATA_DIR)")
        return sp

    sp = with_dir(sub.add_parser("init", help="create a node"))
    sp.add_argument("--url")
    sp.add_argument("--handle")
    sp.add_argument("--name")
    sp.add_argument("--level", choices=LEVELS)
    sp.set_defaults(func=cmd_init)

    sp = with_dir(sub.add_parser("serve", help="web server and background workers"))
    sp.add_argument("--host", default="127.0.0.1")
    sp.add_argument("--port", type=int, default=8000)
    sp.add_argument("--workers", type=int, default=0, help="web processes (default 1)")
    sp.add_argument("--no-background", action="store_true",
                    help="web only; run `comuna worker` for delivery")
    sp.set_defaults(func=cmd_serve)

    sp = with_dir(sub.add_parser("worker", help="delivery and inbox workers alone"))
    sp.add_argument("--delivery-only", action="store_true")
    sp.set_defaults(func=cmd_worker)

    sp = with_dir(sub.add_parser("post", help="publish a public notice to followers"))
    sp.add_argument("text")
    sp.set_defaults(func=cmd_post)

    sp = with_dir(sub.add_parser("status", help="delivery backlog and failures"))
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(func=cmd_status)

    sp = with_dir(sub.add_parser("migrate", help="bring the database schema up to date"))
    sp.set_defaults(func=cmd_migrate)

    sp = with_dir(sub.add_parser("follow", help="follow @handle@host or an actor URL"))
    sp.add_argument("target")
    sp.set_defaults(func=cmd_follow)
    sp = with_dir(sub.add_parser("unfollow", help="stop following"))
    sp.add_argument("target")
    sp.set_defaults(func=lambda a: cmd_follow(a, undo=True))

    sp = with_dir(sub.add_parser("invite", help="print a single-use invitation link"))
    sp.add_argument("--body", default=None, help="handle of the body (default: primary)")
    sp.add_argument("--role", default="facilitator",
                    choices=["member", "facilitator", "spokesperson"])
    sp.add_argument("--days", type=int, default=7)
    sp.set_defaults(func=cmd_invite)

    sp = with_dir(sub.add_parser(
        "verify", help="recompute a federated decision from its signed mandates and votes"))
    sp.add_argument("decision", help="local decision id, or the URI of the decision record")
    sp.set_defaults(func=cmd_verify)

    sp = sub.add_parser("demo", help="three communes and their city on this machine, "
                                     "with a story to look at")
    sp.add_argument("--dir", default=None,
                    help="keep the nodes' data here (an empty or new folder); by default "
                         "a temporary folder, removed on exit")
    sp.add_argument("--ready-file", default=None,
                    help="write the addresses and logins here as JSON once ready")
    sp.add_argument("--no-wait", action="store_true",
                    help="stop once the story is told instead of waiting for Ctrl-C")
    sp.set_defaults(func=cmd_demo)

    sp = with_dir(sub.add_parser("host", help="block, unblock, expire keys of, retry a host"))
    sp.add_argument("action", choices=["block", "unblock", "expire-keys", "retry"])
    sp.add_argument("host")
    sp.set_defaults(func=cmd_host)

    sp = with_dir(sub.add_parser("backup", help="settings, keys and database in one archive"))
    sp.add_argument("out", help="archive file to write (.tar.gz)")
    sp.set_defaults(func=cmd_backup)
    sp = with_dir(sub.add_parser("restore", help="a backup into a new data directory"))
    sp.add_argument("archive")
    sp.add_argument("--database-url", default=None,
                    help="empty database to restore into (required for PostgreSQL)")
    sp.set_defaults(func=cmd_restore)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
        return result
    except Exception as exc:
        said = _one_line(exc)
        if said is None:
            raise  # a bug: its traceback is what a report needs
        text, code = said
        print(f"error: {text}", file=sys.stderr)
        return code


def _one_line(exc: Exception) -> tuple[str, int] | None:
    """What a facilitator should read for a refusal or a setup problem, in one line, and
    the exit code (2: what was asked; 1: the database or the disk); None for anything
    else (a bug keeps its traceback)."""
    from sqlalchemy.exc import OperationalError

    from node.config import ConfigError
    from node.errors import Problem

    if isinstance(exc, ConfigError | ValueError):
        return str(exc), 2
    if isinstance(exc, Problem):
        return exc.detail, 2
    if isinstance(exc, OperationalError):
        return f"the database cannot be used: {getattr(exc, 'orig', exc)}", 1
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}", 1
    return None


if __name__ == "__main__":
    sys.exit(main())
