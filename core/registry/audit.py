"""The tamper-evident audit chain.

Each event row carries `prev_hash` (the previous row's `hash`) and its own `hash`:

    hash = SHA-256( canonical(row) )  as 64 lower-case hex digits
    canonical(row) = UTF-8 of JSON with keys sorted, no spaces, non-ASCII kept, of
        {"v": 1, "seq": int, "at": "YYYY-MM-DDTHH:MM:SS.ffffffZ", "event": str,
         "actor": str, "workstation": str, "subject": str|null, "unit_id": int|null,
         "outcome": "ok"|"failed"|"refused", "error": str|null,
         "details": str (the stored canonical JSON text of the details object),
         "prev": str}

The first row's `prev` is 64 zeros. Editing any field of a row changes its hash; deleting a
row leaves a gap in `seq` and a `prev` that no longer matches; reordering breaks both; cutting
rows off the end no longer matches the head row. `verify_chain` reports the first such row.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import PurePath
from typing import Any

from certbench.core import secrets
from certbench.core.registry.errors import SecretRefused

FORMAT_VERSION = 1
GENESIS = "0" * 64
OUTCOMES = ("ok", "failed", "refused")


def utc(value: datetime) -> datetime:
    """The same instant in UTC, to the microsecond; naive values (SQLite) are UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# The columns of an exported audit trail (CLI `audit export --csv`, History's export), in
# chain order with the hashes, so an export can be checked on its own.
EXPORT_COLUMNS = (
    "seq", "occurred_at", "event", "actor", "workstation", "subject", "unit_id", "outcome",
    "error", "details", "prev_hash", "hash",
)


def format_time(value: datetime) -> str:
    return utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_bytes(fields: Mapping[str, Any]) -> bytes:
    record = {
        "v": FORMAT_VERSION,
        "seq": fields["seq"],
        "at": format_time(fields["occurred_at"]),
        "event": fields["event"],
        "actor": fields["actor"],
        "workstation": fields["workstation"],
        "subject": fields["subject"],
        "unit_id": fields["unit_id"],
        "outcome": fields["outcome"],
        "error": fields["error"],
        "details": fields["details"],
        "prev": fields["prev_hash"],
    }
    return canonical_json(record).encode("utf-8")


def event_hash(fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(fields)).hexdigest()


# --- keeping secrets out ---------------------------------------------------------------------

# Detail keys that name a secret; their values never enter the registry, whatever they hold.
_SECRET_WORDS = frozenset({
    "password", "passwd", "passphrase", "pass", "pwd", "secret", "token", "private", "privkey",
    "pin", "credential", "credentials", "pfx", "p12", "pkcs12", "apikey",
})
# Any PEM private key block, encrypted or not ("[A-Z ]*" covers RSA, EC, ENCRYPTED, ...).
_PRIVATE_KEY_PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")


def _refuse(where: str, why: str) -> SecretRefused:
    return SecretRefused(
        f"Refused to write {where} to the audit trail: it {why}.",
        "Secrets and private keys never go into the registry. This is a Certbench defect; "
        "report it with the step that was running.",
    )


