"""The benchmark database: shaped like production, and the same at every commit.

Seed data that is convenient hides regressions. When the newest posts belong
to the newest users, and the homepage has already loaded those users, every
lazy load of a post's author hits the session's identity map and an N+1 costs
nothing. So the suite owns its data, generated here from a fixed seed and
independent of target_app's own ``seed`` module:

- ``USERS`` users, signing up at random moments over a year;
- ``POSTS`` posts whose authorship follows a Zipf law over a shuffled list of
  users (a few users write hundreds, most write none or a few), with
  timestamps interleaved across authors and titles and bodies of varied
  length (a log-normal word count);
- 0 to ``MAX_SETTINGS`` settings per user, drawn from a pool of keys, and a
  handful of site-wide settings.

The rows are built through the schema that exists at each commit: a column
that a commit lacks is left out, and a table it lacks is skipped. A step in a
graph is therefore always the app's doing, never the data's.
"""

from __future__ import annotations

import math
import random
import string
from datetime import datetime, timedelta
from functools import cache

SEED = 20261128
USERS = 5000
POSTS = 10000
MAX_SETTINGS = 10
ZIPF_EXPONENT = 1.1
EPOCH = datetime(2024, 1, 1)
SIGNUP_SPAN = timedelta(days=300)
END = EPOCH + timedelta(days=365)
PASSWORD = "correct-horse-battery"

