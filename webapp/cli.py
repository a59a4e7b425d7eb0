"""Commands: `flask --app webapp demo`, `create-user`, `compact-sync-log`, `expire-uploads`, `labels`."""

from __future__ import annotations

from pathlib import Path

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

    @app.cli.command("quality-defaults")
    def quality_defaults() -> None:
        """Install the plant's default checklists (one per kind of inspection) and defect catalogue."""
        from webapp.extensions import db
        from webapp.services import checklists

        added = checklists.install_defaults(db.session)
        db.session.commit()
        click.echo(f"{added} checklists and defect types added")

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

    @app.cli.command("expire-uploads")
    def expire_uploads() -> None:
        """Discard unfinished photo uploads untouched for PARTIAL_UPLOAD_HOURS (run it hourly from cron)."""
        from webapp.services import blobs

        done = blobs.expire_partials()
        click.echo(f"Discarded {done.uploads} expired unfinished upload(s) and {done.stray_files} stray partial "
                   f"file(s); forgot {done.usage_rows} old daily upload count(s).")

    @app.cli.command("create-user")
    @click.argument("username")
    @click.option("--role", type=click.Choice(sorted(r.value for r in ALL_ROLES)), required=True)
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

    from webapp.printing import FORMATS, LAYOUTS

    @app.cli.command("labels")
    @click.option("--new", "new", type=click.IntRange(1, 10_000), help="Mint this many new bins and print them.")
    @click.option("--codes", help="Reprint existing bins instead: codes separated by commas.")
    @click.option("--layout", type=click.Choice(list(LAYOUTS)), default="a4-24", show_default=True,
                  help="a4-24 / a4-40 sticker sheets, or one 50x30 / 60x40 mm label per page (thermal).")
    @click.option("--format", "fmt", type=click.Choice(FORMATS), default="pdf", show_default=True,
                  help="pdf; png (one image per page); zpl (Zebra, thermal layouts only).")
    @click.option("--out", type=click.Path(dir_okay=False, allow_dash=True),
                  help="File to write (default labels.<format>; - for standard output). PNG with several "
                       "pages writes NAME-001.png, NAME-002.png, …")
    @click.option("--workshop", help="Workshop code of the new bins (default: none; the label names the plant).")
    @click.option("--bin-type", help="Bin type printed on the new bins' labels, e.g. '铁框 steel crate'.")
    @click.option("--dpi", type=click.IntRange(72, 1200), help="PNG and ZPL resolution (default 300 and 203).")
    def labels(new: int | None, codes: str | None, layout: str, fmt: str, out: str | None, workshop: str | None,
               bin_type: str | None, dpi: int | None) -> None:
        """Mint new bins and print their labels, or reprint existing ones (PDF, PNG or ZPL)."""
        from webapp.printing import LabelError, LabelFontMissing
        from webapp.services import labels as bin_labels

        if bool(new) == bool(codes):
            raise click.UsageError("Give either --new N or --codes A,B.")
        if codes and (workshop or bin_type):
            raise click.UsageError("--workshop and --bin-type apply to new bins (--new) only.")
        count = new or len(bin_labels.split_codes(codes))
        if out == "-" and fmt == "png" and count > LAYOUTS[layout].per_page:
            raise click.UsageError("Several PNG pages cannot go to standard output: give --out NAME.png.")
        base_url = _public_url(app)
        try:
            if new:
                done, output = bin_labels.print_new(new, layout, fmt, base_url, workshop, bin_type,
                                                    plant_name=app.config.get("PLANT_NAME", ""), dpi=dpi)
            else:
                done, output = bin_labels.print_existing(bin_labels.split_codes(codes), layout, fmt, base_url,
                                                         dpi=dpi)
        except bin_labels.LabelRefused as refused:
            with app.test_request_context():  # translations need a request; this one asks for English
                message = str(refused.message)
            raise click.ClickException(message) from None
        except (LabelError, LabelFontMissing) as error:
            raise click.ClickException(str(error)) from None
        written = _write(output, out or f"labels.{fmt}")
        minted = "Minted" if new else "Reprinting"
        click.echo(f"{minted} {len(done)} bin{'s' if len(done) != 1 else ''}: {done[0]}"
                   + (f" … {done[-1]}" if len(done) > 1 else ""), err=True)
        click.echo(f"Wrote {', '.join(written)}: {len(done)} labels, {output.pages} page(s), {layout}.", err=True)


def _public_url(app) -> str:
    """Return PUBLIC_URL, or this machine's LAN address with a warning (labels outlive DHCP leases)."""
    if app.config.get("PUBLIC_URL"):
        return app.config["PUBLIC_URL"]
    from webapp.serve import lan_addresses

    guess = f"https://{lan_addresses()[0]}:{app.config.get('HTTPS_PORT', 8443)}"
    click.echo(f"PUBLIC_URL is not set: the QR codes point to {guess}. Set PUBLIC_URL to the address phones "
               "use (e.g. https://shopfloor.plant.example) before printing labels for real.", err=True)
    return guess


def _write(output, out: str) -> list[str]:
    """Write the rendered labels; return the names written."""
    import sys

    if out == "-":
        for data in output.files:
            sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return ["standard output"]
    path = Path(out)
    if len(output.files) == 1:
        path.write_bytes(output.files[0])
        return [str(path)]
    names = []
    for number, data in enumerate(output.files, start=1):
        page = path.with_name(f"{path.stem}-{number:03d}{path.suffix or '.png'}")
        page.write_bytes(data)
        names.append(str(page))
    return [names[0], "…", names[-1]] if len(names) > 2 else names
