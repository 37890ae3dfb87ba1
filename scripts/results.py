"""What asv recorded: one commit's results on one machine (:class:`CommitResult`), read from its result files.

Below every command: the judge reads these values, the history and the gate load them.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class CommitResult:
    """What asv recorded for one commit on one machine."""

    commit: str
    values: dict[str, object] = field(default_factory=dict)  # benchmark -> value or list of values
    params: dict[str, list] = field(default_factory=dict)
    stats: dict[str, list] = field(default_factory=dict)
    samples: dict[str, list] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def _flat(value) -> list:
        return value if isinstance(value, list) else [value]

    def failed(self) -> list[str]:
        """Benchmarks with a failure (None) in any parameter combination."""
        return sorted(k for k, v in self.values.items() if any(x is None for x in self._flat(v)))

    def value_list(self, name: str) -> list:
        """``name``'s values, one per parameter combination."""
        return self._flat(self.values.get(name))

    @property
    def build_failed(self) -> bool:
        """Every benchmark failed: asv could not build or install the commit."""
        return bool(self.values) and all(
            x is None for v in self.values.values() for x in self._flat(v)
        )


def param_labels(params: list) -> list[str]:
    """Each parameter combination of asv's stored ``params`` as the gate prints it ("" without params)."""
    if not params:
        return [""]
    return [", ".join(str(v) for v in combo) for combo in itertools.product(*params)]




def load_results(results_dir: Path, machine: str, commit: str | None = None) -> dict[str, CommitResult]:
    """Every commit's results for ``machine`` (only ``commit``'s, when given), keyed by full hash."""
    from asv.results import iter_results_for_machine, iter_results_for_machine_and_hash  # asv only in the venv

    out: dict[str, CommitResult] = {}
    if not (results_dir / machine).is_dir():
        return out
    benchmarks = _benchmark_meta(results_dir)
    found = (iter_results_for_machine_and_hash(str(results_dir), machine, commit) if commit
             else iter_results_for_machine(str(results_dir), machine))
    for res in found:
        cr = out.setdefault(res.commit_hash, CommitResult(res.commit_hash))
        for key in res.get_all_result_keys():
            params = res.get_result_params(key)
            cr.params[key] = params
            cr.values[key] = res.get_result_value(key, params)
            cr.stats[key] = res.get_result_stats(key, params)
            cr.samples[key] = res.get_result_samples(key, params)
            cr.versions[key] = res.benchmark_version.get(key)
            cr.units[key] = benchmarks.get(key, {}).get("unit", "")
    return out


def _benchmark_meta(results_dir: Path) -> dict:
    path = results_dir / "benchmarks.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    data.pop("version", None)
    return data
