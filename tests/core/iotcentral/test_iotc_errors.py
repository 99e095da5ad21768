"""Typed errors with the service's code, message and requestId, and actionable sentences;
tokens never in exceptions or logs."""

from __future__ import annotations

import logging

import pytest

from certbench.core.iotcentral import (
    ApiCredential,
    IoTCentralAuthError,
    IoTCentralClient,
    IoTCentralConnectionError,
    IoTCentralInvalidRequest,
    IoTCentralNotFound,
    IoTCentralPermissionDenied,
)


def _forged(token: str) -> str:
    head, _, tail = token.partition("sig=")
    return head + "sig=AAAA" + tail[4:]


def test_wrong_token_is_401_with_an_actionable_message(make_client, emulator):
    client = make_client(_forged(emulator.token))
    with pytest.raises(IoTCentralAuthError) as info:
        client.list_groups()
    error = info.value
    assert error.status == 401 and error.code == "Unauthorized" and error.request_id
    assert "wrong or has expired" in error.message
    assert "set-secret iotcentral-api-token" in error.hint
    assert emulator.app.calls == []


def test_expired_token_is_401_and_changes_nothing(make_client, emulator):
    expired = emulator.state.issue_token(lifetime=-60)
    with pytest.raises(IoTCentralAuthError) as info:
        make_client(expired).create_group("g1", "G1")
    assert "expired" in info.value.service_message
    assert emulator.state.groups == {}


def test_role_without_permission_is_403(make_client, emulator):
    operator = emulator.state.issue_token(role="operator")
    client = make_client(operator)
    assert client.list_groups() == []  # reading is allowed
    with pytest.raises(IoTCentralPermissionDenied) as info:
        client.create_group("g1", "G1")
    assert info.value.status == 403 and "lacks permission" in info.value.message
    assert emulator.state.groups == {}


def test_unknown_group_is_404_naming_it(client):
    with pytest.raises(IoTCentralNotFound) as info:
        client.get_group("no-such-group")
    assert "no enrollment group 'no-such-group'" in info.value.message
    assert info.value.code == "NotFound" and info.value.request_id


def test_invalid_body_is_422_with_the_service_message(client, emulator):
    client.create_group("g1", "G1")
    with pytest.raises(IoTCentralInvalidRequest) as info:
        client.update_group("g1", {"enabled": "yes"})
    assert info.value.status == 422 and "enabled" in info.value.service_message
    with pytest.raises(IoTCentralInvalidRequest) as info:
        client.update_group("g1", {"idScope": "0ne00000000"})
    assert "cannot be changed" in info.value.service_message


def test_unreachable_service_is_a_connection_error(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    from certbench.core.http import RetryPolicy

    client = IoTCentralClient(f"https://127.0.0.1:{port}", ApiCredential("SharedAccessSignature sr=a&sig=b"),
                              retry=RetryPolicy(attempts=2, base_delay=0.001), timeout=2)
    with pytest.raises(IoTCentralConnectionError) as info:
        client.list_groups()
    assert "ConnectError" in info.value.message and "network" in info.value.hint
    client.close()


def test_untrusted_tls_points_at_the_ca_file(emulator):
    client = IoTCentralClient(emulator.base_url, ApiCredential(emulator.token), timeout=5)  # no ca_file
    with pytest.raises(IoTCentralConnectionError) as info:
        client.list_groups()
    assert "not trusted" in info.value.message and "ca_file" in info.value.hint
    client.close()


def test_tokens_never_reach_exceptions_reprs_or_logs(make_client, emulator, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "certbench", "hpack"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    wrong = _forged(emulator.token)
    emulator.app.faults.add("429", 1, retry_after=0.01)
    good = make_client()
    good.list_groups()
    good.create_group("g1", "G1")
    texts = [repr(good), repr(ApiCredential(emulator.token))]
    for token, call in ((wrong, lambda c: c.list_groups()), (emulator.token, lambda c: c.get_group("missing"))):
        client = make_client(token)
        with pytest.raises(Exception) as info:
            call(client)
        exc = info.value
        texts += [str(exc), repr(exc), str(exc.to_dict()), repr(client)]
    emulator.stop()  # transport errors too (a new connection is refused)
    with pytest.raises(IoTCentralConnectionError) as info:
        make_client().list_groups()
    texts += [str(info.value), repr(info.value)]
    texts += [r.getMessage() for r in caplog.records] + [caplog.text]
    assert len(caplog.records) > 5  # the loggers did log the traffic
    secret_parts = [emulator.token, wrong, emulator.token.split("sig=")[1].split("&")[0]]
    for text in texts:
        for part in secret_parts:
            assert part not in text


def test_raw_error_body_shape(raw):
    response = raw("GET", "/api/enrollmentGroups/nope")
    assert response.status_code == 404
    error = response.json()["error"]
    assert set(error) == {"code", "message", "requestId", "time"}
    assert response.headers["x-ms-error-code"] == error["code"] == "NotFound"
