"""Registration, login and logout, and the logged-in user on ``g.user``."""

from __future__ import annotations

import functools

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from . import validation
from .db import get_session
from .errors import ApiError
from .models import AuditLog, User

bp = Blueprint("auth", __name__, url_prefix="/auth")


def init_app(app: Flask) -> None:
    app.before_request(load_logged_in_user)


def load_logged_in_user() -> None:
    user_id = session.get("user_id")
    g.user = None
    if user_id is not None:
        user = get_session().get(User, user_id)
        if user is not None and user.is_active:
            g.user = user
        else:
            session.clear()


def login_required(view):
    """HTML views: redirect to the login page when nobody is logged in."""

    @functools.wraps(view)
    def wrapped(**kwargs):
        if g.user is None:
            return redirect(url_for("auth.login", next=request.path))
        return view(**kwargs)

    return wrapped


def api_login_required(view):
    """API views: answer 401 in the JSON error shape."""

    @functools.wraps(view)
    def wrapped(**kwargs):
        if g.user is None:
            raise ApiError(401, "login required")
        return view(**kwargs)

    return wrapped


def _safe_next(target: str | None) -> str:
    # Only same-site paths, never "//evil.example" or absolute URLs.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("main.index")


@bp.route("/register", methods=("GET", "POST"))
def register():
    if request.method == "GET":
        return render_template("auth/register.html")
    try:
        username, email, password = validation.registration(request.form)
    except validation.ValidationError as exc:
        return render_template("auth/register.html", error=str(exc)), 400

    db = get_session()
    clash = db.scalar(select(User.username).where(or_(User.username == username, User.email == email)))
    if clash is not None:
        return render_template("auth/register.html", error="username or email is already taken"), 409

    user = User(username=username, email=email)
    user.set_password(password, current_app.config["PASSWORD_HASH_METHOD"])
    db.add(user)
    try:
        db.flush()
        db.add(AuditLog(user_id=user.id, event="register"))
        db.commit()
    except IntegrityError:
        # A concurrent registration won the race: nothing half-written stays.
        db.rollback()
        return render_template("auth/register.html", error="username or email is already taken"), 409
    flash("Account created. Please log in.")
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=("GET", "POST"))
def login():
    if request.method == "GET":
        return render_template("auth/login.html", next=request.args.get("next", ""))
    try:
        username = validation.required_field(request.form, "username", current_app.config["USERNAME_MAX"])
        password = validation.required_field(
            request.form, "password", current_app.config["PASSWORD_MAX"], strip=False
        )
    except validation.ValidationError as exc:
        return render_template("auth/login.html", error=str(exc)), 400

    db = get_session()
    user = db.scalar(select(User).where(User.username == username))
    if user is None or not user.is_active or not user.check_password(password):
        db.add(AuditLog(user_id=user.id if user else None, event="login_failed", detail=username[:200]))
        db.commit()
        return render_template("auth/login.html", error="invalid username or password"), 401

    db.add(AuditLog(user_id=user.id, event="login"))
    db.commit()
    session.clear()
    session["user_id"] = user.id
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/logout", methods=("POST",))
def logout():
    if g.user is not None:
        db = get_session()
        db.add(AuditLog(user_id=g.user.id, event="logout"))
        db.commit()
    session.clear()
    return redirect(url_for("main.index"))
