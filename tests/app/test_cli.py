from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import IntegrityError

from target_app import create_app, db


def test_init_db_and_seed_from_cli(database_url, monkeypatch):
    url = database_url
    monkeypatch.setenv("DATABASE_URL", url)
    app = create_app()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["init-db"])
    assert result.exit_code == 0, result.output
    assert "Initialized the database" in result.output
    result = runner.invoke(args=["seed", "--users", "12", "--settings", "2", "--posts", "0"])
    assert result.exit_code == 0, result.output
    assert "Seeded 12 users, 28 settings and 0 posts" in result.output
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.scalar(text("select count(*) from users")) == 12
        names = conn.scalars(text("select username from users order by id")).all()
    engine.dispose()
    assert names[0] == "user00001" and names[-1] == "user00012"


def test_seed_twice_continues_numbering(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = create_app().test_cli_runner()
    assert runner.invoke(args=["seed", "--users", "3"]).exit_code == 0
    assert runner.invoke(args=["seed", "--users", "2"]).exit_code == 0
    result = runner.invoke(args=["seed", "--users", "1", "--reset"])
    assert result.exit_code == 0


def test_seed_rejects_negative_counts(database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    result = create_app().test_cli_runner().invoke(args=["seed", "--users", "-1"])
    assert result.exit_code == 2
    assert "-1" in result.output


def test_default_database_is_sqlite_in_instance_folder(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app({"SECRET_KEY": "x"})
    assert app.config["DATABASE_URL"].startswith("sqlite:///")
    assert app.config["DATABASE_URL"].endswith("instance/target_app.sqlite") or "target_app-instance" in (
        app.config["DATABASE_URL"]
    )
    assert app.debug is False


def test_explicit_config_beats_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:////nonexistent/dir/x.sqlite")
    app = create_app({"DATABASE_URL": "sqlite://", "SECRET_KEY": "x"})
    assert app.config["DATABASE_URL"] == "sqlite://"


def test_sql_uses_bound_parameters(app, logged_in):
    # A username full of SQL punctuation is data, not syntax.
    response = logged_in.get("/api/users/x' OR '1'='1")
    assert response.status_code == 404
    with app.app_context():
        from target_app import db
        from target_app.models import User

        assert db.get_session().scalar(select(func.count()).select_from(User)) == 30


def test_bulk_create_users_both_methods(app):
    import pytest

    from target_app.bulk import bulk_create_users
    from target_app.models import User

    with app.app_context():
        session = db.get_session()
        for method in ("core", "orm"):
            rows = [
                {"username": f"{method}{i}", "email": f"{method}{i}@x.test", "password_hash": "h"} for i in range(5)
            ]
            assert bulk_create_users(session, rows, method=method) == 5
        assert session.scalar(select(func.count()).select_from(User)) == 40
        with pytest.raises(ValueError, match="unknown bulk method"):
            bulk_create_users(session, [], method="copy")
        # A duplicate in the batch rolls the whole batch back.
        dup = [{"username": "dupe", "email": "d1@x.test", "password_hash": "h"},
               {"username": "dupe", "email": "d2@x.test", "password_hash": "h"}]
        with pytest.raises(IntegrityError):
            bulk_create_users(session, dup, method="core")
        assert session.scalar(select(func.count()).select_from(User)) == 40
