"""certbench.core.x509.identity: key + CSR for a CN in one step."""

from __future__ import annotations

import pytest

from certbench.core.errors import InputError
from certbench.core.x509.csr import check_csr_signature, csr_common_name
from certbench.core.x509.identity import Identity, make_identity
from certbench.core.x509.keys import KeySpec, same_public_key


@pytest.mark.parametrize("spec", ["ec-p256", "ec-p384", "rsa-2048", KeySpec("EC", 256)])
def test_make_identity(spec):
    identity = make_identity("mx200-sn1", spec)
    assert isinstance(identity, Identity)
    assert identity.common_name == "mx200-sn1" == csr_common_name(identity.csr)
    assert same_public_key(identity.csr.public_key(), identity.key)
    assert str(identity.spec) == str(spec)
    check_csr_signature(identity.csr)


def test_default_is_ec_p256():
    assert str(make_identity("mx200-sn1").spec) == "ec-p256"


def test_two_identities_have_different_keys():
    a, b = make_identity("mx200-sn1"), make_identity("mx200-sn1")
    assert not same_public_key(a.key, b.key)


def test_repr_does_not_show_the_key():
    text = repr(make_identity("mx200-sn1"))
    assert "mx200-sn1" in text and "key" not in text.lower().replace("common_name", "")


@pytest.mark.parametrize("cn", ["MX200 SN1", "", "mx200_sn1", "a" * 65])
def test_invalid_cn_is_refused_by_naming_policy(cn):
    with pytest.raises(InputError):
        make_identity(cn)


def test_validation_can_be_skipped_for_non_device_names():
    identity = make_identity("MediCorp Verification 1234", validate_cn=False)
    assert csr_common_name(identity.csr) == "MediCorp Verification 1234"


def test_unknown_key_spec():
    with pytest.raises(InputError, match="Unsupported key type 'dsa-1024'"):
        make_identity("mx200-sn1", "dsa-1024")
