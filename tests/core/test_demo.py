"""Demo services: the emulators run in-process with the settings and keyring pointed at them."""

from __future__ import annotations

import httpx
import pytest

from certbench.core import secrets
from certbench.core.config import load_settings, user_config_file
from certbench.core.demo import DEMO_SECTIGO_INTERMEDIATES, DemoServices
from certbench.core.iotcentral import IoTCentralClient
from certbench.core.pki.factory import issuer_from_settings
from certbench.core.pki.sectigo.issuer import SectigoIssuer
from certbench.core.workflows.ca_verification import verify_intermediate


def test_demo_services_verify_every_intermediate_and_stop(tmp_path):
    with DemoServices(tmp_path) as services:
        settings = load_settings()
        assert settings.iotcentral.base_url == services.iotcentral.base_url
        assert secrets.get_secret(secrets.IOTCENTRAL_TOKEN) == services.iotcentral.token
        sources = {i.name: i.source for i in settings.intermediates}
        assert {n for n, s in sources.items() if s == "sectigo"} == set(DEMO_SECTIGO_INTERMEDIATES)
        # The settings file holds no secret.
        content = user_config_file().read_text()
        assert services.sectigo.password not in content and services.iotcentral.token not in content
        sectigo = SectigoIssuer.from_settings(settings)
        for name in DEMO_SECTIGO_INTERMEDIATES:  # the seeded orders let `ca fetch` work
            assert "Sectigo emulator" in sectigo.fetch_intermediate(name).certificate.subject.rfc4514_string()
        sectigo.close()
        issuer = issuer_from_settings(settings)
        with IoTCentralClient.from_settings(settings.iotcentral) as client:
            for item in settings.intermediates:
                outcome = verify_intermediate(client, issuer, item.name, group=item.group, entry=item.entry)
                assert outcome.verified and not outcome.already_verified
        url = services.iotcentral.base_url
    with pytest.raises(httpx.TransportError):
        httpx.get(url, verify=False, timeout=2)
