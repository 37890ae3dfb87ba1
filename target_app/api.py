"""The authenticated JSON API."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from .auth import api_login_required
from .db import get_session
from .errors import ApiError, json_error
from .main import site_settings
from .models import Post, Setting, User
from .validation import ValidationError, positive_int

bp = Blueprint("api", __name__, url_prefix="/api")


@bp.errorhandler(ValidationError)
def bad_parameter(exc: ValidationError):
    return json_error(400, str(exc))


@bp.get("/me")
@api_login_required
def me():
    return jsonify(user=g.user.to_dict())


def _page(model, query) -> tuple[list, dict]:
    """One page of ``query`` by the ``page``/``per_page`` arguments, and the paging facts."""
    page = positive_int(request.args, "page", 1)
    per_page = positive_int(request.args, "per_page", 20, current_app.config["API_MAX_PER_PAGE"])
    db = get_session()
    total = db.scalar(select(func.count()).select_from(model))
    rows = db.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    return rows, {"page": page, "per_page": per_page, "total": total, "pages": (total + per_page - 1) // per_page}


@bp.get("/users")
@api_login_required
def users():
    rows, meta = _page(
        User,
        select(User)
        .options(selectinload(User.settings))
        .order_by(User.id),
    )
    return jsonify(users=[u.to_dict(with_settings=True) for u in rows], **meta)


@bp.get("/users/<username>")
@api_login_required
def user(username: str):
    found = get_session().scalar(select(User).where(User.username == username))
    if found is None:
        raise ApiError(404, f"no user named {username!r}")
    return jsonify(user=found.to_dict())


@bp.get("/posts")
@api_login_required
def posts():
    """Newest posts first, with their authors, paginated like /api/users."""
    rows, meta = _page(
        Post,
        select(Post)
        .options(joinedload(Post.author))
        .order_by(Post.created_at.desc(), Post.id.desc()),
    )
    return jsonify(
        posts=[
            {
                "id": p.id,
                "title": p.title,
                "body": p.body,
                "author": p.author.username,
                "created_at": p.created_at.isoformat(),
            }
            for p in rows
        ],
        **meta,
    )


@bp.get("/settings")
@api_login_required
def settings():
    mine = get_session().execute(select(Setting.key, Setting.value).where(Setting.user_id == g.user.id))
    return jsonify(user=dict(mine.all()), site=site_settings())
