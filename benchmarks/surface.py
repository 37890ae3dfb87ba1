"""Derive what traffic can reach from the app: ``python -m benchmarks.surface`` writes ``surface.json``.

Every rule of the app's URL map, with every method it allows, gets every
move a client can make (:func:`moves`): the request as a logged-in user,
with fresh form values, anonymously, with an unknown path argument, with a
bad value for each query argument the view reads, without the CSRF token,
with an empty form, with a method the rule does not allow; and two paths no
rule matches. Each request runs under coverage.py. An outcome is kept when
the lines of target_app it runs, with its status, are not those of an
operation already measured (``operations.WRITTEN``, written by hand, come
first) nor of an outcome kept before it: two requests that run the same
lines are one operation, measured once. So a route added to the app, or a
new way for a request to end, is measured without anyone listing it, and
``tests/suite/test_surface.py`` fails until this file is written again.

Needs coverage.py (in ``.venv``), not in asv's environments: the file is
read there, not made.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .outcomes import SURFACE, UNKNOWN_PATHS, Move

# The methods a client can send beside a rule's own, for "method not allowed".
OTHER_METHOD = {"GET": "POST", "POST": "GET"}
# Query arguments: not a number, not positive, too large.
BAD_VALUES = ("x", "0", "1000000")
# Form fields: blank, too long for any column, characters and shapes no username or address has.
BAD_FIELDS = {"blank": "", "too long": "a" * 10_000, "malformed": "not valid!"}


def _rule_path(rule) -> str:
    return rule.rule


def reads(app) -> dict[str, set[str]]:
    """Installs a request class that records the query arguments each request reads; returns the record."""
    from flask import Request
    from werkzeug.datastructures import ImmutableMultiDict

    record: dict[str, set[str]] = {"args": set()}

    class Recording(ImmutableMultiDict):
        def get(self, key, default=None, type=None):  # noqa: A002 - werkzeug's signature
            record["args"].add(key)
            return super().get(key, default, type)

        def __getitem__(self, key):
            record["args"].add(key)
            return super().__getitem__(key)

        def getlist(self, key, type=None):  # noqa: A002
            record["args"].add(key)
            return super().getlist(key, type)

    class RecordingRequest(Request):
        @property
        def args(self):  # the query's arguments only: a form's fields are the form moves' job
            return Recording(Request.args.__get__(self))

    app.request_class = RecordingRequest
    return record


def moves(rule, method: str) -> list[tuple[str, Move]]:
    """Every move a client can make of ``rule`` with ``method``, each with what it tries (the bad query
    arguments come after, once the "ok" move has shown which arguments the view reads)."""
    path = _rule_path(rule)
    out = []
    post = method != "GET"
    form = "existing" if post else None
    out.append(("ok", Move(method, path, form=form)))
    if post:
        out.append(("fresh", Move(method, path, form="fresh")))
    out.append(("anonymous", Move(method, path, client="anonymous", form=form)))
    out.append(("stale session", Move(method, path, client="stale", form=form)))
    if rule.arguments:
        out.append(("unknown", Move(method, path, args="unknown", form=form)))
    if post:
        out.append(("no csrf", Move(method, path, form=form, csrf=False)))
        out.append(("empty", Move(method, path, form="empty")))
    other = OTHER_METHOD.get(method)
    if other and other not in rule.methods:
        out.append(("method", Move(other, path, form=None)))
        out.append(("no csrf", Move(other, path, form=None, csrf=False)))
    return out


def field_moves(method: str, rule: str, fields: list[str]) -> list[tuple[str, Move]]:
    """Each field of a form in turn blank, too long, or malformed, the others as they exist."""
    out = []
    for name in fields:
        for label, value in BAD_FIELDS.items():
            out.append((f"{label} {name}", Move(method, rule, form="existing", fields={name: value})))
    return out


def outcome(tried: str, status: int, ok_status: int) -> str:
    """The outcome's name, from what the move tried and how the app answered."""
    if status == 404:
        return "not found"
    if status == 405:
        return "method not allowed"
    if status == 409:
        return "clash"
    if tried in ("anonymous", "stale session") and (status == 401 or (status == 302 and ok_status != 302)):
        return "not logged in"
    if status == 401:
        return f"failed login: {tried}" if tried.startswith(tuple(BAD_FIELDS)) else "failed login"
    if status == 400:
        if tried.startswith(tuple(BAD_FIELDS)):
            return tried
        return {"no csrf": "CSRF failure", "empty": "missing fields"}.get(tried, "bad parameter")
    if status < 400:
        if tried.startswith(tuple(BAD_FIELDS)):
            return tried
        if tried == "bad parameter":
            return "query"
        return {"fresh": "fresh values", "anonymous": "anonymous", "stale session": "stale session"}.get(tried, "ok")
    return str(status)


