"""No secret and no private key ever enters the registry: attempts are refused and change
nothing, and after a full provisioning run neither the database (every byte of the SQLite
file and its WAL, every row on PostgreSQL) nor an audit export holds any key material or any
keyring secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from registry_helpers import new_unit
from sqlalchemy import MetaData, select

from certbench.core import secrets
from certbench.core.registry import SecretRefused, UnitState

S = UnitState
SECTIGO_PASSWORD = "Sectigo-Pa55word-7f3a91"
API_TOKEN = "SharedAccessSignature sr=medicorp&sig=QWxhZGRpbjpvcGVuIHNlc2FtZQ%3D%3D&se=1999"


def _key_material(key: ec.EllipticCurvePrivateKey) -> dict[str, bytes]:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    return {
        "PEM": pem, "PKCS#8 DER": der, "private scalar": scalar, "private scalar (hex)": scalar.hex().encode(),
        "PEM marker": b"PRIVATE KEY", "sectigo password": SECTIGO_PASSWORD.encode(),
        "API token": API_TOKEN.encode(), "API token signature": b"QWxhZGRpbjpvcGVuIHNlc2FtZQ",
    }


def _database_bytes(registry) -> bytes:
    if registry.backend == "sqlite":
        path = Path(registry.engine.url.database)
        return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())
    metadata = MetaData()
    metadata.reflect(registry.engine)
    chunks = []
    with registry.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    chunks.append(value if isinstance(value, bytes) else str(value).encode())
    return b"\n".join(chunks)


def test_secrets_and_keys_are_refused_and_never_stored(registry, actor, tiny_ca):
    secrets.set_secret(secrets.SECTIGO_PASSWORD, SECTIGO_PASSWORD)
    secrets.register_secret_value(API_TOKEN)
    key = ec.generate_private_key(ec.SECP256R1())  # a workstation-made key, as in the fallback path
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption()).decode()

    unit = new_unit(registry, actor)
    head = registry.head()
    attempts = [
        lambda: registry.transition(unit, S.KEY_READY, actor=actor, private_key=pem),
        lambda: registry.transition(unit, S.KEY_READY, actor=actor, note=pem),
        lambda: registry.transition(unit, S.KEY_READY, actor=actor, key_der=key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())),
        lambda: registry.transition(unit, S.KEY_READY, actor=actor, key=key),
        lambda: registry.transition(unit, S.KEY_READY, actor=actor, sectigoPassword="x"),
        lambda: registry.audit("sectigo.login", actor=actor, details={"request": {"auth": f"Basic {SECTIGO_PASSWORD}"}}),
        lambda: registry.audit("iotc.call", actor=actor, outcome="failed", error=f"401 for token {API_TOKEN}"),
        lambda: registry.audit("iotc.call", actor=actor, details={"headers": [f"Authorization: {API_TOKEN}"]}),
        lambda: registry.fail(unit, f"instrument echoed {pem}", actor=actor),
        lambda: registry.audit("x", actor=actor, details={"api_key": "anything"}),
    ]
    for attempt in attempts:
        with pytest.raises(SecretRefused):
            attempt()
    assert registry.head() == head and registry.get_unit(unit.id).state == S.CN_RESERVED

    # Words that merely contain a secret-looking fragment are fine.
    registry.audit("shipping.noted", actor=actor, details={"shipping_box": "B-7", "spinner": 1, "key_origin": "host"})

    # A complete provisioning with that key's certificate.
    unit = registry.transition(unit, S.KEY_READY, actor=actor, key_origin="host", key_type="EC P-256")
    registry.record_certificate_order(unit, "ica-site-a", "ORD-77", actor=actor)
    certificate = tiny_ca.issue(unit.cn, key.public_key())
    registry.record_certificate_issued(unit.cn, certificate, actor=actor)
    registry.mark_installed(unit.cn, actor=actor)
    registry.transition(unit.cn, S.VERIFIED, actor=actor)
    registry.transition(unit.cn, S.DONE, actor=actor)
    assert registry.verify().ok

    export = "\n".join(str(event.to_dict()) for event in registry.events()).encode()
    stored = _database_bytes(registry)
    assert certificate.public_bytes(serialization.Encoding.DER) in stored  # the scan sees real content
    for label, needle in _key_material(key).items():
        assert needle not in stored, f"{label} found in the database"
        assert needle not in export, f"{label} found in the audit export"
