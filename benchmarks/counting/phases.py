"""Where an operation's instructions go, in the app's terms: by phase and by Python function.

callgrind sees C functions only: on CPython 3.11 a Python call leaves no C
frame of its own, so "the template render" or ``target_app/api.py:settings``
cannot be read from a dump. So each counting process (benchmarks/counting/measures.py)
makes wrappers (:func:`prepare`) for the functions that begin each phase,
every function of ``target_app`` and a few of the libraries' entry points;
each operation's process puts them in place before its warm-up
(:meth:`Tracker.activate`), so its one counted run is by phase too. Each wrapper runs its
function through a C function of its own: a trampoline from a small
library compiled once (benchmarks/counting/libs.py). callgrind gives each
trampoline's inclusive cost, so one dump per operation gives:

- each named function's instructions, inclusive;
- each phase's, exclusive: the trampoline of phase P entered from phase Q
  is ``cg_phase_NNN`` for that pair, so P's own cost is what its
  trampolines cost less what the phases entered inside it cost. What no
  other phase holds is BASE.

A callgrind dump per crossing would say the same at ~25 ms a dump, most of
a commit's time. The work inside find_name_in_mro is left out by callgrind
itself (``--toggle-collect``, benchmarks/counting/measures.py: OPTIONS); the
allocators' is counted in the phase that called them (a toggle cannot
leave glibc's out: it jumps from one allocator to another).

The wrappers' and trampolines' own work is counted here and in the
operation's total, which is counted in the same run: the same at every
commit for the same path, and a share of the total that
docs/measurements.md ("What a commit costs") gives by operation.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import sys
import types
from collections.abc import Callable
from pathlib import Path

BASE = "set-up and routing"
VIEW = "view"
HASH = "password hashing"
COMPILE = "SQL compile"
EXECUTE = "driver execute"
LOAD = "row loading"
FLUSH = "ORM flush"
RENDER = "template render"
JSON = "JSON encoding"
AFTER = "after request and teardown"
# In a request's order. BASE holds what no other phase does: the WSGI
# plumbing, routing, the before-request hooks; for an operation that is not
# a request (a query, a bulk insert), its own code. HASH is werkzeug's
# password hashing (scrypt: ~780M instructions of a login), so that the
# login's own view stays a figure of its size. FLUSH is the ORM's unit
# of work writing what the session holds (the statements it sends are
# compiled and executed in their own phases).
PHASES = (BASE, VIEW, HASH, COMPILE, EXECUTE, LOAD, FLUSH, RENDER, JSON, AFTER)

# The libraries' functions that begin a phase, or that are named in the
# figures by function (inclusive), as (module, qualified name, phase or
# None, named): each library's entry points. A name this version lacks is
# passed over.
LIBRARY = (
    ("flask.app", "Flask.full_dispatch_request", None, True),
    ("flask.app", "Flask.preprocess_request", None, True),
    ("flask.app", "Flask.make_response", None, True),
    ("flask.app", "Flask.process_response", AFTER, True),
    ("flask.app", "Flask.do_teardown_request", AFTER, False),
    ("flask.app", "Flask.do_teardown_appcontext", AFTER, False),
    ("flask.templating", "render_template", None, True),
    ("flask.json.provider", "DefaultJSONProvider.dumps", JSON, False),
    ("werkzeug.routing.map", "MapAdapter.match", None, True),
    ("werkzeug.security", "check_password_hash", HASH, True),
    ("werkzeug.security", "generate_password_hash", HASH, True),
    ("jinja2.environment", "Environment.get_template", None, True),
    ("jinja2.environment", "Template.render", RENDER, True),
    ("sqlalchemy.orm.session", "Session.execute", None, True),
    ("sqlalchemy.orm.session", "Session.scalars", None, True),
    ("sqlalchemy.orm.session", "Session.scalar", None, True),
    ("sqlalchemy.orm.session", "Session.get", None, True),
    ("sqlalchemy.orm.session", "Session.flush", FLUSH, True),
    ("sqlalchemy.orm.session", "Session.commit", None, True),
    ("sqlalchemy.sql.elements", "ClauseElement._compile_w_cache", COMPILE, False),
    ("sqlalchemy.orm.loading", "instances", LOAD, False),
    ("sqlalchemy.engine.result", "IteratorResult._fetchall_impl", LOAD, False),
    ("sqlalchemy.engine.result", "IteratorResult._fetchone_impl", LOAD, False),
    ("sqlalchemy.engine.result", "IteratorResult._fetchmany_impl", LOAD, False),
    ("sqlalchemy.engine.result", "ChunkedIteratorResult._fetchmany_impl", LOAD, False),
    ("sqlalchemy.engine.cursor", "CursorResult._fetchall_impl", LOAD, False),
    ("sqlalchemy.engine.cursor", "CursorResult._fetchone_impl", LOAD, False),
    ("sqlalchemy.engine.cursor", "CursorResult._fetchmany_impl", LOAD, False),
    ("sqlalchemy.engine.default", "DefaultDialect.do_execute", EXECUTE, False),
    ("sqlalchemy.engine.default", "DefaultDialect.do_executemany", EXECUTE, False),
    ("sqlalchemy.engine.default", "DefaultDialect.do_execute_no_params", EXECUTE, False),
    ("sqlalchemy.engine.default", "DefaultDialect.do_commit", EXECUTE, False),
    ("sqlalchemy.engine.default", "DefaultDialect.do_rollback", EXECUTE, False),
    ("sqlalchemy.engine.default", "DefaultDialect.do_begin", EXECUTE, False),
)
# The dialect's methods that talk to the driver (a dialect's own overrides are wrapped too).
DRIVER_METHODS = ("do_execute", "do_executemany", "do_execute_no_params", "do_commit", "do_rollback", "do_begin")

_FLASK_HOOKS = ("before_request_funcs", "after_request_funcs", "teardown_request_funcs",
                "teardown_appcontext_funcs", "template_context_processors", "url_value_preprocessors",
                "url_default_functions")


# Trampolines in the library: the phase pairs first, then named functions.
TRAMPOLINES = 512
PREFIX = "cg_phase_"


def trampolines_source(count: int = TRAMPOLINES) -> str:
    """C: ``count`` functions that each call their argument, and ``cg_through(i, f)``, which calls the i-th.

    ctypes enters C through libffi, whose call callgrind does not see as a
    call (it switches the stack first): what libffi calls is charged to
    libffi. So Python calls ``cg_through``, and the trampoline is entered
    by a plain C call. Compiled without optimisation, so that no call
    becomes a jump.
    """
    lines = ["typedef long (*cg_callback)(void);"]
    lines += [f"long {PREFIX}{i:03d}(cg_callback f) {{ return f() + 0; }}" for i in range(count)]
    lines.append("static long (*const cg_table[])(cg_callback) = {"
                 + ", ".join(f"{PREFIX}{i:03d}" for i in range(count)) + "};")
    lines.append("long cg_through(int i, cg_callback f) { return cg_table[i](f) + 0; }")
    return "\n".join(lines) + "\n"


class Tracker:
    """Runs wrapped functions through the trampolines; knows which trampoline means what.

    ``meaning[i]`` is ``["phase", P, Q]`` (phase P entered from phase Q)
    or ``["function", name]`` for trampoline i.
    """

    def __init__(self, library: str) -> None:
        import ctypes

        self._callback_type = ctypes.CFUNCTYPE(ctypes.c_long)
        self._callback = self._callback_type(self._run)
        self._through = ctypes.CDLL(library).cg_through
        self._through.argtypes = [ctypes.c_int, self._callback_type]
        self._through.restype = ctypes.c_long
        self.meaning: list[list] = []
        self.pairs: dict[tuple[str, str], int] = {}
        self.functions: dict[str, int] = {}
        self.phase = BASE
        self._pending = self._result = self._error = None
        # What :meth:`activate` does, in order: (setter, owner, key, wrapper).
        self.swaps: list[tuple] = []
        for phase in PHASES:
            for parent in PHASES:
                if phase != parent:
                    self.pairs[(phase, parent)] = self._new(["phase", phase, parent])

    def activate(self) -> None:
        """Put the prepared wrappers in place (:func:`prepare`)."""
        for setter, owner, key, value in self.swaps:
            setter(owner, key, value)
        self.swaps = []

    def _new(self, meaning: list) -> int:
        if len(self.meaning) >= TRAMPOLINES:
            raise RuntimeError(f"more than {TRAMPOLINES} trampolines: raise phases.TRAMPOLINES")
        self.meaning.append(meaning)
        return len(self.meaning) - 1

    def function(self, name: str) -> int:
        """The trampoline that names ``name`` (chosen once)."""
        if name not in self.functions:
            self.functions[name] = self._new(["function", name])
        return self.functions[name]

    def _run(self) -> int:
        fn, args, kwargs = self._pending
        try:
            self._result = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - raised again on the Python side of the trampoline
            self._error = exc
        return 0

    def through(self, trampoline: int, fn, args, kwargs):
        saved = self._pending, self._result, self._error
        self._pending, self._result, self._error = (fn, args, kwargs), None, None
        try:
            self._through(trampoline, self._callback)
            result, error = self._result, self._error
        finally:
            self._pending, self._result, self._error = saved
        if error is not None:
            raise error
        return result

    def call(self, fn, args, kwargs, phase: str | None, named):
        if phase is not None and phase != self.phase:
            parent, self.phase = self.phase, phase
            try:
                if named is None:
                    return self.through(self.pairs[(phase, parent)], fn, args, kwargs)
                return self.through(self.pairs[(phase, parent)], self.through, (named, fn, args, kwargs), {})
            finally:
                self.phase = parent
        if named is not None:
            return self.through(named, fn, args, kwargs)
        return fn(*args, **kwargs)


def attribute(meaning: list[list], inclusive: dict[str, float], total: float
              ) -> tuple[dict[str, float], dict[str, float]]:
    """Instructions by phase (exclusive) and by named function (inclusive), from the trampolines' inclusive
    costs and the run's total."""
    phases = dict.fromkeys(PHASES, 0.0)
    phases[BASE] = total
    functions: dict[str, float] = {}
    for fn, cost in inclusive.items():
        if not fn.startswith(PREFIX):
            continue
        kind, *what = meaning[int(fn[len(PREFIX):])]
        if kind == "phase":
            phase, parent = what
            phases[phase] += cost
            phases[parent] -= cost
        else:
            functions[what[0]] = functions.get(what[0], 0.0) + cost
    return phases, functions


