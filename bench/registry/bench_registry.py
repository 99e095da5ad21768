"""Registry benchmark: the time to reserve-and-record one unit when the registry already holds
10,000 or 1,000,000 units, on SQLite and PostgreSQL. See README.md for how to run it.

Measured, per unit, through the public API exactly as a bench calls it:
  reserve   `Registry.reserve()`: insert the unit (unique CN and serial checked by the
            database), append two audit events to the hash chain, commit (durably).
  lifecycle every registry call of one complete provisioning: reserve, key ready, order
            recorded, certificate recorded (fingerprints computed), installed, verified,
            done: seven transactions and eight audit events.

The pre-existing rows are bulk-loaded (sqlite3 executemany / PostgreSQL COPY) as finished
units: one unit, one installed certificate and two audit events each, forming a valid chain
(the benchmark verifies nothing else depends on it: `audit verify` would pass).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from certbench.core.registry import Actor, UnitState, open_registry
from certbench.core.registry.audit import GENESIS, event_hash

ROOT = Path(__file__).resolve().parents[2]
ACTOR = Actor("bench-operator", "BENCH-PERF")
MODEL = "MX-200"


# -- bulk loading ----------------------------------------------------------------------------


def _rows(n: int):
    """Units, certificates and audit events for n finished units, with a valid hash chain."""
    base = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    units, certs, events = [], [], []
    prev = GENESIS
    seq = 0
    for i in range(1, n + 1):
        at = base + dt.timedelta(seconds=i)
        cn = f"{MODEL.lower()}-pre{i:08d}"
        serial = f"PRE{i:08d}"
        units.append((i, cn, serial, MODEL, "09506000134352", "done", 1, "4.2.1", "loader", "BENCH-OLD",
                      "loader", "BENCH-OLD", at, at))
        digest = hashlib.sha256(cn.encode()).hexdigest()
        certs.append((i, i, 1, "installed", "ica-site-a", "CN=Registry Bench Intermediate", f"ORD-{i}",
                      f"{i:032x}", digest, digest[:40], at, at + dt.timedelta(days=3650), at, at, at))
        for event, details in (("unit.scanned", f'{{"model":"{MODEL}","serial":"{serial}","to":"scanned"}}'),
                               ("unit.done", '{"from":"registered","generation":1,"to":"done"}')):
            seq += 1
            fields = {"seq": seq, "occurred_at": at, "event": event, "actor": "loader", "workstation": "BENCH-OLD",
                      "subject": cn, "unit_id": i, "outcome": "ok", "error": None, "details": details,
                      "prev_hash": prev}
            prev = event_hash(fields)
            events.append((seq, at, event, "loader", "BENCH-OLD", cn, i, "ok", None, details, fields["prev_hash"], prev))
    return units, certs, events, (seq, prev)


UNIT_COLS = ("id", "cn", "serial", "model", "gtin", "state", "generation", "firmware", "operator", "workstation",
             "last_operator", "last_workstation", "created_at", "updated_at")
CERT_COLS = ("id", "unit_id", "generation", "status", "intermediate", "issuer_dn", "order_id", "serial_number",
             "sha256", "sha1", "not_before", "not_after", "ordered_at", "issued_at", "installed_at")
EVENT_COLS = ("seq", "occurred_at", "event", "actor", "workstation", "subject", "unit_id", "outcome", "error",
              "details", "prev_hash", "hash")


def _sqlite_time(value):
    # SQLAlchemy's SQLite DATETIME storage format (UTC, naive).
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, dt.datetime) else value


def bulk_load(registry, n: int) -> float:
    start = time.perf_counter()
    units, certs, events, (head_seq, head_hash) = _rows(n)
    raw = registry.engine.raw_connection()
    try:
        if registry.backend == "sqlite":
            cur = raw.cursor()
            cur.execute("BEGIN IMMEDIATE")
            for table, cols, rows in (("units", UNIT_COLS, units), ("certificates", CERT_COLS, certs),
                                      ("audit_events", EVENT_COLS, events)):
                sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
                cur.executemany(sql, ([_sqlite_time(v) for v in row] for row in rows))
            cur.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (head_seq, head_hash))
            cur.execute("COMMIT")
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # same reason as CHECKPOINT below
            cur.execute("ANALYZE")
        else:
            cur = raw.cursor()
            cur.execute("SET statement_timeout = 0")  # the registry's 30 s limit is for bench work, not a bulk load
            for table, cols, rows in (("units", UNIT_COLS, units), ("certificates", CERT_COLS, certs),
                                      ("audit_events", EVENT_COLS, events)):
                with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            cur.execute("UPDATE audit_head SET seq = %s, hash = %s WHERE id = 1", (head_seq, head_hash))
            # Keep the serial ids ahead of the loaded rows.
            cur.execute("SELECT setval(pg_get_serial_sequence('units', 'id'), %s)", (n,))
            cur.execute("SELECT setval(pg_get_serial_sequence('certificates', 'id'), %s)", (n,))
            raw.commit()
            pg = raw.driver_connection
            pg.autocommit = True
            pg.execute("VACUUM ANALYZE")
            # Flush the load's dirty pages now, not during the measurement (a registry in
            # steady state does not have a gigabyte of fresh writes pending).
            pg.execute("CHECKPOINT")
            pg.autocommit = False
    finally:
        raw.close()
    return time.perf_counter() - start


# -- measuring -------------------------------------------------------------------------------


class Certs:
    """Certificates signed up front, so signing time is not counted."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.leaf_key = ec.generate_private_key(ec.SECP256R1()).public_key()
        self.issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Registry Bench Intermediate")])

    def issue(self, cn: str) -> x509.Certificate:
        now = dt.datetime.now(dt.UTC)
        return (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
                .issuer_name(self.issuer).public_key(self.leaf_key)
                .serial_number(x509.random_serial_number())
                .not_valid_before(now).not_valid_after(now + dt.timedelta(days=365))
                .sign(self.key, hashes.SHA256()))


