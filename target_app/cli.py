"""``flask --app target_app init-db`` and ``flask --app target_app seed``."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from . import db as db_module
from .seed import SEED_PASSWORD, seed


@click.command("init-db")
@with_appcontext
@click.option("--drop", is_flag=True, help="Drop every table first (destroys data).")
def init_db_command(drop: bool) -> None:
    """Create the database tables."""
    try:
        if drop:
            db_module.drop_all()
        db_module.create_all()
    finally:
        _close_connections()
    click.echo(f"Initialized the database at {current_app.config['DATABASE_URL']}")


def _close_connections() -> None:
    # A one-shot command closes its pooled connections before it returns: a
    # database server would otherwise see them dropped at exit.
    db_module.get_engine().dispose()


@click.command("seed")
@with_appcontext
@click.option("--users", default=100, show_default=True, type=click.IntRange(min=0))
@click.option("--settings", "settings_per_user", default=3, show_default=True, type=click.IntRange(min=0))
@click.option("--posts", "posts_per_user", default=1, show_default=True, type=click.IntRange(min=0))
@click.option("--reset", is_flag=True, help="Drop and recreate the tables first.")
def seed_command(users: int, settings_per_user: int, posts_per_user: int, reset: bool) -> None:
    """Create USERS users with SETTINGS settings each, deterministically."""
    try:
        if reset:
            db_module.drop_all()
        db_module.create_all()
        maker = current_app.extensions["db_sessionmaker"]
        with maker() as session:
            result = seed(
                session,
                users=users,
                settings_per_user=settings_per_user,
                posts_per_user=posts_per_user,
                password_method=current_app.config["PASSWORD_HASH_METHOD"],
            )
    finally:
        _close_connections()
    click.echo(
        f"Seeded {result.users} users, {result.settings} settings and {result.posts} posts "
        f"(password: {SEED_PASSWORD})"
    )


def init_app(app: Flask) -> None:
    app.cli.add_command(init_db_command)
    app.cli.add_command(seed_command)
