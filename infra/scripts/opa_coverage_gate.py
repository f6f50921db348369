"""Exact coverage gate for `opa test --coverage` JSON (stdin).

OPA's own --threshold flag compares a rounded float; this gate instead requires that
every policy file of the bundle is in the report and that no line of any file is left
uncovered, so 99.95% can never pass as 100%.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(bundle_dir: str) -> int:
    report = json.load(sys.stdin)
    files: dict[str, dict[str, object]] = report.get("files", {})
    policies = sorted(p.relative_to(bundle_dir).as_posix() for p in Path(bundle_dir).rglob("*.rego"))
    problems: list[str] = []
    for rel in policies:
        entry = next((v for k, v in files.items() if k == rel or k.endswith("/" + rel)), None)
        if entry is None:
            problems.append(f"{rel}: not in the coverage report (never loaded by a test)")
            continue
        for span in entry.get("not_covered") or []:  # type: ignore[attr-defined]
            start, end = span["start"]["row"], span["end"]["row"]
            problems.append(f"{rel}: lines {start}-{end} not covered")
        if not entry.get("covered"):
            problems.append(f"{rel}: no covered lines")
    covered = sum(sum(s["end"]["row"] - s["start"]["row"] + 1 for s in v.get("covered") or [])  # type: ignore[union-attr]
                  for v in files.values())
    missed = sum(sum(s["end"]["row"] - s["start"]["row"] + 1 for s in v.get("not_covered") or [])  # type: ignore[union-attr]
                 for v in files.values())
    print(f"opa coverage: {covered}/{covered + missed} lines covered in {len(files)} files "
          f"(OPA reports {report.get('coverage')}%)")
    for line in dict.fromkeys(problems):
        print(f"  UNCOVERED {line}")
    return 1 if problems or missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
