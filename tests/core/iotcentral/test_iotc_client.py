"""The client against the emulator over real HTTPS: groups, certificate entries, devices,
paging, If-Match, both auth header forms, base URL resolution, api-version on every call."""

from __future__ import annotations

import httpx
import pytest

from certbench.core import secrets
from certbench.core.config import IoTCentralSettings
from certbench.core.errors import ConfigError, InputError
from certbench.core.iotcentral import (
    API_VERSION,
    ApiCredential,
    IoTCentralClient,
    IoTCentralError,
    IoTCentralNotFound,
    IoTCentralPreconditionFailed,
)


def test_group_lifecycle(client, local_ca):
    group = client.create_group("medicorp-devices-1", "MediCorp devices 1")
    assert (group.id, group.display_name, group.enabled, group.type, group.attestation_type) == (
        "medicorp-devices-1", "MediCorp devices 1", True, "iot", "x509")
    assert group.id_scope and group.id_scope.startswith("0ne") and group.etag
    assert client.get_group("medicorp-devices-1") == group
    assert [g.id for g in client.list_groups()] == ["medicorp-devices-1"]

    updated = client.update_group("medicorp-devices-1", {"displayName": "Renamed", "enabled": False}, etag=group.etag)
    assert updated.display_name == "Renamed" and updated.enabled is False and updated.etag != group.etag

    client.delete_group("medicorp-devices-1")
    assert client.find_group("medicorp-devices-1") is None
    with pytest.raises(IoTCentralNotFound):
        client.get_group("medicorp-devices-1")


def test_if_match_refuses_a_stale_etag(client):
    group = client.create_group("g1", "G1")
    client.update_group("g1", {"displayName": "changed by someone else"})
    with pytest.raises(IoTCentralPreconditionFailed) as info:
        client.update_group("g1", {"displayName": "mine"}, etag=group.etag)
    assert info.value.status == 412 and "changed" in info.value.message
    assert client.get_group("g1").display_name == "changed by someone else"


def test_certificate_entry_lifecycle(client, local_ca):
    client.create_group("g1", "G1")
    ica = local_ca.intermediate("medicorp-ica-1").certificate
    from certbench.core.x509.inspect import sha1_thumbprint

    assert client.find_certificate("g1", "primary") is None
    entry = client.set_certificate("g1", "primary", ica)
    assert entry.sha1_thumbprint == sha1_thumbprint(ica) and entry.verified is False
    assert client.get_certificate("g1", "primary").sha1_thumbprint == sha1_thumbprint(ica)
    assert client.get_group("g1").certificates["primary"].sha1_thumbprint == sha1_thumbprint(ica)

    code = client.generate_verification_code("g1", "primary")
    proof = local_ca.issue_verification_certificate("medicorp-ica-1", code).certificate
    client.verify_certificate("g1", "primary", proof)
    assert client.get_certificate("g1", "primary").verified is True

    client.remove_certificate("g1", "primary")
    assert client.find_certificate("g1", "primary") is None
    with pytest.raises(IoTCentralNotFound):
        client.find_certificate("no-such-group", "primary")


def test_certificates_travel_as_base64_of_pem(client, local_ca, emulator):
    import base64

    seen = []
    client._http.event_hooks["request"].append(lambda r: seen.append(r.read()))
    client.create_group("g1", "G1")
    client.set_certificate("g1", "primary", local_ca.intermediate("medicorp-ica-1").certificate)
    import json

    body = json.loads(seen[-1])
    assert base64.b64decode(body["certificate"]).decode().startswith("-----BEGIN CERTIFICATE-----\n")
    assert body["verified"] is False


def test_every_call_carries_the_api_version(client, local_ca):
    urls: list[httpx.URL] = []
    client._http.event_hooks["request"].append(lambda r: urls.append(r.url))
    client.create_group("g1", "G1")
    for i in range(3):
        client.create_device(f"dev-{i}")
    client.list_devices(page_size=2)  # follows nextLink twice
    client.get_group("g1")
    assert len(urls) == 1 + 3 + 2 + 1
    assert all(url.params.get("api-version") == API_VERSION for url in urls)
    assert all(url.params.get_list("api-version") == [API_VERSION] for url in urls)


