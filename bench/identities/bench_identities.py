"""Complete identities (key + CSR + signed leaf) per second: Certbench's local CA against the
openssl command loop that Azure's certGen-style scripts run (genpkey, req, x509 per identity).

    .venv/bin/python bench/identities/bench_identities.py [--count 50] [--runs 5]

Both sides keep every private key encrypted (openssl with -aes256/-passin), as Certbench
requires; the median over --runs is reported for each key type, with the ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from certbench.core import secrets
from certbench.core.pki.local import LocalCA
from certbench.core.x509.identity import make_identity
from certbench.core.x509.keys import encrypt_private_key
from certbench.core.x509.parse import to_pem

OPENSSL_KEYGEN = {
    "ec-p256": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    "rsa-2048": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
}
PASS = "bench-only-passphrase"


def certbench_run(ca: LocalCA, key_type: str, count: int) -> float:
    start = time.perf_counter()
    for i in range(count):
        identity = make_identity(f"bench-{key_type}-{i}", key_type)
        ca.issue("medicorp-ica-1", identity.csr)
    return (time.perf_counter() - start) / count


def openssl_run(workdir: Path, key_type: str, count: int) -> float:
    ica_cert, ica_key = workdir / "ica.pem", workdir / "ica.key"

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    start = time.perf_counter()
    for i in range(count):
        key, csr, crt = workdir / f"{i}.key", workdir / f"{i}.csr", workdir / f"{i}.crt"
        run("genpkey", *OPENSSL_KEYGEN[key_type], "-aes256", "-pass", f"pass:{PASS}", "-out", str(key))
        run("req", "-new", "-key", str(key), "-passin", f"pass:{PASS}", "-subj", f"/CN=bench-{i}", "-out", str(csr))
        run("x509", "-req", "-in", str(csr), "-CA", str(ica_cert), "-CAkey", str(ica_key), "-passin",
            f"pass:{PASS}", "-CAcreateserial", "-days", "365", "-sha256", "-out", str(crt))
    return (time.perf_counter() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50, help="identities per run and side")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not shutil.which("openssl"):
        raise SystemExit("openssl is not installed: nothing to compare against.")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CERTBENCH_HOME"] = tmp
        secrets.use_memory_keyring()
        ca = LocalCA(Path(tmp) / "ca").ensure()
        workdir = Path(tmp) / "openssl"
        workdir.mkdir()
        (workdir / "ica.pem").write_text(to_pem([ca.intermediate("medicorp-ica-1").certificate]))
        (workdir / "ica.key").write_bytes(encrypt_private_key(ca._key("medicorp-ica-1"), PASS.encode()))
        print(f"openssl: {subprocess.run(['openssl', 'version'], capture_output=True, text=True).stdout.strip()}")
        print(f"{args.count} identities per run, median of {args.runs} runs\n")
        print(f"{'key type':<10} {'certbench s/id':>15} {'openssl s/id':>14} {'speed-up':>9}")
        for key_type in OPENSSL_KEYGEN:
            ours = statistics.median(certbench_run(ca, key_type, args.count) for _ in range(args.runs))
            theirs = statistics.median(openssl_run(workdir, key_type, args.count) for _ in range(args.runs))
            print(f"{key_type:<10} {ours:>15.5f} {theirs:>14.5f} {theirs / ours:>8.1f}x")


if __name__ == "__main__":
    main()
