"""Form and query-string validation shared by the HTML and API views."""

from __future__ import annotations

from flask import current_app


class ValidationError(ValueError):
    """A field is missing, too long or malformed. Maps to HTTP 400."""


def required_field(form, name: str, max_len: int, min_len: int = 1, strip: bool = True) -> str:
    value = form.get(name)
    if value is None:
        raise ValidationError(f"{name} is required")
    if strip:
        value = value.strip()
    if len(value) < min_len:
        if min_len <= 1:
            raise ValidationError(f"{name} is required")
        raise ValidationError(f"{name} must be at least {min_len} characters")
    if len(value) > max_len:
        raise ValidationError(f"{name} must be at most {max_len} characters")
    return value


def registration(form) -> tuple[str, str, str]:
    cfg = current_app.config
    username = required_field(form, "username", cfg["USERNAME_MAX"])
    if not all(c.isalnum() or c in "_.-" for c in username):
        raise ValidationError("username may hold only letters, digits, '_', '.' and '-'")
    email = required_field(form, "email", cfg["EMAIL_MAX"])
    local, _, domain = email.partition("@")
    if not local or "." not in domain:
        raise ValidationError("email is not a valid address")
    password = required_field(form, "password", cfg["PASSWORD_MAX"], cfg["PASSWORD_MIN"], strip=False)
    return username, email.lower(), password


def positive_int(args, name: str, default: int, maximum: int | None = None) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise ValidationError(f"{name} must be a positive integer")
    value = int(raw)
    if value < 1:
        raise ValidationError(f"{name} must be a positive integer")
    if maximum is not None and value > maximum:
        raise ValidationError(f"{name} must be at most {maximum}")
    return value
