"""Deterministic seeding, shared by the ``seed`` command and the benchmarks.

The same arguments always produce the same rows: usernames, emails, setting
values, posts and timestamps depend only on the row's number. The password
is hashed once and the hash reused, because hashing thousands of passwords
with a slow KDF would dominate seeding; every seeded user can still log in
with :data:`SEED_PASSWORD`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from .models import Post, Setting, User

SEED_PASSWORD = "correct-horse-battery"
EPOCH = datetime(2024, 1, 1)
SITE_SETTINGS = {
    "site_name": "target_app",
    "motd": "Welcome to target_app, the application under measurement.",
    "theme": "light",
    "registration_open": "yes",
}
THEMES = ("light", "dark", "solarized", "contrast")
LANGS = ("en", "fr", "de", "es", "ja")


@dataclass(frozen=True)
class SeedResult:
    users: int
    settings: int
    posts: int


def username_for(i: int) -> str:
    """The username of seeded user number ``i`` (1-based)."""
    return f"user{i:05d}"


def setting_value(i: int, j: int) -> str:
    if j == 0:
        return THEMES[i % len(THEMES)]
    if j == 1:
        return LANGS[i % len(LANGS)]
    return f"value-{i}-{j}"


def setting_key(j: int) -> str:
    return ("theme", "language")[j] if j < 2 else f"pref_{j:02d}"


def seed(
    session: Session,
    *,
    users: int = 100,
    settings_per_user: int = 3,
    posts_per_user: int = 1,
    password_method: str = "scrypt",
    site: bool = True,
) -> SeedResult:
    """Insert ``users`` users after the ones present, with their settings and posts.

    Numbering continues from the current user count, so seeding twice adds
    new users rather than clashing. Commits once at the end.
    """
    if users < 0 or settings_per_user < 0 or posts_per_user < 0:
        raise ValueError("counts must not be negative")
    start = session.scalar(select(func.count()).select_from(User)) or 0
    max_id = session.scalar(select(func.max(User.id))) or 0
    password_hash = generate_password_hash(SEED_PASSWORD, method=password_method)
    user_rows = [
        {
            "username": username_for(i),
            "email": f"{username_for(i)}@example.test",
            "password_hash": password_hash,
            "created_at": EPOCH + timedelta(minutes=i),
            "is_active": True,
        }
        for i in range(start + 1, start + users + 1)
    ]
    if user_rows:
        session.execute(insert(User), user_rows)
    ids = dict(session.execute(select(User.username, User.id).where(User.id > max_id)).all())
    setting_rows = []
    post_rows = []
    for i in range(start + 1, start + users + 1):
        uid = ids[username_for(i)]
        for j in range(settings_per_user):
            setting_rows.append({"user_id": uid, "key": setting_key(j), "value": setting_value(i, j)})
        for k in range(posts_per_user):
            post_rows.append(
                {
                    "author_id": uid,
                    "title": f"Post {k + 1} by {username_for(i)}",
                    "body": f"Seeded post {k + 1} of user {i}. " * 4,
                    "created_at": EPOCH + timedelta(minutes=i, seconds=k + 1),
                }
            )
    if site:
        present = set(session.scalars(select(Setting.key).where(Setting.user_id.is_(None))))
        setting_rows += [
            {"user_id": None, "key": key, "value": value}
            for key, value in SITE_SETTINGS.items()
            if key not in present
        ]
    if setting_rows:
        session.execute(insert(Setting), setting_rows)
    if post_rows:
        session.execute(insert(Post), post_rows)
    session.commit()
    return SeedResult(users=users, settings=len(setting_rows), posts=len(post_rows))
