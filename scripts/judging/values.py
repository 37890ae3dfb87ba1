"""A benchmark's value with its unit, written the same way in the gate's comment, the regressions list and
the site."""

from __future__ import annotations

from scripts.suite import is_nan


def fmt(value, unit: str) -> str:
    """A value with its unit: "failed" for asv's None, "n/a" for its NaN, a time scaled to s, ms, µs or ns."""
    if value is None:
        return "failed"
    if is_nan(value):
        return "n/a"
    if unit in ("seconds", ""):
        if unit == "seconds":
            for scale, suffix in ((1, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns")):
                if abs(value) >= scale:
                    return f"{value / scale:.3g} {suffix}"
            return f"{value:.3g} s"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.3g} {unit}".strip()
    return f"{value:,.0f} {unit}".strip()
