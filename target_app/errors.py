"""One error shape for the JSON API, and plain pages for HTML routes.

Every API error is ``{"error": {"status": int, "code": str, "message": str}}``.
"""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException


class ApiError(Exception):
    """Raise inside an API view to answer with the JSON error shape."""

    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _default_code(status)


def _default_code(status: int) -> str:
    return {
        400: "bad_request",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        409: "conflict",
    }.get(status, "error")


def json_error(status: int, message: str, code: str | None = None):
    """The one helper every JSON error goes through."""
    body = {"error": {"status": status, "code": code or _default_code(status), "message": message}}
    return jsonify(body), status


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/api"


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def handle_api_error(exc: ApiError):
        return json_error(exc.status, exc.message, exc.code)

    @app.errorhandler(CSRFError)
    def handle_csrf(exc: CSRFError):
        if _wants_json():
            return json_error(400, exc.description, "csrf_failed")
        return render_template("error.html", status=400, message=exc.description), 400

    @app.errorhandler(HTTPException)
    def handle_http(exc: HTTPException):
        status = exc.code or 500
        if _wants_json():
            return json_error(status, exc.description or exc.name)
        return render_template("error.html", status=status, message=exc.description), status
