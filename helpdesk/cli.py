"""`flask` commands: users, tokens, seed data, the worker and a local server."""

import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from helpdesk.accounts.models import Role
from helpdesk.errors import DomainError
from helpdesk.extensions import db

users = AppGroup("users", help="Create users and API tokens.")


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


@users.command("create")
@click.option("--email", required=True, help="Sign-in address.")
@click.option("--password", help="At least 10 characters; prompted for when left out.")
@click.option("--role", type=click.Choice([r.value for r in Role]), default="customer")
@click.option("--name", help="Display name (default: the address's local part).")
@click.option("--organization", help="Organization name (created if new); customers only.")
def create_user_command(email, password, role, name, organization):
    """Create a user."""
    from sqlalchemy import select

    from helpdesk.accounts.services import create_user
    from helpdesk.contacts.models import Organization
    from helpdesk.contacts.services import create_organization

    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        org = None
        if organization:
            org = db.session.execute(
                select(Organization).where(Organization.name == organization.strip())
            ).scalar_one_or_none() or create_organization(organization)
        user = create_user(email, password, Role(role), name=name, organization=org)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        _fail(exc.message)
    click.echo(f"Created {user.role} {user.email}")


@users.command("token")
@click.option("--email", required=True)
@click.option("--name", default="API token", help="A label to recognize the token by.")
def token_command(email, name):
    """Print a new API token for a user (shown once; only its hash is stored)."""
    from helpdesk.accounts.services import create_token, find_user_by_email

    user = find_user_by_email(email)
    if user is None:
        _fail(f"no user with the address {email}")
    token = create_token(user, name)
    db.session.commit()
    click.echo(token)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Do what is due now, then exit.")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between due-work passes.")
@with_appcontext
def worker_command(burst, interval):
    """Run jobs: RQ (when REDIS_URL is set) and the due-work loop."""
    from helpdesk.worker import run_due_work_once, start_background_loop

    app = current_app._get_current_object()
    if burst:
        rq_ok = _rq_burst(app) if app.config.get("REDIS_URL") else True
        click.echo(_describe_due_work(run_due_work_once()))
        if not rq_ok:
            sys.exit(1)
        return
    stop = start_background_loop(app, interval)
    try:
        if app.config.get("REDIS_URL"):
            _rq_until_stopped(app, stop)
        else:
            click.echo("No REDIS_URL: running the due-work loop only (Ctrl-C stops).")
            stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()


def _rq_worker(app: Flask):
    from rq import SimpleWorker

    from helpdesk.jobs import queue

    q = queue(app)
    # SimpleWorker runs jobs in this process, inside the app context the CLI pushed.
    return SimpleWorker([q], connection=q.connection)


def _rq_burst(app: Flask) -> bool:
    """Run the queued RQ jobs; False (after saying so) when Redis cannot be reached."""
    from redis.exceptions import RedisError

    try:
        worker = _rq_worker(app)
        worker.work(burst=True)
        worker.refresh()  # the job counts are kept in Redis
    except RedisError as exc:
        click.echo(f"rq: Redis unreachable ({exc}); due work runs anyway", err=True)
        return False
    click.echo(f"rq: {worker.successful_job_count} job(s) done, {worker.failed_job_count} failed")
    return True


def _rq_until_stopped(app: Flask, stop) -> None:
    """Run RQ; while Redis is unreachable at start-up, retry (the due-work loop goes on)."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    delay = 1.0
    while not stop.is_set():
        try:
            _rq_worker(app).work()
            return
        except RedisConnectionError as exc:
            click.echo(f"rq: Redis unreachable ({exc}); trying again in {delay:.0f} s", err=True)
            stop.wait(delay)
            delay = min(delay * 2, 60.0)


def _describe_due_work(done: dict) -> str:
    periodic = ", ".join(done["periodic"]) or "none due"
    return f"due work: {done['outbox']} outbox item(s) run; periodic tasks: {periodic}"


@click.command("serve")
@click.option("--host", default="127.0.0.1", envvar="HOST", show_default=True)
@click.option("--port", default=5000, envvar="PORT", show_default=True, type=int)
@with_appcontext
def serve_command(host, port):
    """Serve the app for a local install, with the due-work loop in the same process."""
    from werkzeug.serving import run_simple

    from helpdesk.worker import start_background_loop

    app = current_app._get_current_object()
    start_background_loop(app)
    click.echo(f" * Helpdesk on http://{host}:{port}/ (Ctrl-C stops)")
    run_simple(host, port, app, threaded=True, use_reloader=False)


@click.command("seed")
@click.option(
    "--tickets", "count", default=1000, show_default=True, type=click.IntRange(1, 5_000_000)
)
@click.option("--seed", "random_seed", default=1, show_default=True, help="Random seed.")
@with_appcontext
def seed_command(count, random_seed):
    """Bulk realistic data for demos and benchmarks."""
    from helpdesk.seed import seed_tickets

    seed_tickets(count, random_seed=random_seed, echo=click.echo)


@click.command("demo")
@with_appcontext
def demo_command():
    """Create the demo accounts and tickets, once (prints the logins)."""
    from helpdesk.demo import create_demo_data

    create_demo_data(echo=click.echo)


def register_commands(app: Flask) -> None:
    from helpdesk.crm.cli import crm

    for command in (users, worker_command, serve_command, seed_command, demo_command, crm):
        app.cli.add_command(command)
    from helpdesk.mail.poll_cli import mail_cli, mailbox_cli  # `mail` gains `poll` there

    for group in (mail_cli, mailbox_cli):
        app.cli.add_command(group)