class Lines:
    """The lines of target_app one request runs (coverage.py)."""

    def __init__(self, package: Path, also: tuple[str, ...] = ()):
        import coverage

        self.cov = coverage.Coverage(data_file=None, include=[str(package / "*"), *also], branch=False)
        self.package = package

    def __enter__(self):
        self.cov.erase()
        self.cov.start()
        return self

    def __exit__(self, *exc):
        self.cov.stop()
        data = self.cov.get_data()
        root = self.package.parent
        self.lines = frozenset((str(Path(f).relative_to(root)) if Path(f).is_relative_to(root) else f, n)
                               for f in data.measured_files() for n in data.lines(f) or ())


class Kept:
    """The outcomes kept so far: each (status, lines) once, and which of them add lines the instruction counts
    have not seen yet."""

    def __init__(self):
        self.seen: dict[tuple, str] = {}
        self.outcomes: list[dict] = []
        self.instructed: set = set()  # the lines that operations counted under callgrind run

    def written(self, name: str, status: int, ran: frozenset) -> None:
        self.seen.setdefault((status, ran), name)
        self.instructed |= ran

    def offer(self, move: Move, what: str, status: int, ran: frozenset) -> None:
        if status >= 500:
            raise RuntimeError(f"{move.method} {move.rule} answered {status}")
        if (status, ran) in self.seen:
            return
        name = self.seen[(status, ran)] = _name(move, what, move.rule)
        self.outcomes.append({"name": name, "status": status, "move": _move_json(move), "lines": ran})

    def choose_instructed(self) -> None:
        """Which outcomes are counted under callgrind too. An instruction count costs ~1.5 s of valgrind an
        operation (docs/measurements.md), so the fewest outcomes that run every line the hand-written
        operations do not: each time the one that adds the most lines not yet counted (a greedy cover). The
        others have every in-process counter; their lines' instructions are counted in the chosen ones."""
        # Python's lines: a template's compiled lines run inside render_template, whose cost every counted
        # page's render shares.
        def code(lines):
            return {line for line in lines if line[0].endswith(".py")}

        left = {i: code(entry.pop("lines")) - code(self.instructed) for i, entry in enumerate(self.outcomes)}
        chosen = set()
        while left:
            best = max(left, key=lambda i: (len(left[i]), -i))
            if not left[best]:
                break
            chosen.add(best)
            gained = left.pop(best)
            left = {i: lines - gained for i, lines in left.items()}
        for i, entry in enumerate(self.outcomes):
            entry["instructions"] = i in chosen


