"""Property tests for the parsers and chain ordering.

- Whatever bytes or text arrive, the parsers either return certificates / a CSR or raise their
  InputError subclass; never anything else.
- Any re-encoding the bench meets (PEM with CRLF, blank lines, indentation, text around it;
  DER; PKCS#7 PEM/DER; base64 of PEM; bare base64 of DER) yields the same certificates.
- order_chain puts any shuffle (with duplicates) back in leaf-to-root order.
"""

from __future__ import annotations

import base64
import functools

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from x509_factory import cached_key, make_cert, shared_chain

from certbench.core.x509.chain import order_chain
from certbench.core.x509.csr import CsrError, build_csr, csr_to_der, csr_to_pem, load_csr
from certbench.core.x509.parse import (
    CertificateParseError,
    load_certificates,
    to_base64_pem,
    to_der,
    to_pem,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.lru_cache(maxsize=None)
def long_chain():
    root = make_cert("Root", ca=True)
    policy = make_cert("Policy CA", issuer=root, ca=True)
    issuing = make_cert("Issuing CA", issuer=policy, ca=True, path_length=0)
    leaf = make_cert("mx200-sn7", issuer=issuing)
    return [leaf.cert, issuing.cert, policy.cert, root.cert]


@functools.lru_cache(maxsize=None)
def sample_csr():
    return build_csr(cached_key("ec-p256"), "mx200-sn1")


def ders(certs):
    return [to_der(c) for c in certs]


def _parse_or_refuse(data):
    try:
        certs = load_certificates(data, source="fuzz")
    except CertificateParseError as exc:
        assert exc.message.startswith("fuzz") and exc.hint
        return None
    assert certs and all(len(to_der(c)) > 0 for c in certs)
    return certs


# --- arbitrary input --------------------------------------------------------------------------


@SETTINGS
@given(st.binary(max_size=3000))
@example(b"\x30\x80")
@example(b"\x30\x84\xff\xff\xff\xff")
@example(b"-----BEGIN CERTIFICATE-----")
@example(b"-----BEGIN PKCS7-----\n-----END PKCS7-----")
def test_arbitrary_bytes_never_crash_load_certificates(data):
    _parse_or_refuse(data)


@SETTINGS
@given(st.text(max_size=2000))
def test_arbitrary_text_never_crashes_load_certificates(text):
    _parse_or_refuse(text)


@SETTINGS
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_crash_load_csr(data):
    try:
        load_csr(data, source="fuzz")
    except CsrError as exc:
        assert "fuzz" in exc.message


_pieces = st.sampled_from([
    b"-----BEGIN CERTIFICATE-----\n", b"-----END CERTIFICATE-----\n", b"-----BEGIN PKCS7-----\n",
    b"-----END PKCS7-----\n", b"-----BEGIN CERTIFICATE REQUEST-----\n", b"MIIB", b"\r\n", b"  ", b"====",
    b"\x30\x82\x01\x0a", b"QUJD", b"\x00",
])


@SETTINGS
@given(st.lists(st.one_of(_pieces, st.binary(max_size=40)), max_size=12))
def test_pem_like_fragments_never_crash(parts):
    data = b"".join(parts)
    _parse_or_refuse(data)
    try:
        load_csr(data)
    except CsrError:
        pass


@SETTINGS
@given(st.data())
def test_mutated_certificate_der_never_crashes(data):
    der = bytearray(data.draw(st.sampled_from([to_der(c) for c in shared_chain().certs])))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(der) - 1))
        der[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(der)))
    _parse_or_refuse(bytes(der[:cut]))
    _parse_or_refuse(base64.b64encode(bytes(der[:cut])))


@SETTINGS
@given(st.data())
def test_mutated_pkcs7_and_csr_never_crash(data):
    blob = bytearray(data.draw(st.sampled_from([
        pkcs7.serialize_certificates(shared_chain().certs, serialization.Encoding.DER),
        csr_to_der(sample_csr()),
    ])))
    for _ in range(data.draw(st.integers(1, 3))):
        blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
    blob = bytes(blob[: data.draw(st.integers(1, len(blob)))])
    _parse_or_refuse(blob)
    try:
        load_csr(blob)
    except CsrError:
        pass


