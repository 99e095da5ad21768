"""core/http.py's retry policy exercised through the IoT Central client and emulator over
real sockets: Retry-After honoured, exponential backoff without it, no retry on 4xx,
non-idempotent calls not retried after a 500 or a drop, storms that outlast the policy."""

from __future__ import annotations

import pytest
from conftest import FAST_RETRY

from certbench.core.iotcentral import (
    IoTCentralConnectionError,
    IoTCentralNotFound,
    IoTCentralServerError,
    IoTCentralThrottled,
)


def _hits(emulator, kind):
    return [h for h in emulator.app.faults.hits if h[0] == kind]


def test_retry_after_is_honoured(client, emulator, sleeps):
    emulator.app.faults.add("429", 2, retry_after=0.07)
    assert client.list_groups() == []
    assert sleeps == [0.07, 0.07]
    assert len(_hits(emulator, "429")) == 2


def test_429_without_retry_after_backs_off_exponentially(client, emulator, sleeps):
    emulator.app.faults.add("429", 3)
    client.list_groups()
    assert len(sleeps) == 3
    # Full jitter in [ceiling/2, ceiling], ceiling doubling from base_delay up to max_delay.
    for attempt, slept in enumerate(sleeps, start=1):
        ceiling = min(FAST_RETRY.max_delay, FAST_RETRY.base_delay * 2 ** (attempt - 1))
        assert ceiling / 2 <= slept <= ceiling


def test_a_429_storm_outlasting_the_policy_is_a_throttled_error(client, emulator, sleeps):
    emulator.app.faults.add("429", -1, retry_after=0.01)
    with pytest.raises(IoTCentralThrottled) as info:
        client.create_group("g1", "G1")
    assert f"after {FAST_RETRY.attempts} tries" in info.value.message
    assert len(_hits(emulator, "429")) == FAST_RETRY.attempts
    assert emulator.state.groups == {}
    emulator.app.faults.clear()
    client.create_group("g1", "G1")


def test_retry_after_is_capped_by_the_policy(client, emulator, sleeps):
    emulator.app.faults.add("429", 1, retry_after=3600)
    client.list_groups()
    assert sleeps == [FAST_RETRY.max_retry_after]


def test_5xx_on_idempotent_calls_is_retried(client, emulator, sleeps):
    emulator.app.faults.add("500", 2, path="/api/enrollmentGroups/g1")
    emulator.app.faults.add("503", 1, path="/api/enrollmentGroups/g1")
    client.create_group("g1", "G1")
    assert len(sleeps) == 3 and "g1" in emulator.state.groups


def test_no_retry_on_4xx(client, emulator, sleeps):
    with pytest.raises(IoTCentralNotFound):
        client.get_group("missing")
    assert sleeps == []
    assert emulator.app.calls == [("GET", "/api/enrollmentGroups/missing")]


def test_non_idempotent_verify_is_not_retried_after_a_500(client, emulator, local_ca, sleeps):
    client.create_group("g1", "G1")
    client.set_certificate("g1", "primary", local_ca.intermediate("medicorp-ica-1").certificate)
    code = client.generate_verification_code("g1", "primary")
    proof = local_ca.issue_verification_certificate("medicorp-ica-1", code).certificate
    emulator.app.faults.add("500", 1, path="/verify$")
    with pytest.raises(IoTCentralServerError) as info:
        client.verify_certificate("g1", "primary", proof)
    assert info.value.status == 500 and info.value.code == "InternalServerError" and info.value.request_id
    assert sleeps == [] and len(_hits(emulator, "500")) == 1
    assert client.get_certificate("g1", "primary").verified is False


def test_non_idempotent_verify_is_retried_after_a_429(client, emulator, local_ca, sleeps):
    client.create_group("g1", "G1")
    client.set_certificate("g1", "primary", local_ca.intermediate("medicorp-ica-1").certificate)
    code = client.generate_verification_code("g1", "primary")
    emulator.app.faults.add("429", 1, path="/verify$", retry_after=0.01)
    client.verify_certificate("g1", "primary", local_ca.issue_verification_certificate("medicorp-ica-1", code).certificate)
    assert sleeps == [0.01] and client.get_certificate("g1", "primary").verified is True


def test_dropped_connection_is_retried_for_reads_not_for_verify(client, emulator, local_ca, sleeps):
    emulator.app.faults.add("drop", 1, method="GET")
    assert client.list_devices() == []
    assert len(sleeps) == 1
    client.create_group("g1", "G1")
    client.set_certificate("g1", "primary", local_ca.intermediate("medicorp-ica-1").certificate)
    code = client.generate_verification_code("g1", "primary")
    emulator.app.faults.add("drop", 1, path="/verify$")
    with pytest.raises(IoTCentralConnectionError):
        client.verify_certificate("g1", "primary",
                                  local_ca.issue_verification_certificate("medicorp-ica-1", code).certificate)
    assert len(_hits(emulator, "drop")) == 2 and len(sleeps) == 1


def test_latency_within_the_timeout_is_tolerated(client, emulator):
    emulator.app.faults.add("latency", 1, seconds=0.2)
    assert client.list_groups() == []


def test_timeout_on_every_try_is_a_connection_error(make_client, emulator, sleeps):
    from certbench.core.http import RetryPolicy
    from certbench.core.iotcentral import ApiCredential, IoTCentralClient

    emulator.app.faults.add("latency", 2, seconds=1.0)
    client = IoTCentralClient(emulator.base_url, ApiCredential(emulator.token), ca_file=emulator.ca_file,
                              timeout=0.3, retry=RetryPolicy(attempts=2, base_delay=0.01), sleep=sleeps.append)
    with pytest.raises(IoTCentralConnectionError) as info:
        client.list_groups()
    assert "did not answer in time" in info.value.message
    client.close()
