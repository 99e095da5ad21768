"""issuer_from_settings: one issuer per source, routing when sources mix."""

from __future__ import annotations

import pytest
from sectigo_bench import NAMES

from certbench.core.config import Intermediate, SectigoSettings, default_settings
from certbench.core.errors import ConfigError
from certbench.core.pki.factory import RoutingIssuer, issuer_from_settings
from certbench.core.pki.local import LocalCA
from certbench.core.pki.sectigo.issuer import SectigoIssuer
from certbench.core.x509.identity import make_identity


def test_local_only(certbench_home):
    assert isinstance(issuer_from_settings(default_settings()), LocalCA)


def test_file_only_cannot_issue():
    settings = default_settings()
    settings.intermediates = [Intermediate("ext", source="file", certificate_file="x.pem")]
    with pytest.raises(ConfigError, match="cannot issue"):
        issuer_from_settings(settings)


def test_sectigo_only_and_mixed(bench, memory_keyring):
    from certbench.core import secrets

    secrets.set_secret(secrets.SECTIGO_PASSWORD, bench.app.password)
    settings = default_settings()
    settings.sectigo = SectigoSettings(base_url=bench.base_url, customer_uri=bench.app.customer_uri,
                                       login=bench.app.login, ca_file=str(bench.ca_file), timeout_seconds=5)
    settings.intermediates = bench.intermediates()
    issuer = issuer_from_settings(settings)
    assert isinstance(issuer, SectigoIssuer)
    issuer.close()
    mixed = bench.intermediates()[:2] + [Intermediate(n, source="local") for n in NAMES[2:]]
    settings.intermediates = mixed
    routing = issuer_from_settings(settings)
    assert isinstance(routing, RoutingIssuer) and routing.intermediate_names() == list(NAMES)
    via_sectigo = routing.issue(NAMES[0], make_identity("R-1", "ec-p256", validate_cn=False).csr)
    via_local = routing.issue(NAMES[3], make_identity("R-2", "ec-p256", validate_cn=False).csr)
    assert via_sectigo.order_id.isdigit() and via_local.order_id.startswith("local-")
    assert len(bench.app.orders) == 1
    routing.revoke(via_sectigo.order_id)
    assert bench.app.orders[int(via_sectigo.order_id)].status == "REVOKED"