def derive(ctx=None, also: tuple[str, ...] = ()) -> dict:
    """Make every move on ``ctx`` (a fresh one by default); the outcomes worth measuring (the lines
    of target_app they run decide, and of the files ``also`` names, where a test keeps an app's extra view)."""
    from .common import CHEAP_HASH, bench_db, make_app
    from .operations import WRITTEN, Context
    from .target import require

    package = Path(require("").__file__).parent
    # A context of its own by default: what other requests did to a shared one would change what a move does.
    ctx = ctx or Context(make_app(bench_db(password_method=CHEAP_HASH), PASSWORD_HASH_METHOD=CHEAP_HASH))
    record = reads(ctx.app)
    ctx.fix_csrf_token("derive")
    lines = Lines(package, also)
    kept = Kept()

    def signature(prepare, send) -> tuple[int, frozenset]:
        """The status and lines of a warm run: the first run of a request may take a path of its own (the
        first POST /settings inserts the key that later runs update)."""
        send(prepare())
        record["args"] = set()
        prepared = prepare()
        with lines:
            response = send(prepared)
        return response.status_code, lines.lines

    def make(move: Move) -> tuple[int, frozenset]:
        return signature(lambda: move.prepare(ctx), move.send)

    for op in WRITTEN:  # the hand-written operations first: an outcome they measure is theirs
        kept.written(op.name, *signature(lambda o=op: o.prepare(ctx) if o.prepare else None,
                                         lambda p, o=op: _as_response(o, ctx, p)))
    for path in UNKNOWN_PATHS:  # first: a request for a page that does not exist is the plainest 404
        for client in ("user", "anonymous"):
            move = Move("GET", path, client=client)
            status, ran = make(move)
            kept.offer(move, outcome("unknown path", status, 200), status, ran)
    streams = []
    for rule in sorted(ctx.app.url_map.iter_rules(), key=lambda r: r.rule):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            ok_status, read, status_of = None, set(), {}
            for tried, move in moves(rule, method):
                status, ran = make(move)
                status_of[tried] = (status, ran)
                if tried == "ok":
                    ok_status, read = status, set(record["args"])
                kept.offer(move, outcome(tried, status, ok_status or status), status, ran)
            stream = _stream(ctx, rule, method, read, status_of)
            if stream:
                streams.append(stream)
            for tried, move in bad_inputs(ctx, rule, method, read):
                status, ran = make(move)
                kept.offer(move, outcome(tried, status, ok_status or status), status, ran)
    kept.choose_instructed()
    return {"outcomes": _unique(kept.outcomes), "inputs": streams}


def _stream(ctx, rule, method: str, read: set[str], made: dict[str, tuple]) -> dict | None:
    """The input stream of a route that succeeds (outcomes.Stream): what its success reads, and who is logged
    in where that changes what the request runs."""
    ok = made["ok"][0]
    form = "existing"
    if method != "GET" and ok >= 400:
        if made.get("fresh", (500,))[0] >= 400:
            return None
        form = "fresh"  # a registration succeeds with values nobody has
    elif ok >= 400:
        return None
    fields = [f for f in _values(ctx).fields(ctx.client, rule.rule) if f != "csrf_token"] if method != "GET" else []
    return {"name": f"{method} {rule.rule}", "method": method, "rule": rule.rule, "query": sorted(read),
            "fields": fields, "form": form, "user": made["anonymous"] != made["ok"]}


def bad_inputs(ctx, rule, method: str, read: set[str]) -> list[tuple[str, Move]]:
    """Bad values for each query argument the view read on its "ok" move, and for each field of its form."""
    form = "existing" if method != "GET" else None
    tries = [("bad parameter", Move(method, rule.rule, query={name: value}, form=form))
             for name in sorted(read) for value in BAD_VALUES]
    if method != "GET":
        tries += field_moves(method, rule.rule, [f for f in _values(ctx).fields(ctx.client, rule.rule)
                                                 if f != "csrf_token"])
    return tries


def _values(ctx):
    from .outcomes import Values

    return Values.of(ctx)


def _as_response(op, ctx, prepared):
    """A hand-written operation's run, returning its last response (its run returns none)."""
    responses = []
    cls = type(ctx.client)
    original = cls.open

    def spy(self, *args, **kwargs):
        responses.append(original(self, *args, **kwargs))
        return responses[-1]

    cls.open = spy
    try:
        op.run(ctx, prepared)
    finally:
        cls.open = original
    return responses[-1] if responses else _NoResponse()


class _NoResponse:
    status_code = 0


def _name(move: Move, what: str, rule: str) -> str:
    """``POST /auth/register (clash, anonymous)``, ``GET /api/users (bad parameter per_page)``."""
    if move.query:
        what += " " + ",".join(f"{k}={v}" for k, v in move.query.items())
    if move.client != "user" and what not in ("anonymous", "stale session") and not (
            what == "not logged in" and move.client == "anonymous"):
        what += f", {move.client}"
    return f"{move.method} {rule} ({what})"


def _move_json(move: Move) -> dict:
    return json.loads(move.key())


def _unique(outcomes: list[dict]) -> list[dict]:
    counts: dict[str, int] = {}
    for entry in outcomes:
        n = counts[entry["name"]] = counts.get(entry["name"], 0) + 1
        if n > 1:
            entry["name"] = f"{entry['name'][:-1]}, {n})"
    return outcomes


