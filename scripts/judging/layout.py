"""What ``calibrate --layout`` measured, as data: how far each instruction count, phase and function moved
on commits that change only the code's layout. The calibration writes it; the site's trust page judges the
largest moves against the phase tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LayoutReport:
    base: str
    wall_seconds: float = 0.0
    # operation -> kind -> relative move of its instruction count against the base
    moves: dict[str, dict[str, float]] = field(default_factory=dict)
    base_counts: dict[str, float] = field(default_factory=dict)
    # kind -> what the gate flags between the base and it, with today's rules (on no operation's own path)
    flagged: dict[str, list[str]] = field(default_factory=dict)
    # What the history's regressions list shows over the committed kinds, one after the other (on no
    # operation's own path): "benchmark id at commit"
    listed: list[str] = field(default_factory=list)
    touches: dict[str, list[str]] = field(default_factory=dict)
    # "operation, phase" (or "operation, target_app function") -> kind -> [its instructions at the parent,
    # the move] (on no operation's own path)
    phase_moves: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def largest_phase_moves(self, tolerance, top: int = 12) -> list[tuple[str, str, float, float]]:
        """The phases that came nearest their tolerance: (operation and phase, kind, instructions, move)."""
        rows = [(key, kind, before, move) for key, kinds in self.phase_moves.items()
                for kind, (before, move) in kinds.items()]
        rows.sort(key=lambda r: -abs(r[3]) / (tolerance.relative * abs(r[2]) + tolerance.absolute))
        return rows[:top]

    def largest(self, operation: str) -> tuple[str, float]:
        """The kind that moved ``operation`` most, among those that leave its path alone, and the move."""
        moves = {k: v for k, v in self.moves.get(operation, {}).items()
                 if operation not in self.touches.get(k, [])}
        if not moves:
            return "", 0.0
        kind = max(moves, key=lambda k: abs(moves[k]))
        return kind, moves[kind]