def measure_reserve(registry, ops: int, tag: str) -> list[float]:
    times = []
    for i in range(ops):
        serial = f"{tag}{i:06d}"
        start = time.perf_counter()
        registry.reserve(serial, MODEL, "09506000134352", f"{MODEL.lower()}-{serial.lower()}", actor=ACTOR)
        times.append(time.perf_counter() - start)
    return times


def measure_lifecycle(registry, ops: int, tag: str, certs: Certs) -> list[float]:
    serials = [f"{tag}{i:06d}" for i in range(ops)]
    issued = {s: certs.issue(f"{MODEL.lower()}-{s.lower()}") for s in serials}
    times = []
    for serial in serials:
        cn = f"{MODEL.lower()}-{serial.lower()}"
        start = time.perf_counter()
        unit = registry.reserve(serial, MODEL, "09506000134352", cn, actor=ACTOR)
        unit = registry.transition(unit, UnitState.KEY_READY, actor=ACTOR, key_origin="device", firmware="4.2.1")
        registry.record_certificate_order(unit, "ica-site-a", f"ORD-{serial}", actor=ACTOR)
        registry.record_certificate_issued(cn, issued[serial], actor=ACTOR)
        registry.mark_installed(cn, actor=ACTOR)
        registry.transition(cn, UnitState.VERIFIED, actor=ACTOR)
        registry.transition(cn, UnitState.DONE, actor=ACTOR)
        times.append(time.perf_counter() - start)
    return times


def summary(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


# -- databases -------------------------------------------------------------------------------


def start_postgres(base: str) -> str:
    env = dict(os.environ, CERTBENCH_PG_DIR=base, CERTBENCH_PG_DURABLE="1")
    out = subprocess.run([str(ROOT / ".ci" / "start-postgres.sh")], env=env, capture_output=True, text=True,
                         timeout=180, check=True).stdout.strip()
    return out.split("=", 1)[1]


def fresh_database(engine_name: str, workdir: Path, pg_url: str | None) -> str:
    if engine_name == "sqlite":
        return f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:8]}.db'}"
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return make_url(pg_url).set(database=name).render_as_string(hide_password=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--ops", type=int, default=2000, help="reserve() calls per run")
    parser.add_argument("--lifecycle-ops", type=int, default=300, help="complete provisionings per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg-url", default=os.environ.get("CERTBENCH_BENCH_PG_URL"),
                        help="PostgreSQL server URL (default: start a durable throw-away cluster)")
    parser.add_argument("--workdir", default=None, help="where SQLite files go (default: a temp dir)")
    args = parser.parse_args()

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    sizes = [int(s) for s in args.sizes.split(",")]
    own_workdir = args.workdir is None
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="certbench-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    pg_base = None
    pg_url = args.pg_url
    if "postgresql" in engines and not pg_url:
        pg_base = tempfile.mkdtemp(prefix="certbench-bench-pg-")
        pg_url = start_postgres(pg_base)
    certs = Certs()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpu(s); runs={args.runs}, reserve ops/run={args.ops}, "
          f"lifecycle ops/run={args.lifecycle_ops}; times in ms per unit", flush=True)
    print(f"{'engine':<11}{'units before':>13}{'load s':>8}  {'reserve median':>15}{'p99':>8}  "
          f"{'lifecycle median':>17}{'p99':>8}", flush=True)
    try:
        for engine_name in engines:
            for size in sizes:
                url = fresh_database(engine_name, workdir, pg_url)
                registry = open_registry(url)
                load_s = bulk_load(registry, size)
                reserve_runs, life_runs = [], []
                for run in range(args.runs):
                    measure_reserve(registry, 50, f"W{run}R")  # warm caches and the pool
                    reserve_runs.append(summary(measure_reserve(registry, args.ops, f"R{run}N")))
                    life_runs.append(summary(measure_lifecycle(registry, args.lifecycle_ops, f"L{run}N", certs)))
                report = registry.verify()
                assert report.ok, report.broken
                med = statistics.median(r[0] for r in reserve_runs)
                p99 = statistics.median(r[1] for r in reserve_runs)
                lmed = statistics.median(r[0] for r in life_runs)
                lp99 = statistics.median(r[1] for r in life_runs)
                print(f"{engine_name:<11}{size:>13,}{load_s:>8.1f}  {med:>15.2f}{p99:>8.2f}  {lmed:>17.2f}{lp99:>8.2f}"
                      f"   (chain of {report.events:,} events verified)", flush=True)
                registry.close()
                if engine_name == "sqlite":
                    for suffix in ("", "-wal", "-shm"):
                        Path(make_url(url).database + suffix).unlink(missing_ok=True)
    finally:
        if own_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
        if pg_base:
            subprocess.run([str(ROOT / ".ci" / "start-postgres.sh"), "--stop", pg_base], capture_output=True, timeout=120)
            shutil.rmtree(pg_base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
