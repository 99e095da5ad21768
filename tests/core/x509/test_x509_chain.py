"""certbench.core.x509.chain: ordering, client-auth validation, signatures, key matching."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID
from x509_factory import NOW, make_cert, make_chain, new_key, shared_chain

from certbench.core.errors import InputError
from certbench.core.x509.chain import (
    ChainError,
    ChainReport,
    KeyMismatchError,
    check_key_matches_certificate,
    order_chain,
    validate_client_chain,
    verify_signed_by,
)
from certbench.core.x509.parse import to_der


def ders(certs):
    return [to_der(c) for c in certs]


@pytest.fixture(scope="module")
def chain():
    return shared_chain()


@pytest.fixture(scope="module")
def other():
    """A second, unrelated PKI with an intermediate of a different name."""
    return make_chain(inter_cn="MediCorp Devices CA 2", root_cn="Other Root", leaf_cn="mx200-sn2")


# --- verify_signed_by -----------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "pss"), [("ec-p256", False), ("ec-p384", False), ("rsa-2048", False), ("rsa-2048", True)])
def test_verify_signed_by_algorithms(spec, pss):
    c = shared_chain(spec, pss)
    assert verify_signed_by(c.leaf.cert, c.inter.cert)
    assert verify_signed_by(c.inter.cert, c.root.cert)
    assert verify_signed_by(c.root.cert, c.root.cert)
    assert not verify_signed_by(c.leaf.cert, c.root.cert)
    assert not verify_signed_by(c.inter.cert, c.leaf.cert)


def test_verify_signed_by_ignores_names_and_rejects_other_keys(chain, other):
    assert not verify_signed_by(chain.leaf.cert, other.inter.cert)
    # Signed by the right key under a wrong issuer name: the signature still verifies.
    odd = make_cert("odd", issuer=chain.inter, issuer_name=other.inter.cert.subject)
    assert verify_signed_by(odd.cert, chain.inter.cert)


def test_verify_signed_by_mixed_key_types():
    ec_chain, rsa_chain = shared_chain("ec-p256"), shared_chain("rsa-2048")
    assert not verify_signed_by(ec_chain.leaf.cert, rsa_chain.inter.cert)
    assert not verify_signed_by(rsa_chain.leaf.cert, ec_chain.inter.cert)


# --- order_chain ---------------------------------------------------------------------------------


def test_order_chain_any_input_order(chain):
    expected = ders(chain.certs)
    for order in ([0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]):
        assert ders(order_chain([chain.certs[i] for i in order])) == expected


def test_order_chain_drops_duplicates(chain):
    doubled = [chain.root.cert, chain.leaf.cert, chain.inter.cert, chain.leaf.cert, chain.root.cert]
    assert ders(order_chain(doubled)) == ders(chain.certs)


def test_order_chain_single_and_partial(chain):
    assert ders(order_chain([chain.leaf.cert])) == [to_der(chain.leaf.cert)]
    assert ders(order_chain([chain.inter.cert, chain.leaf.cert])) == ders(chain.certs[:2])


def test_order_chain_longer_chain():
    root = make_cert("R", ca=True)
    policy = make_cert("P", issuer=root, ca=True)
    issuing = make_cert("I", issuer=policy, ca=True, path_length=0)
    leaf = make_cert("L", issuer=issuing)
    certs = [root.cert, policy.cert, issuing.cert, leaf.cert]
    shuffled = certs[:]
    random.Random(4).shuffle(shuffled)
    assert ders(order_chain(shuffled)) == ders([leaf.cert, issuing.cert, policy.cert, root.cert])


def test_order_chain_stray_certificate(chain, other):
    with pytest.raises(ChainError, match="'MediCorp Devices CA 2' does not belong to the chain of 'mx200-sn1'") as info:
        order_chain([chain.leaf.cert, other.inter.cert, chain.inter.cert, chain.root.cert])
    assert info.value.problems and isinstance(info.value, InputError)


def test_order_chain_two_leaves(chain):
    sibling = make_cert("mx200-sn9", issuer=chain.inter)
    with pytest.raises(ChainError, match="same issuer; a chain has one leaf"):
        order_chain([chain.leaf.cert, sibling.cert, chain.inter.cert])


def test_order_chain_empty():
    with pytest.raises(ChainError, match="No certificates"):
        order_chain([])


def test_order_chain_fork_with_two_issuers(chain):
    # The same intermediate key certified twice (renewed CA certificate): a fork.
    renewed = make_cert("MediCorp Devices CA 1", issuer=chain.root, ca=True, key=chain.inter.key)
    with pytest.raises(ChainError, match="two possible issuers"):
        order_chain([chain.leaf.cert, chain.inter.cert, renewed.cert])


# --- validate_client_chain: good chains ----------------------------------------------------------------


def test_full_chain_to_root(chain):
    report = validate_client_chain(chain.leaf.cert, [chain.inter.cert], [chain.root.cert])
    assert isinstance(report, ChainReport) and report
    assert ders(report.path) == ders(chain.certs)
    assert not report.partial and report.warnings == []
    assert to_der(report.leaf) == to_der(chain.leaf.cert) and to_der(report.anchor) == to_der(chain.root.cert)
    assert ders(report.intermediates) == [to_der(chain.inter.cert)]


def test_partial_chain_intermediate_is_the_anchor(chain):
    report = validate_client_chain(chain.leaf.cert, [], [chain.inter.cert])
    assert report and report.partial
    assert ders(report.path) == ders(chain.certs[:2])


@pytest.mark.parametrize(("spec", "pss"), [("ec-p384", False), ("rsa-2048", False), ("rsa-2048", True)])
def test_other_algorithms(spec, pss):
    c = shared_chain(spec, pss)
    assert validate_client_chain(c.leaf.cert, [c.inter.cert], [c.root.cert])


def test_input_noise_is_tolerated(chain, other):
    """The intermediates list may hold the leaf, the anchor and unrelated certificates."""
    report = validate_client_chain(
        chain.leaf.cert,
        [other.inter.cert, chain.leaf.cert, chain.root.cert, chain.inter.cert, chain.inter.cert],
        [other.root.cert, chain.root.cert],
    )
    assert ders(report.path) == ders(chain.certs)


def test_leaf_without_eku_or_with_any_eku_is_accepted(chain):
    no_eku = make_cert("mx200-sn3", issuer=chain.inter, eku=None)
    any_eku = make_cert("mx200-sn4", issuer=chain.inter, eku=[ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE])
    no_ku = make_cert("mx200-sn5", issuer=chain.inter, key_usage=None)
    for leaf in (no_eku, any_eku, no_ku):
        assert validate_client_chain(leaf.cert, [], [chain.inter.cert])


def test_longer_chain_within_path_length():
    root = make_cert("R", ca=True, path_length=1)
    policy = make_cert("P", issuer=root, ca=True, path_length=0)
    leaf = make_cert("L", issuer=policy)
    assert validate_client_chain(leaf.cert, [policy.cert], [root.cert])


def test_expiring_intermediate_is_a_warning_not_an_error(chain):
    at = chain.inter.cert.not_valid_after_utc - timedelta(days=10)
    leaf = make_cert("late-unit", issuer=chain.inter, not_after=chain.inter.cert.not_valid_after_utc)
    report = validate_client_chain(leaf.cert, [], [chain.inter.cert], at=at)
    assert any("MediCorp Devices CA 1" in w and "expires in" in w for w in report.warnings)


# --- validate_client_chain: bad chains -------------------------------------------------------------------


def test_leaf_not_signed_by_the_named_intermediate(chain, other):
    with pytest.raises(ChainError) as info:
        validate_client_chain(chain.leaf.cert, [], [other.inter.cert])
    assert info.value.message.startswith(
        "The leaf 'mx200-sn1' is not signed by intermediate 'MediCorp Devices CA 2'"
    )
    assert "issued by 'MediCorp Devices CA 1'" in info.value.message
    with pytest.raises(ChainError, match="The leaf 'mx200-sn1' is not signed by intermediate 'MediCorp Devices CA 2'"):
        validate_client_chain(chain.leaf.cert, [other.inter.cert], [chain.root.cert])


def test_intermediate_with_same_name_but_other_key(chain):
    impostor = make_cert("MediCorp Devices CA 1", issuer=chain.root, ca=True, path_length=0)
    with pytest.raises(ChainError, match="not signed by intermediate 'MediCorp Devices CA 1': the names match"):
        validate_client_chain(chain.leaf.cert, [], [impostor.cert])


def test_missing_intermediate(chain):
    with pytest.raises(ChainError, match="does not reach the trust anchor 'MediCorp Root CA'.*issued by 'MediCorp Devices CA 1'"):
        validate_client_chain(chain.leaf.cert, [], [chain.root.cert])


def test_wrong_root(chain, other):
    with pytest.raises(ChainError, match="stops at the intermediate 'MediCorp Devices CA 1'"):
        validate_client_chain(chain.leaf.cert, [chain.inter.cert], [other.root.cert])


def test_names_do_not_chain(chain, other):
    odd = make_cert("mx200-odd", issuer=chain.inter, issuer_name=other.inter.cert.subject)
    with pytest.raises(ChainError, match="names 'MediCorp Devices CA 2' as its issuer, but it was signed by 'MediCorp Devices CA 1'"):
        validate_client_chain(odd.cert, [], [chain.inter.cert])


def test_no_anchor(chain):
    with pytest.raises(ChainError, match="No trust anchor"):
        validate_client_chain(chain.leaf.cert, [chain.inter.cert], [])


def test_non_ca_offered_as_intermediate(chain):
    not_ca = make_cert("Bench PC", issuer=chain.root, ca=False, key_usage="ca", eku=None)
    leaf = make_cert("mx200-sn1", issuer=not_ca)
    with pytest.raises(ChainError) as info:
        validate_client_chain(leaf.cert, [not_ca.cert], [chain.root.cert])
    assert "The intermediate 'Bench PC' is not a CA certificate (basicConstraints CA:FALSE)" in info.value.message
    assert info.value.hint
    # The same certificate used as a partial-chain anchor is refused the same way.
    with pytest.raises(ChainError, match="'Bench PC' is not a CA certificate"):
        validate_client_chain(leaf.cert, [], [not_ca.cert])


def test_intermediate_without_basic_constraints(chain):
    no_bc = make_cert("Legacy CA", issuer=chain.root, ca=None, key_usage="ca", eku=None)
    leaf = make_cert("mx200-sn1", issuer=no_bc)
    with pytest.raises(ChainError, match="'Legacy CA' is not a CA certificate \\(it has no basicConstraints\\)"):
        validate_client_chain(leaf.cert, [no_bc.cert], [chain.root.cert])


def test_expired_intermediate(chain):
    expired = make_cert("Old CA", issuer=chain.root, ca=True, path_length=0,
                        not_before=NOW - timedelta(days=800), not_after=NOW - timedelta(days=2))
    leaf = make_cert("mx200-sn1", issuer=expired, not_before=NOW - timedelta(days=10))
    with pytest.raises(ChainError, match=r"The intermediate 'Old CA' expired on \d{4}-\d\d-\d\d") as info:
        validate_client_chain(leaf.cert, [expired.cert], [chain.root.cert])
    assert "clock" in info.value.hint
    with pytest.raises(ChainError, match="The intermediate 'Old CA' expired"):
        validate_client_chain(leaf.cert, [], [expired.cert])


def test_not_yet_valid_intermediate(chain):
    future = make_cert("Future CA", issuer=chain.root, ca=True, path_length=0,
                       not_before=NOW + timedelta(days=5), not_after=NOW + timedelta(days=900))
    leaf = make_cert("mx200-sn1", issuer=future)
    with pytest.raises(ChainError, match="The intermediate 'Future CA' is not valid yet: it becomes valid on"):
        validate_client_chain(leaf.cert, [future.cert], [chain.root.cert])
    # ... and the same chain passes once that day has come.
    assert validate_client_chain(leaf.cert, [future.cert], [chain.root.cert], at=NOW + timedelta(days=6))


def test_expired_leaf_and_anchor_via_at(chain):
    at = chain.leaf.cert.not_valid_after_utc + timedelta(days=1)
    with pytest.raises(ChainError, match="The leaf 'mx200-sn1' expired on"):
        validate_client_chain(chain.leaf.cert, [chain.inter.cert], [chain.root.cert], at=at)
    far = chain.root.cert.not_valid_after_utc + timedelta(days=1)
    with pytest.raises(ChainError) as info:
        validate_client_chain(chain.leaf.cert, [chain.inter.cert], [chain.root.cert], at=far)
    assert len(info.value.problems) == 3
    assert "The root 'MediCorp Root CA' expired" in info.value.message
    assert info.value.message.startswith("The chain of 'mx200-sn1' has 3 problems: (1)")


def test_path_length_exceeded():
    root = make_cert("R", ca=True, path_length=0)
    inter = make_cert("I", issuer=root, ca=True)
    leaf = make_cert("L", issuer=inter)
    with pytest.raises(ChainError, match=r"The root 'R' allows at most 0 intermediate CA\(s\) below it \(pathLen 0\), but the chain has 1"):
        validate_client_chain(leaf.cert, [inter.cert], [root.cert])


def test_issuer_without_key_cert_sign(chain):
    no_sign = make_cert("No-Sign CA", issuer=chain.root, ca=True, key_usage={"digital_signature": True}, eku=None)
    leaf = make_cert("mx200-sn1", issuer=no_sign)
    with pytest.raises(ChainError, match="'No-Sign CA' may not sign certificates \\(its keyUsage lacks keyCertSign\\)"):
        validate_client_chain(leaf.cert, [no_sign.cert], [chain.root.cert])


def test_leaf_key_usage_without_digital_signature(chain):
    leaf = make_cert("mx200-sn1", issuer=chain.inter, key_usage={"key_encipherment": True})
    with pytest.raises(ChainError, match="keyUsage lacks digitalSignature"):
        validate_client_chain(leaf.cert, [], [chain.inter.cert])


def test_leaf_without_client_auth(chain):
    leaf = make_cert("mx200-sn1", issuer=chain.inter, eku=[ExtendedKeyUsageOID.SERVER_AUTH])
    with pytest.raises(ChainError, match="The leaf 'mx200-sn1' is not allowed for client authentication: its extended key usage is serverAuth"):
        validate_client_chain(leaf.cert, [], [chain.inter.cert])


def test_intermediate_eku_excludes_client_auth(chain):
    tls_ca = make_cert("TLS CA", issuer=chain.root, ca=True, eku=[ExtendedKeyUsageOID.SERVER_AUTH])
    leaf = make_cert("mx200-sn1", issuer=tls_ca)
    with pytest.raises(ChainError, match="'TLS CA' limits its extended key usage to serverAuth"):
        validate_client_chain(leaf.cert, [tls_ca.cert], [chain.root.cert])


# --- check_key_matches_certificate ---------------------------------------------------------------------


def test_key_matches(chain):
    check_key_matches_certificate(chain.leaf.key, chain.leaf.cert)
    check_key_matches_certificate(chain.leaf.key.public_key(), chain.leaf.cert)


@pytest.mark.parametrize("spec", ["ec-p256", "rsa-2048"])
def test_key_mismatch(chain, spec):
    with pytest.raises(KeyMismatchError, match="does not belong to the certificate 'mx200-sn1'") as info:
        check_key_matches_certificate(new_key(spec), chain.leaf.cert)
    assert isinstance(info.value, InputError) and info.value.hint


def test_renewed_intermediate_next_to_expired_copy_is_used(chain):
    """Same CA key certified twice: the expired copy must not hide the renewed one."""
    key = new_key()
    expired = make_cert("Renewed CA", issuer=chain.root, ca=True, key=key,
                        not_before=NOW - timedelta(days=800), not_after=NOW - timedelta(days=1))
    renewed = make_cert("Renewed CA", issuer=chain.root, ca=True, key=key)
    leaf = make_cert("mx200-sn1", issuer=renewed)
    report = validate_client_chain(leaf.cert, [expired.cert, renewed.cert], [chain.root.cert])
    assert to_der(report.path[1]) == to_der(renewed.cert)
    with pytest.raises(ChainError, match="'Renewed CA' expired"):
        validate_client_chain(leaf.cert, [expired.cert], [chain.root.cert])


def test_self_signed_leaf(chain):
    lonely = make_cert("mx200-sn1")
    with pytest.raises(ChainError, match="The leaf 'mx200-sn1' is self-signed"):
        validate_client_chain(lonely.cert, [chain.inter.cert], [chain.root.cert])


def test_leaf_given_as_its_own_anchor(chain):
    report = validate_client_chain(chain.leaf.cert, [], [chain.leaf.cert])
    assert len(report.path) == 1
