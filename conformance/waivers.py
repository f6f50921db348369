"""Waivers: contracts a team has decided not to judge for now, each with a reason.

`--skip-contract ID` waives one contract for this run; `--waivers FILE` reads
    waivers:
      - {contract: identity.rotation, reason: "issuer owned by SRE (OPS-123)", expires: 2027-01-31}
An expired waiver is a usage error (exit 4), so a waiver can never silently become permanent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import yaml

from conformance.errors import UsageError
from conformance.suggest import did_you_mean

FIELDS = ("contract", "reason", "expires")


@dataclass(frozen=True)
class Waiver:
    contract: str
    reason: str
    expires: dt.date | None = None
    source: str = "--skip-contract"

    def skip_reason(self) -> str:
        until = f", expires {self.expires.isoformat()}" if self.expires else ""
        return f"waived ({self.source}{until}): {self.reason}"


def _date(value: object, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise UsageError(f"{where}: expires {value!r} is not a date (YYYY-MM-DD)") from None


def load(path_text: str, known: set[str], today: dt.date | None = None) -> list[Waiver]:
    """Read a waiver file; every mistake (and every expired waiver) is one UsageError line."""
    where = f"--waivers {path_text}"
    path = Path(path_text)
    if not path.is_file():
        raise UsageError(f"{where}: file not found")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UsageError(f"{where}: not valid YAML ({type(exc).__name__})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("waivers"), list):
        raise UsageError(f"{where}: top level must be a mapping with a 'waivers' list")
    for key in doc:
        if key != "waivers":
            raise UsageError(f"{where}: unknown key {key!r}{did_you_mean(str(key), ['waivers'])}")
    today = today or dt.datetime.now(dt.UTC).date()
    out: list[Waiver] = []
    for i, item in enumerate(doc["waivers"]):
        at = f"{where}: waivers[{i}]"
        if not isinstance(item, dict):
            raise UsageError(f"{at} must be a mapping with contract, reason, expires")
        for key in item:
            if key not in FIELDS:
                raise UsageError(f"{at}: unknown key {key!r}{did_you_mean(str(key), FIELDS)}")
        contract, reason = item.get("contract"), item.get("reason")
        if not isinstance(contract, str) or contract not in known:
            raise UsageError(f"{at}: contract {contract!r} is not in the catalog"
                             f"{did_you_mean(str(contract), known)}")
        if not isinstance(reason, str) or not reason.strip():
            raise UsageError(f"{at} ({contract}): a waiver needs a non-empty reason")
        if "expires" not in item:
            raise UsageError(f"{at} ({contract}): a waiver needs an expiry date (expires: YYYY-MM-DD)")
        expires = _date(item["expires"], at)
        if expires < today:
            raise UsageError(f"{at}: the waiver of {contract} expired on {expires.isoformat()} "
                             f"({reason.strip()}): fix the contract, or renew or remove the waiver")
        out.append(Waiver(contract, reason.strip(), expires, source=path.name))
    return out


def from_options(skip_ids: list[str], waiver_file: str | None, known: set[str]) -> dict[str, Waiver]:
    """All waivers of this run by contract id (a file entry wins over a bare --skip-contract)."""
    waived: dict[str, Waiver] = {}
    for cid in skip_ids:
        if cid not in known:
            raise UsageError(f"--skip-contract: {cid!r} is not in the contract catalog{did_you_mean(cid, known)}")
        waived[cid] = Waiver(cid, "skipped on the command line")
    if waiver_file:
        waived.update({w.contract: w for w in load(waiver_file, known)})
    return waived
