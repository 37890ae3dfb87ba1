"""target_app: the Flask + SQLAlchemy application whose performance this
repository tracks.

    flask --app target_app init-db
    flask --app target_app seed --users 100
    flask --app target_app run
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask

from . import config as config_module

__version__ = "1.0.0"

log = logging.getLogger(__name__)


def create_app(config: type | Mapping[str, Any] | None = None) -> Flask:
    """Build the application.

    ``config`` is a config class (see :mod:`target_app.config`) or a mapping
    of overrides applied on top of :class:`~target_app.config.Config`. The
    environment (``DATABASE_URL``, ``SECRET_KEY``) overrides the class
    defaults; an explicit mapping overrides everything.
    """
    app = Flask(__name__, instance_relative_config=True)
    base = config if isinstance(config, type) else config_module.Config
    app.config.from_object(base)
    config_module.from_environment(app.config)
    if isinstance(config, Mapping):
        app.config.update(config)

    if not app.config.get("DATABASE_URL"):
        os.makedirs(app.instance_path, exist_ok=True)
        path = os.path.join(app.instance_path, "target_app.sqlite")
        app.config["DATABASE_URL"] = f"sqlite:///{path}"
    if not app.config.get("SECRET_KEY"):
        log.warning("SECRET_KEY is not set: using a random key, so sessions end at restart")
        app.config["SECRET_KEY"] = secrets.token_hex(32)

    from . import api, auth, cli, db, errors, main, settings
    from .extensions import csrf

    db.init_app(app)
    csrf.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    app.register_blueprint(main.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(settings.bp)
    app.register_blueprint(api.bp)
    cli.init_app(app)
    app.after_request(_security_headers)
    return app


def _security_headers(response):
    """Headers every response carries, as a web application's users expect."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
    return response