SITE_SETTINGS = {
    "site_name": "target_app",
    "motd": "Welcome to target_app, the application under measurement.",
    "theme": "light",
    "registration_open": "yes",
    "support_email": "support@example.test",
    "footer": "target_app · a benchmark subject · no real users were harmed",
    "maintenance_window": "Sun 02:00-03:00 UTC",
    "max_upload_mb": "25",
}
SETTING_KEYS = (
    "theme", "language", "timezone", "notifications", "digest", "page_size", "signature",
    "editor", "locale", "avatar_url", "pref_01", "pref_02", "pref_03", "pref_04", "pref_05",
)
THEMES = ("light", "dark", "solarized", "contrast")
LANGS = ("en", "fr", "de", "es", "ja", "pt", "zh")
ZONES = ("UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "Australia/Sydney")
WORDS = (
    "the of and to in is that for it as with was on be at by this had not are but from or have an they "
    "which one you were all we her she there would their will when who him been has more if no out so said "
    "what up its about than into them can only other new some could time these two may then do first any my "
    "now such like our over man me even most made after also did many before must through back years where "
    "much your way well down should because each just those people how too little state good very make world "
    "still own see men work long get here between both life being under never day same another know while "
    "last might us great old year off come since against go came right used take three database query index "
    "latency request response session cache commit rollback transaction pool connection benchmark regression"
).split()


def username_for(i: int) -> str:
    """The username of user number ``i`` (1-based): ``user00042``."""
    return f"user{i:05d}"


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def _setting_value(rng: random.Random, key: str) -> str:
    if key == "theme":
        return rng.choice(THEMES)
    if key == "language" or key == "locale":
        return rng.choice(LANGS)
    if key == "timezone":
        return rng.choice(ZONES)
    if key in ("notifications", "digest"):
        return rng.choice(("on", "off", "daily", "weekly"))
    if key == "page_size":
        return str(rng.choice((10, 20, 50, 100)))
    if key == "signature":
        return _text(rng, rng.randint(1, 40))[:500]
    if key == "avatar_url":
        return "https://img.example.test/" + "".join(rng.choices(string.ascii_lowercase + string.digits, k=24))
    return "".join(rng.choices(string.ascii_letters, k=rng.randint(1, 60)))


@cache
def generate() -> dict[str, list[dict]]:
    """Every row, as plain dicts. Users are referred to by number (1-based)."""
    rng = random.Random(SEED)
    span = SIGNUP_SPAN.total_seconds()
    signups = sorted(rng.uniform(0, span) for _ in range(USERS))
    users = [
        {
            "number": i,
            "username": username_for(i),
            "email": f"{username_for(i)}@example.test",
            "created_at": EPOCH + timedelta(seconds=round(signups[i - 1])),
            "is_active": True,
        }
        for i in range(1, USERS + 1)
    ]
    # Zipf-distributed authorship over a shuffled ranking of users.
    ranking = list(range(1, USERS + 1))
    rng.shuffle(ranking)
    weights = [1 / (rank**ZIPF_EXPONENT) for rank in range(1, USERS + 1)]
    authors = rng.choices(ranking, weights=weights, k=POSTS)
    posts = []
    for author in authors:
        joined = users[author - 1]["created_at"]
        at = joined + timedelta(seconds=round(rng.uniform(0, (END - joined).total_seconds())))
        words = min(1500, max(3, round(rng.lognormvariate(4.3, 0.9))))
        posts.append({
            "author": author,
            "title": _text(rng, rng.randint(2, 14)).capitalize()[:200],
            "body": _text(rng, words),
            "created_at": at,
        })
    # Insert in time order, as a live site would: ids grow with created_at.
    posts.sort(key=lambda p: p["created_at"])
    settings = []
    for user in users:
        count = min(MAX_SETTINGS, int(rng.expovariate(1 / 2.5)))
        for key in rng.sample(SETTING_KEYS, count):
            settings.append({"user": user["number"], "key": key, "value": _setting_value(rng, key)})
    settings += [{"user": None, "key": key, "value": value} for key, value in SITE_SETTINGS.items()]
    return {"users": users, "posts": posts, "settings": settings}


def shape() -> dict[str, float]:
    """Facts about the data, for the README and the tests."""
    data = generate()
    per_author: dict[int, int] = {}
    for post in data["posts"]:
        per_author[post["author"]] = per_author.get(post["author"], 0) + 1
    counts = sorted(per_author.values(), reverse=True)
    settings_per_user: dict[int, int] = {}
    for s in data["settings"]:
        if s["user"] is not None:
            settings_per_user[s["user"]] = settings_per_user.get(s["user"], 0) + 1
    lengths = sorted(len(p["body"]) for p in data["posts"])
    return {
        "users": len(data["users"]),
        "posts": len(data["posts"]),
        "authors": len(per_author),
        "top_author_posts": counts[0],
        "top_1pct_share": sum(counts[: math.ceil(len(data["users"]) / 100)]) / len(data["posts"]),
        "users_without_settings": len(data["users"]) - len(settings_per_user),
        "max_settings": max(settings_per_user.values()),
        "site_settings": sum(1 for s in data["settings"] if s["user"] is None),
        "body_chars_median": lengths[len(lengths) // 2],
        "body_chars_max": lengths[-1],
    }


def _only_columns(table, rows: list[dict]) -> list[dict]:
    """Rows reduced to the columns ``table`` has at this commit."""
    names = set(table.c.keys())
    return [{k: v for k, v in row.items() if k in names} for row in rows]


def populate(session, models, password_hash: str) -> None:
    """Insert the dataset through the ORM tables of ``models`` (one commit)."""
    from sqlalchemy import insert, select

    data = generate()
    user_table = models.User.__table__
    session.execute(insert(user_table), _only_columns(
        user_table, [dict(u, password_hash=password_hash) for u in data["users"]]))
    ids = dict(session.execute(select(models.User.username, models.User.id)).all())
    by_number = {u["number"]: ids[u["username"]] for u in data["users"]}
    if hasattr(models, "Setting"):
        table = models.Setting.__table__
        rows = [{"user_id": by_number[s["user"]] if s["user"] else None, "key": s["key"], "value": s["value"]}
                for s in data["settings"]]
        session.execute(insert(table), _only_columns(table, rows))
    if hasattr(models, "Post"):
        table = models.Post.__table__
        rows = [{"author_id": by_number[p["author"]], "title": p["title"], "body": p["body"],
                 "created_at": p["created_at"]} for p in data["posts"]]
        session.execute(insert(table), _only_columns(table, rows))
    session.commit()
