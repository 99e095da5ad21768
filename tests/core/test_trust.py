from certbench.core.trust import azure_root_certificates
from certbench.core.x509.inspect import summarize


def test_azure_roots_ship_and_are_the_pinned_self_signed_cas():
    roots = azure_root_certificates()
    names = [summarize(c).common_name for c in roots]
    assert names == ["DigiCert Global Root G2", "Microsoft RSA Root Certificate Authority 2017"]
    for cert in roots:
        summary = summarize(cert)
        assert summary.is_ca and summary.self_signed and not summary.expired