def _plain(value: Any, where: str) -> Any:
    """Details as JSON-native values, refusing anything that is or may hold a secret."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, Enum):
        return _plain(value.value, where)
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, PurePath):
        value = str(value)
    if isinstance(value, str):
        check_text(value, where)
        return value
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            key = str(key)
            if _named_like_secret(key):
                raise _refuse(f"the detail '{key}'", "is named like a secret")
            out[key] = _plain(item, f"{where}.{key}")
        return out
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [_plain(item, where) for item in items]
    # bytes, key objects, anything else: no way to know it is harmless.
    raise _refuse(f"'{where}' ({type(value).__name__})", "is not plain text or a number")


def _named_like_secret(key: str) -> bool:
    words = re.findall(r"[a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", key).lower())
    joined = {a + b for a, b in zip(words, words[1:])}
    return bool(_SECRET_WORDS.intersection(words) or _SECRET_WORDS.intersection(joined))


def check_text(text: str, where: str) -> None:
    if _PRIVATE_KEY_PEM.search(text):
        raise _refuse(f"'{where}'", "contains a private key")
    if secrets.redact(text) != text:
        raise _refuse(f"'{where}'", "contains a secret value from the keyring")


def details_text(details: Mapping[str, Any] | None) -> str:
    return canonical_json(_plain(dict(details or {}), "details"))


# --- verifying --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BrokenLink:
    seq: int
    reason: str
    row: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "reason": self.reason, "row": self.row}


@dataclass(frozen=True)
class ChainReport:
    events: int
    head_seq: int
    head_hash: str
    broken: BrokenLink | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "broken": self.broken.to_dict() if self.broken else None,
        }


def row_for_report(fields: Mapping[str, Any]) -> dict[str, Any]:
    row = dict(fields)
    row["occurred_at"] = format_time(row["occurred_at"])
    return row


def verify_chain(
    rows: Iterable[Mapping[str, Any]],
    head: tuple[int, str] | None,
    *,
    first_seq: int = 1,
    first_prev: str = GENESIS,
    anchors: Mapping[int, str] | None = None,
) -> ChainReport:
    """Walk rows in `seq` order and report the first one that breaks the chain.

    `head` is (seq, hash) from the head row, or None when checking an export (which has no
    head). `first_seq`/`first_prev` let an export that starts mid-chain (`--since`) be
    checked from its first row. `anchors` are (seq -> hash) values recorded outside the
    database, e.g. printed at the end of a batch: they catch a chain rewritten from scratch.
    """
    anchors = dict(anchors or {})
    expected_seq, expected_prev = first_seq, first_prev
    count, last_seq, last_hash = 0, first_seq - 1, first_prev
    for fields in rows:
        seq = fields["seq"]
        if seq != expected_seq:
            if seq > expected_seq:
                reason = (
                    f"row {expected_seq} is missing" if seq == expected_seq + 1
                    else f"rows {expected_seq} to {seq - 1} are missing"
                ) + " (deleted); this row's previous-hash no longer links to the chain"
            else:
                reason = f"row number {seq} is out of order or duplicated (expected {expected_seq})"
            return ChainReport(count, last_seq, last_hash, BrokenLink(seq, reason, row_for_report(fields)))
        if fields["prev_hash"] != expected_prev:
            reason = "previous-hash does not match the row before it (rows reordered, replaced or deleted)"
            return ChainReport(count, last_seq, last_hash, BrokenLink(seq, reason, row_for_report(fields)))
        if event_hash(fields) != fields["hash"]:
            reason = "row content does not match its hash (the row was edited)"
            return ChainReport(count, last_seq, last_hash, BrokenLink(seq, reason, row_for_report(fields)))
        if seq in anchors and anchors.pop(seq) != fields["hash"]:
            reason = "hash differs from the anchor recorded outside the database (chain rewritten)"
            return ChainReport(count, last_seq, last_hash, BrokenLink(seq, reason, row_for_report(fields)))
        count += 1
        last_seq, last_hash = seq, fields["hash"]
        expected_seq, expected_prev = seq + 1, fields["hash"]
    if anchors:
        seq = min(anchors)
        reason = "an anchored row is no longer in the chain (rows removed)"
        return ChainReport(count, last_seq, last_hash, BrokenLink(seq, reason, {"seq": seq, "hash": anchors[seq]}))
    if head is not None and (head[0], head[1]) != (last_seq, last_hash):
        head_seq, head_hash = head
        if head_seq > last_seq:
            reason = f"the chain ends at row {last_seq} but its head says {head_seq}: rows were cut off the end"
        else:
            reason = "the head record does not match the last row (head or last rows edited)"
        row = {"table": "audit_head", "seq": head_seq, "hash": head_hash}
        return ChainReport(count, last_seq, last_hash, BrokenLink(max(head_seq, last_seq + 1), reason, row))
    return ChainReport(count, last_seq, last_hash)
