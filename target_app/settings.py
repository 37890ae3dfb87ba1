"""The logged-in user's settings page."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from . import validation
from .auth import login_required
from .db import get_session
from .main import site_settings
from .models import Setting

bp = Blueprint("settings", __name__)


def _user_settings():
    return get_session().scalars(select(Setting).where(Setting.user_id == g.user.id).order_by(Setting.key)).all()


@bp.get("/settings")
@login_required
def show():
    return render_template("settings.html", settings=_user_settings(), site=site_settings())


@bp.post("/settings")
@login_required
def update():
    cfg = current_app.config
    try:
        key = validation.required_field(request.form, "key", cfg["SETTING_KEY_MAX"])
        value = request.form.get("value", "").strip()
        if len(value) > cfg["SETTING_VALUE_MAX"]:
            raise validation.ValidationError(f"value must be at most {cfg['SETTING_VALUE_MAX']} characters")
    except validation.ValidationError as exc:
        return render_template("settings.html", settings=_user_settings(), site=site_settings(), error=str(exc)), 400

    db = get_session()
    setting = db.scalar(select(Setting).where(Setting.user_id == g.user.id, Setting.key == key))
    if not value:
        if setting is not None:
            db.delete(setting)
            flash(f"Removed {key}.")
    elif setting is None:
        db.add(Setting(user_id=g.user.id, key=key, value=value))
        flash(f"Saved {key}.")
    else:
        setting.value = value
        flash(f"Saved {key}.")
    db.commit()
    return redirect(url_for("settings.show"))