def wrap(tracker: Tracker, fn: Callable, phase: str | None, name: str | None) -> Callable:
    named = tracker.function(name) if name else None

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return tracker.call(fn, args, kwargs, phase, named)

    wrapper.__phases_wrapped__ = True
    return wrapper


def function_name(fn: Callable) -> str:
    """``package/module.py:Qualified.name``, from the module's file (``target_app/api.py:settings``)."""
    fn = inspect.unwrap(fn)
    module = sys.modules.get(getattr(fn, "__module__", "") or "")
    path = getattr(module, "__file__", None)
    top = (fn.__module__ or "").split(".")[0]
    if path and top:
        parts = Path(path).parts
        where = "/".join(parts[len(parts) - 1 - parts[::-1].index(top):]) if top in parts else Path(path).name
    else:
        where = fn.__module__
    return f"{where}:{fn.__qualname__}"


def source_functions(root: Path, package: str = "target_app") -> list[str]:
    """The names :func:`function_name` gives ``package``'s own functions (module and class level, as
    :func:`prepare` wraps them), read from its source under ``root`` without importing it."""
    out = []
    for path in sorted((root / package).rglob("*.py")):
        where = path.relative_to(root).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                out.append(f"{where}:{node.name}")
            elif isinstance(node, ast.ClassDef):
                out += [f"{where}:{node.name}.{item.name}" for item in node.body
                        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and not item.name.startswith("__")]
    return out


