"""The registration check end to end: the real azure-iot-device client against the DPS
emulator, which decides against the real IoT Central emulator's enrollment groups."""

from __future__ import annotations

import datetime as dt
import socket
import threading

import pytest

from certbench.core.dps import RegistrationError, register_with_dps
from certbench.core.dps import register as reg
from certbench.core.iotcentral import IoTCentralNotFound



def _register(dps, unit, **kwargs):
    kwargs.setdefault("id_scope", dps.id_scope)
    kwargs.setdefault("host", dps.host)
    kwargs.setdefault("server_ca_pem", dps.ca_pem)
    kwargs.setdefault("timeout", 30)
    return register_with_dps(kwargs.pop("chain", unit.chain), unit.key, **kwargs)


def _assert_not_provisioned(central_client, device_id):
    with pytest.raises(IoTCentralNotFound):
        central_client.get_device(device_id)


def test_leaf_and_intermediate_register_and_device_appears_provisioned(dps, verified_group, central_client,
                                                                        make_unit, private_tmp):
    unit = make_unit("mc-ana-000123")
    outcome = _register(dps, unit)

    assert outcome.ok, outcome
    assert outcome.reason == reg.ASSIGNED
    assert outcome.device_id == "mc-ana-000123"
    assert outcome.assigned_hub == dps.service.assigned_hub
    assert outcome.substatus == "initialAssignment"
    assert outcome.operation_id
    device = central_client.get_device("mc-ana-000123")
    assert device.provisioned is True
    # The emulator saw the leaf and the intermediate in the handshake.
    record = dps.connections[-1]
    assert [c.subject for c in record.chain] == [unit.leaf.subject, unit.intermediate.subject]
    assert record.connack == 0
    assert list(private_tmp.iterdir()) == []  # the SDK's files are gone


def test_leaf_alone_is_reported_as_missing_intermediate(dps, verified_group, central_client, make_unit, private_tmp):
    unit = make_unit("mc-ana-000124")
    outcome = _register(dps, unit, chain=[unit.leaf])

    assert not outcome.ok
    assert outcome.reason == reg.MISSING_INTERMEDIATE
    assert "the chain is missing the intermediate" in outcome.message.lower()
    assert (outcome.status_code, outcome.error_code) == (401, 401002)
    assert "missing the intermediate" in outcome.service_message
    assert outcome.hint
    _assert_not_provisioned(central_client, "mc-ana-000124")
    assert list(private_tmp.iterdir()) == []
    with pytest.raises(RegistrationError) as info:
        outcome.raise_for_failure()
    assert info.value.exit_code == 5 and info.value.outcome is outcome


def test_intermediate_uploaded_but_not_verified(dps, central_client, make_unit, intermediates):
    central_client.create_group("unverified-group", "Unverified")
    unit = make_unit("mc-ana-000125", intermediate=intermediates[1])
    entry = central_client.set_certificate("unverified-group", "primary", unit.intermediate)
    assert entry.verified is False

    outcome = _register(dps, unit)

    assert not outcome.ok
    assert outcome.reason == reg.CA_NOT_VERIFIED
    assert (outcome.status_code, outcome.error_code) == (401, 401002)
    assert "verified" in outcome.message
    _assert_not_provisioned(central_client, "mc-ana-000125")


def test_unit_of_another_intermediate_is_refused_even_when_one_is_verified(dps, verified_group, make_unit,
                                                                          intermediates):
    unit = make_unit("mc-ana-000126", intermediate=intermediates[1])
    outcome = _register(dps, unit)
    assert outcome.reason == reg.CA_NOT_VERIFIED and outcome.error_code == 401002


def test_disabled_group(dps, verified_group, central_client, make_unit):
    central_client.update_group(verified_group, {"enabled": False})
    unit = make_unit("mc-ana-000127")

    outcome = _register(dps, unit)

    assert not outcome.ok
    assert outcome.reason == reg.GROUP_DISABLED
    assert "disabled" in outcome.message
    _assert_not_provisioned(central_client, "mc-ana-000127")

    # Enabled again: the same unit registers.
    central_client.update_group(verified_group, {"enabled": True})
    assert _register(dps, unit).ok
    assert central_client.get_device("mc-ana-000127").provisioned


def test_cn_differing_from_registration_id(dps, verified_group, central_client, make_unit):
    unit = make_unit("mc-ana-000128")
    outcome = _register(dps, unit, registration_id="mc-ana-000999")

    assert not outcome.ok
    assert outcome.reason == reg.CN_MISMATCH
    assert "mc-ana-000128" in outcome.message and "mc-ana-000999" in outcome.message
    assert (outcome.status_code, outcome.error_code) == (401, 401002)
    _assert_not_provisioned(central_client, "mc-ana-000999")
    _assert_not_provisioned(central_client, "mc-ana-000128")