def test_device_lifecycle_and_paging(client, emulator):
    for i in range(30):
        client.create_device(f"mx200-{i:04d}", display_name=f"Unit {i}", template="dtmi:medicorp:mx200;1")
    assert len(client.list_devices()) == 30  # two pages at the default 25
    pages = []
    client._http.event_hooks["response"].append(lambda r: pages.append(r.url))
    listed = client.list_devices(page_size=7)
    assert [d.id for d in listed] == [f"mx200-{i:04d}" for i in range(30)]
    assert len(pages) == 5

    device = client.get_device("mx200-0003")
    assert (device.display_name, device.template, device.provisioned, device.enabled) == (
        "Unit 3", "dtmi:medicorp:mx200;1", False, True)
    changed = client.update_device("mx200-0003", {"enabled": False}, etag=device.etag)
    assert changed.enabled is False
    with pytest.raises(IoTCentralPreconditionFailed):
        client.update_device("mx200-0003", {"enabled": True}, etag=device.etag)
    client.delete_device("mx200-0003")
    assert client.find_device("mx200-0003") is None

    # A device that registered through DPS shows up provisioned (the DPS emulator's path).
    emulator.state.upsert_device("vx10-0001", provisioned=True, group_id="g1")
    assert client.get_device("vx10-0001").provisioned is True


def test_group_paging_follows_next_link(client):
    for i in range(27):
        client.create_group(f"g-{i:02d}", f"Group {i}")
    assert [g.id for g in client.list_groups()] == [f"g-{i:02d}" for i in range(27)]


def test_bearer_header_form(make_client, emulator):
    bearer = emulator.state.issue_token(kind="bearer")
    client = make_client(bearer, kind="bearer")
    client.create_group("g1", "G1")
    assert ApiCredential(bearer, "bearer").header() == f"Bearer {bearer}"
    assert ApiCredential(f"Bearer {bearer}", "bearer").header() == f"Bearer {bearer}"


def test_api_token_header_passes_through_or_gains_its_prefix(make_client, emulator):
    token = emulator.token
    assert token.startswith("SharedAccessSignature sr=")
    bare = token.removeprefix("SharedAccessSignature ")
    assert ApiCredential(bare).header() == token
    make_client(bare).create_group("g1", "G1")


def test_base_url_from_settings_and_token_from_keyring(emulator):
    assert IoTCentralSettings(subdomain="medicorp-prod").resolved_base_url() == "https://medicorp-prod.azureiotcentral.com"
    assert IoTCentralSettings(subdomain="app", dns_suffix="azureiotcentral.us").resolved_base_url() == \
        "https://app.azureiotcentral.us"
    with pytest.raises(ConfigError):
        IoTCentralSettings().resolved_base_url()

    secrets.set_secret(secrets.IOTCENTRAL_TOKEN, emulator.token)
    settings = IoTCentralSettings(base_url=emulator.base_url + "/", ca_file=str(emulator.ca_file), timeout_seconds=5)
    with IoTCentralClient.from_settings(settings) as client:
        assert client.base_url == emulator.base_url
        client.create_group("from-settings", "From settings")
        assert [g.id for g in client.list_groups()] == ["from-settings"]


def test_missing_token_in_keyring_is_a_clear_error():
    settings = IoTCentralSettings(subdomain="app")
    with pytest.raises(secrets.SecretStoreError) as info:
        IoTCentralClient.from_settings(settings)
    assert "set-secret iotcentral-api-token" in info.value.hint


def test_plain_http_to_a_remote_host_is_refused():
    with pytest.raises(ConfigError):
        IoTCentralClient("http://medicorp.azureiotcentral.com", ApiCredential("SharedAccessSignature sr=x"))


def test_next_link_to_another_host_is_not_followed(client):
    with pytest.raises(IoTCentralError) as info:
        client._url("https://attacker.example/api/devices?api-version=2022-07-31")
    assert "another host" in info.value.message


@pytest.mark.parametrize("bad", ["has space", "under_score", "dot.ted", "", "x" * 256, "ünï"])
def test_client_refuses_bad_group_ids_before_sending(client, emulator, bad):
    with pytest.raises(InputError):
        client.create_group(bad, "Bad")
    with pytest.raises(InputError):
        client.get_certificate(bad, "primary")
    assert emulator.app.calls == []


def test_client_refuses_bad_entry_and_device_id(client, emulator):
    with pytest.raises(InputError, match="primary or secondary"):
        client.get_certificate("g1", "tertiary")
    with pytest.raises(InputError):
        client.create_device("bad id")
    with pytest.raises(InputError):
        client.list_devices(page_size=101)
    assert emulator.app.calls == []
