#!/usr/bin/env bash
# Re-fetch the vendored site assets from the npm registry and check them
# against MANIFEST.json. Needs npm. Usage: scripts/vendor/update.sh [--write]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 - "$here" "$work" "${1:-}" <<'PY'
import hashlib, json, subprocess, sys, tarfile
from pathlib import Path
here, work, write = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "--write"
manifest = json.loads((here / "MANIFEST.json").read_text())
tarballs = {}
bad = 0
for entry in manifest["files"]:
    spec = entry["npm"]
    if spec not in tarballs:
        name = subprocess.run(["npm", "pack", "--silent", spec], cwd=work, check=True,
                              capture_output=True, text=True).stdout.split()[-1]
        tarballs[spec] = tarfile.open(work / name)
    data = tarballs[spec].extractfile("package/" + entry["path"]).read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != entry["sha256"]:
        bad += 1
        print(f"MISMATCH {entry['file']} ({spec}:{entry['path']})")
    if write:
        (here / entry["file"]).write_bytes(data)
print(f"{len(manifest['files'])} files checked, {bad} mismatched")
sys.exit(1 if bad and not write else 0)
PY
