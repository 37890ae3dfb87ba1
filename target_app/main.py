"""The homepage and the health check."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from sqlalchemy import func, select, text
from sqlalchemy.orm import joinedload

from .db import get_session
from .models import Post, Setting, User

bp = Blueprint("main", __name__)

LATEST = 5


def site_settings() -> dict[str, str]:
    rows = get_session().execute(select(Setting.key, Setting.value).where(Setting.user_id.is_(None)))
    return dict(rows.all())


@bp.get("/")
def index():
    db = get_session()
    stats = {
        "users": db.scalar(select(func.count()).select_from(User)),
        "posts": db.scalar(select(func.count()).select_from(Post)),
    }
    latest_users = db.scalars(select(User).order_by(User.created_at.desc(), User.id.desc()).limit(LATEST)).all()
    latest_posts = db.scalars(
        select(Post).options(joinedload(Post.author)).order_by(Post.created_at.desc(), Post.id.desc()).limit(LATEST)
    ).all()
    return render_template(
        "index.html",
        stats=stats,
        latest_users=latest_users,
        latest_posts=latest_posts,
        site=site_settings(),
    )


@bp.get("/healthz")
def healthz():
    get_session().execute(text("SELECT 1"))
    return jsonify(status="ok", database="ok")
