"""Commands: `flask --app webapp demo`, `flask --app webapp create-user`."""

from __future__ import annotations

import click

from webapp.domain.roles import ALL_ROLES
from webapp.extensions import db


def register(app) -> None:
    """Add the Shopfloor commands to the `flask` command line."""

    @app.cli.command("demo")
    @click.option("--if-empty", is_flag=True, help="Load only when the database has no plant yet.")
    def demo(if_empty: bool) -> None:
        """Load the demo plant: workshops, route, parts, orders, 40 bins, two weeks of history."""
        from webapp.services import demo as demo_plant

        if not demo_plant.is_empty():
            if if_empty:
                click.echo("Database already has a plant; demo not loaded.")
                return
            raise click.ClickException("The database already has a plant. Use an empty database for the demo.")
        demo_plant.load(timezone=app.config["BABEL_DEFAULT_TIMEZONE"])
        click.echo("Demo plant loaded. Users: clerk, inspector, operator, receiver, office, director, keeper, "
                   "follower, admin; password: demo")

    @app.cli.command("compact-sync-log")
    @click.option("--days", default=30, show_default=True, help="Keep every change newer than this.")
    def compact_sync_log(days: int) -> None:
        """Shrink the pull change log; devices that have not pulled for `days` start over."""
        from sqlalchemy import func, select

        from sync import schema
        from sync.pull import compact
        from webapp.services.devices import now_ms

        c = schema.changes.c
        below = db.session.execute(
            select(func.max(c.change_no)).where(c.changed_at < now_ms() - days * 24 * 3600 * 1000)
        ).scalar()
        if below is None:
            click.echo("Nothing older than that.")
            return
        removed = compact(db.session, below)
        db.session.commit()
        click.echo(f"Removed {removed} change rows below change {below}.")

    @app.cli.command("create-user")
    @click.argument("username")
    @click.option("--role", type=click.Choice(sorted(ALL_ROLES)), required=True)
    @click.option("--name", "display_name", default=None, help="Name shown in the app.")
    @click.password_option()
    def create_user(username: str, role: str, display_name: str | None, password: str) -> None:
        """Create a person who can sign in."""
        from webapp.models import User

        user = User(username=username.lower(), display_name=display_name or username, role=role)
        user.set_password(password)
        db.session.add(user)
        db.session.commit()
        click.echo(f"Created {user.username} ({role}).")