def test_expired_leaf(dps, verified_group, central_client, make_unit):
    now = dt.datetime.now(dt.timezone.utc)
    unit = make_unit("mc-ana-000129", not_before=now - dt.timedelta(days=400), not_after=now - dt.timedelta(days=1))

    outcome = _register(dps, unit)

    assert not outcome.ok
    assert outcome.reason == reg.EXPIRED
    assert "expired" in outcome.message and "expired" in outcome.service_message
    assert (outcome.status_code, outcome.error_code) == (401, 401002)
    _assert_not_provisioned(central_client, "mc-ana-000129")


def test_throttled_then_success(dps, verified_group, central_client, make_unit):
    dps.faults.add("429", 1, path="iotdps-register", retry_after=1)
    unit = make_unit("mc-ana-000130")

    outcome = _register(dps, unit)

    assert outcome.ok, outcome
    assert outcome.statuses_seen[0] == 429 and 202 in outcome.statuses_seen
    assert ("429", "PUT", "iotdps-register") in dps.faults.hits
    assert central_client.get_device("mc-ana-000130").provisioned


def test_throttled_for_longer_than_the_timeout(dps, verified_group, make_unit):
    dps.faults.add("429", 100, path="iotdps-register", retry_after=1)
    unit = make_unit("mc-ana-000131")
    outcome = _register(dps, unit, timeout=3)
    assert outcome.reason == reg.THROTTLED and outcome.status_code == 429


def test_unreachable_is_reported_within_the_timeout(make_unit, private_tmp, free_address):
    unit = make_unit("mc-ana-000132")
    host = free_address()  # nothing listens there
    outcome = register_with_dps(unit.chain, unit.key, id_scope="0ne00000001", host=host,
                                server_ca_pem=None, timeout=10)
    assert not outcome.ok
    assert outcome.reason == reg.UNREACHABLE
    assert f"could not be reached at {host}:8883" in outcome.message
    assert outcome.elapsed_seconds <= 10 + reg.SHUTDOWN_WAIT
    assert list(private_tmp.iterdir()) == []


def test_silent_server_ends_in_a_timeout(make_unit, private_tmp, free_address):
    """A peer that accepts TCP but never answers TLS: the call still returns."""
    host = free_address()
    listener = socket.socket()
    listener.bind((host, 8883))
    listener.listen(4)
    accepted: list[socket.socket] = []

    def accept() -> None:
        try:
            while True:
                accepted.append(listener.accept()[0])
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()
    try:
        unit = make_unit("mc-ana-000133")
        outcome = register_with_dps(unit.chain, unit.key, id_scope="0ne00000001", host=host, timeout=2)
    finally:
        listener.close()
        for s in accepted:
            s.close()
    assert outcome.reason in (reg.TIMEOUT, reg.UNREACHABLE)
    assert outcome.elapsed_seconds <= 2 + reg.SHUTDOWN_WAIT
    assert list(private_tmp.iterdir()) == []


def test_wrong_id_scope_is_refused_at_connect(dps, verified_group, make_unit):
    unit = make_unit("mc-ana-000134")
    outcome = _register(dps, unit, id_scope="0ne00000000")
    assert outcome.reason == reg.CONNECT_REFUSED
    assert "'0ne00000000'" in outcome.message and "'mc-ana-000134'" in outcome.message
    assert dps.connections[-1].connack == 5


def test_server_not_trusted(dps, verified_group, make_unit):
    from certbench.core.emulators.tls import EmulatorCA

    unit = make_unit("mc-ana-000135")
    outcome = _register(dps, unit, server_ca_pem=EmulatorCA("Someone else").pem)
    assert outcome.reason == reg.SERVER_NOT_TRUSTED
    assert f"The DPS server {dps.host} was not trusted: its certificate does not chain to the CA file" in outcome.message
    assert "dps_ca_file" in outcome.hint


def test_key_of_another_certificate_is_an_input_error(dps, verified_group, make_unit, private_tmp):
    from certbench.core.errors import InputError

    a, b = make_unit("mc-ana-000136"), make_unit("mc-ana-000137")
    with pytest.raises(InputError):
        register_with_dps(a.chain, b.key, id_scope=dps.id_scope, host=dps.host, server_ca_pem=dps.ca_pem)
    assert list(private_tmp.iterdir()) == []
