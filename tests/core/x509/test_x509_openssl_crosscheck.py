"""Independent cross-check: every chain the engine accepts, `openssl verify -partial_chain
-purpose sslclient` accepts too, and every bad chain below is refused by both.

Known, deliberate differences (not cross-checked, see docs/x509.md): OpenSSL tolerates a CA
certificate without basicConstraints when its keyUsage has keyCertSign, and a client leaf whose
keyUsage has keyAgreement but not digitalSignature; the engine follows RFC 5280 / TLS 1.2+ and
refuses both."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID
from x509_factory import NOW, make_cert, make_chain, shared_chain

from certbench.core.x509.chain import ChainError, validate_client_chain
from certbench.core.x509.parse import to_pem

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(
    not OPENSSL, reason="openssl is not installed: the independent cross-check needs the openssl command"
)


def openssl_verify(tmp_path, leaf, untrusted, anchor, at=None) -> tuple[bool, str]:
    (tmp_path / "anchor.pem").write_text(to_pem([anchor]))
    (tmp_path / "leaf.pem").write_text(to_pem([leaf]))
    cmd = [OPENSSL, "verify", "-partial_chain", "-purpose", "sslclient", "-CAfile", str(tmp_path / "anchor.pem")]
    if untrusted:
        (tmp_path / "untrusted.pem").write_text(to_pem(untrusted))
        cmd += ["-untrusted", str(tmp_path / "untrusted.pem")]
    if at is not None:
        cmd += ["-attime", str(int(at.timestamp()))]
    result = subprocess.run([*cmd, str(tmp_path / "leaf.pem")], capture_output=True, text=True, timeout=30)
    return result.returncode == 0, result.stdout + result.stderr


def engine_verify(leaf, untrusted, anchor, at=None) -> tuple[bool, str]:
    try:
        validate_client_chain(leaf, untrusted, [anchor], at=at)
    except ChainError as exc:
        return False, exc.message
    return True, ""


# Each case: () -> (leaf, untrusted intermediates, anchor, at)
def _full(spec="ec-p256", pss=False):
    c = shared_chain(spec, pss)
    return c.leaf.cert, [c.inter.cert], c.root.cert, None


def _partial():
    c = shared_chain()
    return c.leaf.cert, [], c.inter.cert, None


def _no_eku_leaf():
    c = shared_chain()
    return make_cert("mx200-sn3", issuer=c.inter, eku=None).cert, [], c.inter.cert, None


def _two_levels():
    root = make_cert("R", ca=True, path_length=1)
    policy = make_cert("P", issuer=root, ca=True, path_length=0)
    leaf = make_cert("L", issuer=policy)
    return leaf.cert, [policy.cert], root.cert, None


def _at_future_time_when_valid():
    c = shared_chain()
    future = make_cert("Future CA", issuer=c.root, ca=True, not_before=NOW + timedelta(days=5),
                       not_after=NOW + timedelta(days=900))
    leaf = make_cert("mx200-sn1", issuer=future, not_after=NOW + timedelta(days=400))
    return leaf.cert, [future.cert], c.root.cert, NOW + timedelta(days=6)


GOOD = {
    "ec-p256 full chain": _full,
    "ec-p384 full chain": lambda: _full("ec-p384"),
    "rsa-2048 pkcs1v15": lambda: _full("rsa-2048"),
    "rsa-2048 pss": lambda: _full("rsa-2048", True),
    "partial chain, intermediate anchor": _partial,
    "leaf without EKU": _no_eku_leaf,
    "two CA levels within pathLen": _two_levels,
    "valid at the given time": _at_future_time_when_valid,
}


def _wrong_intermediate():
    c, other = shared_chain(), make_chain(inter_cn="MediCorp Devices CA 2")
    return c.leaf.cert, [], other.inter.cert, None


def _impostor_same_name():
    c = shared_chain()
    impostor = make_cert("MediCorp Devices CA 1", issuer=c.root, ca=True)
    return c.leaf.cert, [], impostor.cert, None


def _missing_intermediate():
    c = shared_chain()
    return c.leaf.cert, [], c.root.cert, None


def _non_ca_intermediate():
    c = shared_chain()
    not_ca = make_cert("Bench PC", issuer=c.root, ca=False, key_usage="ca", eku=None)
    return make_cert("mx200-sn1", issuer=not_ca).cert, [not_ca.cert], c.root.cert, None


def _expired_intermediate():
    c = shared_chain()
    old = make_cert("Old CA", issuer=c.root, ca=True, not_before=NOW - timedelta(days=800),
                    not_after=NOW - timedelta(days=2))
    return make_cert("mx200-sn1", issuer=old).cert, [old.cert], c.root.cert, None


def _not_yet_valid_intermediate():
    leaf, untrusted, anchor, _at = _at_future_time_when_valid()
    return leaf, untrusted, anchor, None


def _expired_leaf():
    c = shared_chain()
    return c.leaf.cert, [c.inter.cert], c.root.cert, c.leaf.cert.not_valid_after_utc + timedelta(days=1)


def _server_auth_leaf():
    c = shared_chain()
    leaf = make_cert("mx200-sn1", issuer=c.inter, eku=[ExtendedKeyUsageOID.SERVER_AUTH])
    return leaf.cert, [], c.inter.cert, None


def _server_auth_intermediate():
    c = shared_chain()
    tls_ca = make_cert("TLS CA", issuer=c.root, ca=True, eku=[ExtendedKeyUsageOID.SERVER_AUTH])
    return make_cert("mx200-sn1", issuer=tls_ca).cert, [tls_ca.cert], c.root.cert, None


def _path_length_exceeded():
    root = make_cert("R", ca=True, path_length=0)
    inter = make_cert("I", issuer=root, ca=True)
    return make_cert("L", issuer=inter).cert, [inter.cert], root.cert, None


def _no_key_cert_sign():
    c = shared_chain()
    ca = make_cert("No-Sign CA", issuer=c.root, ca=True, key_usage={"digital_signature": True}, eku=None)
    return make_cert("mx200-sn1", issuer=ca).cert, [ca.cert], c.root.cert, None


def _leaf_key_encipherment_only():
    c = shared_chain()
    leaf = make_cert("mx200-sn1", issuer=c.inter, key_usage={"key_encipherment": True})
    return leaf.cert, [], c.inter.cert, None


BAD = {
    "leaf not signed by the named intermediate": _wrong_intermediate,
    "same-name intermediate with another key": _impostor_same_name,
    "missing intermediate": _missing_intermediate,
    "non-CA offered as intermediate": _non_ca_intermediate,
    "expired intermediate": _expired_intermediate,
    "not-yet-valid intermediate": _not_yet_valid_intermediate,
    "expired leaf": _expired_leaf,
    "leaf EKU serverAuth only": _server_auth_leaf,
    "intermediate EKU excludes clientAuth": _server_auth_intermediate,
    "pathLen exceeded": _path_length_exceeded,
    "issuer without keyCertSign": _no_key_cert_sign,
    "leaf keyUsage without digitalSignature": _leaf_key_encipherment_only,
}


@pytest.mark.parametrize("case", list(GOOD))
def test_good_chains_pass_both(case, tmp_path):
    leaf, untrusted, anchor, at = GOOD[case]()
    ours, why = engine_verify(leaf, untrusted, anchor, at)
    theirs, output = openssl_verify(tmp_path, leaf, untrusted, anchor, at)
    assert ours, why
    assert theirs, output


@pytest.mark.parametrize("case", list(BAD))
def test_bad_chains_fail_both(case, tmp_path):
    leaf, untrusted, anchor, at = BAD[case]()
    ours, why = engine_verify(leaf, untrusted, anchor, at)
    theirs, output = openssl_verify(tmp_path, leaf, untrusted, anchor, at)
    assert not ours, "the engine accepted a bad chain"
    assert why  # a message for the technician
    assert not theirs, f"openssl accepted it: {output}"