# --- round trips under formatting mutations ---------------------------------------------------------


@st.composite
def messy_pem(draw, pem: str) -> bytes:
    """The PEM text as a person's editor or a mail client might leave it."""
    newline = draw(st.sampled_from(["\n", "\r\n", "\r\n\r\n", "\n \n"]))
    out = []
    for line in pem.splitlines():
        pad_left = draw(st.sampled_from(["", " ", "\t", "   "]))
        pad_right = draw(st.sampled_from(["", " ", "\t"]))
        out.append(pad_left + line + pad_right)
        if draw(st.booleans()) and not line.startswith("-----BEGIN"):
            out.append(draw(st.sampled_from(["", "   ", "\t"])))
    before = draw(st.sampled_from(["", "subject=CN = mx200-sn1\n", "Bag Attributes\r\n  localKeyID: 01 02\r\n", "\n\n"]))
    after = draw(st.sampled_from(["", "\n", "-- \nsent from the bench\n", "\x00"]))
    return (before + newline.join(out) + newline + after).encode()


FORMATS = ["pem", "der", "pkcs7-pem", "pkcs7-der", "base64-pem", "base64-der", "pkcs7-base64"]


@SETTINGS
@given(st.data(), st.sampled_from(FORMATS), st.sampled_from(["ec-p256", "rsa-2048"]))
def test_round_trips_give_the_same_certificates(data, form, spec):
    chain = shared_chain(spec)
    certs = data.draw(st.sampled_from([chain.certs, [chain.leaf.cert], [chain.root.cert, chain.inter.cert]]))
    if form == "pem":
        encoded = data.draw(messy_pem(to_pem(certs)))
    elif form == "der":
        encoded = b"".join(ders(certs)) if len(certs) > 1 else to_der(certs[0])
    elif form == "pkcs7-pem":
        text = pkcs7.serialize_certificates(certs, serialization.Encoding.PEM).decode()
        encoded = data.draw(messy_pem(text))
    elif form == "pkcs7-der":
        encoded = pkcs7.serialize_certificates(certs, serialization.Encoding.DER)
    elif form == "pkcs7-base64":
        encoded = base64.encodebytes(pkcs7.serialize_certificates(certs, serialization.Encoding.DER))
    elif form == "base64-pem":
        if len(certs) == 1 and data.draw(st.booleans()):
            encoded = to_base64_pem(certs[0]).encode()
        else:
            encoded = base64.b64encode(data.draw(messy_pem(to_pem(certs))).replace(b"\x00", b""))
    else:
        encoded = base64.encodebytes(to_der(certs[0]))
        certs = certs[:1]
    if data.draw(st.booleans()):
        encoded = encoded.decode("latin-1") if form not in ("der", "pkcs7-der") else encoded
    loaded = load_certificates(encoded)
    if form.startswith("pkcs7"):  # a SET: order is not preserved
        assert sorted(ders(loaded)) == sorted(ders(certs))
    else:
        assert ders(loaded) == ders(certs)


@SETTINGS
@given(st.data())
def test_csr_round_trip_under_formatting(data):
    csr = sample_csr()
    form = data.draw(st.sampled_from(["pem", "der", "base64"]))
    if form == "pem":
        encoded = data.draw(messy_pem(csr_to_pem(csr)))
    elif form == "der":
        encoded = csr_to_der(csr)
    else:
        encoded = base64.encodebytes(csr_to_der(csr))
    assert csr_to_der(load_csr(encoded)) == csr_to_der(csr)


# --- chain ordering ---------------------------------------------------------------------------------


@SETTINGS
@given(st.permutations(range(4)), st.lists(st.integers(0, 3), max_size=4))
def test_order_chain_restores_any_shuffle(order, duplicates):
    chain = long_chain()
    shuffled = [chain[i] for i in order] + [chain[i] for i in duplicates]
    assert ders(order_chain(shuffled)) == ders(chain)


@SETTINGS
@given(st.permutations(range(3)))
def test_order_chain_restores_shuffled_partial_chain(order):
    chain = long_chain()[:3]  # leaf, issuing, policy: no root
    assert ders(order_chain([chain[i] for i in order])) == ders(chain)