# What no request runs, by design: the command line and the seed data (flask init-db, flask seed), and the
# bulk helper the suite's own insert benchmarks call directly.
NOT_SERVING = ("target_app/cli.py", "target_app/seed.py", "target_app/bulk.py")

_COVERAGE_RUN = """
import json, sys, coverage
cov = coverage.Coverage(data_file=None, include=[sys.argv[1] + "/*.py"])
cov.exclude("def __repr__")
cov.start()
from benchmarks.operations import OPERATIONS, counting_context
ctx = counting_context()
failed = {}
for name, op in OPERATIONS.items():
    try:
        op.once(ctx)
    except NotImplementedError:  # not at this commit: its lines are not there either
        pass
    except Exception as exc:
        failed[name] = repr(exc)
cov.stop()
out = {}
import pathlib
for path in sorted(str(p) for p in pathlib.Path(sys.argv[1]).rglob("*.py")):  # a module no request imports too
    _, statements, _, missing, _ = cov.analysis2(path)
    out[path] = {"lines": len(statements), "missing": missing}
print(json.dumps({"files": out, "failed": failed}))
"""


def request_coverage() -> dict:
    """The lines of target_app that one run of every operation runs, per file (coverage.py, in a process of its
    own so that target_app's import is counted too): {file: {"lines": n, "missing": [line, ...]}}; the files of
    NOT_SERVING are left out."""
    import subprocess

    from .target import require

    package = Path(require("").__file__).parent
    # The suite's package after target_app's (a commit's, where the caller put one first on the path).
    path = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(Path(__file__).resolve().parent.parent)) if p)
    out = subprocess.run([sys.executable, "-c", _COVERAGE_RUN, str(package)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": path})
    if out.returncode != 0:
        raise RuntimeError(f"the coverage run failed: {(out.stderr.strip().splitlines() or ['?'])[-1]}")
    result = json.loads(out.stdout.splitlines()[-1])
    if result["failed"]:
        raise RuntimeError(f"operations failed under coverage: {result['failed']}")
    files = {}
    for path, figures in result["files"].items():
        name = str(Path(path).relative_to(package.parent))
        if name not in NOT_SERVING:
            files[name] = figures
    return files


def coverage_table(files: dict) -> str:
    """Markdown: per file, its lines, those run, and those no operation runs."""
    rows = ["| File | Lines | Run | Not run |", "|---|---:|---:|---|"]
    total = run = 0
    for name, figures in files.items():
        n, missing = figures["lines"], figures["missing"]
        total, run = total + n, run + n - len(missing)
        rows.append(f"| `{name}` | {n} | {n - len(missing)} | {_ranges(missing) or '-'} |")
    rows.append(f"| all | {total} | {run} ({100 * run / total:.1f}%) | |")
    return "\n".join(rows)


def _ranges(lines: list[int]) -> str:
    out, start, prev = [], None, None
    for n in sorted(lines):
        if start is None:
            start = prev = n
        elif n == prev + 1:
            prev = n
        else:
            out.append(f"{start}-{prev}" if prev != start else str(start))
            start = prev = n
    if start is not None:
        out.append(f"{start}-{prev}" if prev != start else str(start))
    return ", ".join(out)


def render(surface: dict) -> str:
    return json.dumps(surface, indent=1, sort_keys=True) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.surface", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether surface.json is up to date")
    parser.add_argument("--coverage", action="store_true",
                        help="print which lines of target_app the operations run, per file (Markdown)")
    parser.add_argument("--coverage-json", action="store_true", help="the same as JSON: {files: {file: "
                        "{lines, missing}}}")
    args = parser.parse_args(argv)
    if args.coverage or args.coverage_json:
        files = request_coverage()
        print(json.dumps({"files": files}) if args.coverage_json else coverage_table(files))
        return 0
    text = render(derive())
    if args.check:
        if not SURFACE.exists() or SURFACE.read_text() != text:
            print(f"{SURFACE.name} is out of date: python -m benchmarks.surface", file=sys.stderr)
            return 1
        return 0
    SURFACE.write_text(text)
    print(f"wrote {SURFACE} ({len(json.loads(text)['outcomes'])} outcomes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