def _own_functions(package: str) -> list[tuple[object, str, Callable]]:
    """Every function of ``package``'s modules, as (owner, attribute, function): module and class level."""
    out = []
    for name, module in sorted(sys.modules.items()):
        if module is None or not (name == package or name.startswith(package + ".")):
            continue
        for attr, value in sorted(vars(module).items()):
            if isinstance(value, types.FunctionType) and inspect.unwrap(value).__module__ == name:
                out.append((module, attr, value))
            elif isinstance(value, type) and value.__module__ == name:
                for cattr, cvalue in sorted(vars(value).items()):
                    if isinstance(cvalue, types.FunctionType) and not cattr.startswith("__"):
                        out.append((value, cattr, cvalue))
    return out


def _library_targets() -> list[tuple[object, str, Callable, str | None, bool]]:
    out = []
    for module_name, qualname, phase, named in LIBRARY:
        try:
            owner = importlib.import_module(module_name)
        except ImportError:
            continue
        *path, attr = qualname.split(".")
        for part in path:
            owner = getattr(owner, part, None)
        fn = owner.__dict__.get(attr) if owner is not None else None
        if isinstance(fn, types.FunctionType):
            out.append((owner, attr, fn, phase, named))
    return out


def prepare(library: str, app=None, engine=None, package: str = "target_app", names: bool = True) -> Tracker:
    """Wrappers for the phases' functions, ``package``'s own functions and ``app``'s views and hooks, made but
    not yet in place: :meth:`Tracker.activate` puts them there (a counting process prepares them once, before
    it forks, and each operation's process puts them in place after its total is counted).

    The engine's dialect class gets its own overrides of the driver's
    methods wrapped too.
    """
    tracker = Tracker(library)
    views = {id(fn) for fn in (app.view_functions.values() if app is not None else ())}
    replaced: dict[int, Callable] = {}
    swaps = tracker.swaps

    def replace(owner, attr, fn, phase, named):
        if getattr(fn, "__phases_wrapped__", False):
            return
        if id(fn) not in replaced:
            replaced[id(fn)] = wrap(tracker, fn, VIEW if id(fn) in views else phase,
                                    function_name(fn) if named and names else None)
        swaps.append((setattr, owner, attr, replaced[id(fn)]))

    targets = _library_targets()
    if engine is not None:
        for klass in type(engine.dialect).__mro__:
            if klass.__module__.startswith("sqlalchemy.engine.default"):
                break
            targets += [(klass, attr, klass.__dict__[attr], EXECUTE, False) for attr in DRIVER_METHODS
                        if isinstance(klass.__dict__.get(attr), types.FunctionType)]
    for owner, attr, fn, phase, named in targets:
        replace(owner, attr, fn, phase, named)
    if names:
        for owner, attr, fn in _own_functions(package):
            replace(owner, attr, fn, None, True)
    # What refers to a wrapped function by value: the package's imported names, the app's views and hooks,
    # the template filters.
    containers = [vars(m) for n, m in sys.modules.items() if m is not None and (n == package or
                                                                                n.startswith(package + "."))]
    if app is not None:
        for fn in app.view_functions.values():
            if id(fn) not in replaced:
                replaced[id(fn)] = wrap(tracker, fn, VIEW, function_name(fn) if names else None)
        containers += [app.view_functions, app.jinja_env.filters, app.jinja_env.globals, app.jinja_env.tests]
        for hooks in _FLASK_HOOKS:
            lists = getattr(app, hooks, {})
            for funcs in lists.values() if isinstance(lists, dict) else [lists]:
                swaps.append((_replace_all, funcs, [replaced.get(id(f), f) for f in funcs], None))
    for container in containers:
        for key, value in list(container.items()):
            if id(value) in replaced and container[key] is not replaced[id(value)]:
                swaps.append((dict.__setitem__, container, key, replaced[id(value)]))
    return tracker


def _replace_all(items: list, new: list, _unused) -> None:
    items[:] = new


def install(library: str, app=None, engine=None, package: str = "target_app", names: bool = True) -> Tracker:
    """:func:`prepare` the wrappers and put them in place; returns the tracker."""
    tracker = prepare(library, app, engine, package, names)
    tracker.activate()
    return tracker
