"""The emulator's MQTT/TLS behaviour, spoken to byte by byte: the DPS conversation, QoS 0/1
in both directions, keep-alive, and every way a client can break the protocol."""

from __future__ import annotations

import json
import socket
import ssl
import time

import pytest

from certbench.core.emulators.dps import DpsEmulator, mqtt
from certbench.core.emulators.tls import load_cert_chain


class RawClient:
    def __init__(self, dps, unit=None, *, chain=None):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.load_verify_locations(cadata=dps.ca_pem)
        if unit is not None:
            load_cert_chain(context, chain or unit.chain, unit.key)
        raw = socket.create_connection((dps.host, 8883), timeout=10)
        self.sock = context.wrap_socket(raw, server_hostname=dps.host)
        self.buffer = bytearray()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def packet(self):
        """(first byte, body) or None when the server closed the connection."""
        while True:
            head = mqtt.split_packet(self.buffer)
            if head:
                first, header, length = head
                body = bytes(self.buffer[header:header + length])
                del self.buffer[:header + length]
                return first, body
            try:
                data = self.sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError, ssl.SSLEOFError):
                return None
            if not data:
                return None
            self.buffer += data

    def closed(self) -> bool:
        return self.packet() is None

    def connect(self, dps, registration_id, *, scope=None, keep_alive=60, password=None, level=4):
        username = f"{scope or dps.id_scope}/registrations/{registration_id}/api-version=2019-03-31"
        self.send(mqtt.encode_connect(mqtt.Connect(registration_id, keep_alive, False, username, password,
                                                   protocol_level=level)))
        return self.packet()

    def close(self):
        self.sock.close()


@pytest.fixture
def raw(dps):
    made = []

    def make(unit=None, **kwargs):
        client = RawClient(dps, unit, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def _publish(topic: str, body: dict | None, qos: int = 0, packet_id: int | None = None) -> bytes:
    payload = json.dumps(body).encode() if body is not None else b""
    return mqtt.encode_publish(mqtt.Publish(topic, payload, qos, packet_id))


def _decode_response(packet):
    first, body = packet
    publish = mqtt.decode_packet(first, body)
    assert isinstance(publish, mqtt.Publish)
    return publish


REGISTER = "$dps/registrations/PUT/iotdps-register/?$rid={}"
STATUS = "$dps/registrations/GET/iotdps-get-operationstatus/?$rid={}&operationId={}"


def test_full_conversation_qos1_and_qos0(dps, verified_group, make_unit, raw, central_client):
    unit = make_unit("mc-raw-000001")
    client = raw(unit)
    assert client.connect(dps, "mc-raw-000001") == (0x20, b"\x00\x00")
    client.send(mqtt.encode_subscribe(mqtt.Subscribe(7, [("$dps/registrations/res/#", 1), ("devices/x/#", 1)])))
    assert client.packet() == (0x90, b"\x00\x07\x01\x80")
    client.send(bytes([0xC0, 0x00]))  # PINGREQ
    assert client.packet() == (0xD0, b"")

    client.send(_publish(REGISTER.format(1), {"registrationId": "mc-raw-000001", "payload": None}, 1, 11))
    assert client.packet() == (0x40, b"\x00\x0b")  # PUBACK for our QoS 1 request
    response = _decode_response(client.packet())
    assert response.qos == 1 and response.packet_id
    assert response.topic == "$dps/registrations/res/202/?$rid=1&retry-after=1"
    accepted = json.loads(response.payload)
    assert accepted["status"] == "assigning" and accepted["operationId"]
    client.send(mqtt.encode_puback(response.packet_id))

    client.send(_publish(STATUS.format(2, accepted["operationId"]), None))  # QoS 0 poll
    final = _decode_response(client.packet())
    assert final.topic == "$dps/registrations/res/200/?$rid=2"
    body = json.loads(final.payload)
    assert body["status"] == "assigned" and body["operationId"] == accepted["operationId"]
    state = body["registrationState"]
    assert {"registrationId", "createdDateTimeUtc", "assignedHub", "deviceId", "status", "substatus",
            "lastUpdatedDateTimeUtc", "etag"} <= set(state)
    assert state["deviceId"] == "mc-raw-000001" and state["substatus"] == "initialAssignment"
    assert state["createdDateTimeUtc"].endswith("Z")
    assert central_client.get_device("mc-raw-000001").provisioned

    client.send(bytes([0xE0, 0x00]))  # DISCONNECT
    assert client.closed()


def test_requests_without_subscription_get_no_answer_and_errors_use_dps_bodies(dps, verified_group, make_unit, raw):
    unit = make_unit("mc-raw-000002")
    client = raw(unit)
    client.connect(dps, "mc-raw-000002")
    client.send(_publish(STATUS.format(1, "nope"), None, 1, 1))
    assert client.packet() == (0x40, b"\x00\x01")  # acknowledged, but nobody listens for the answer
    client.send(mqtt.encode_subscribe(mqtt.Subscribe(2, [("$dps/registrations/res/#", 0)])))
    assert client.packet() == (0x90, b"\x00\x02\x00")

    client.send(_publish(STATUS.format(3, "nope"), None))
    not_found = _decode_response(client.packet())
    assert not_found.topic == "$dps/registrations/res/404/?$rid=3" and not_found.qos == 0
    assert json.loads(not_found.payload)["errorCode"] == 404000

    client.send(_publish(REGISTER.format(4), {"registrationId": "someone-else"}))
    bad = json.loads(_decode_response(client.packet()).payload)
    assert bad["errorCode"] == 400000 and {"trackingId", "message", "timestampUtc"} <= set(bad)

    client.send(mqtt.encode_publish(mqtt.Publish(REGISTER.format(5), b"{not json", 0)))
    assert json.loads(_decode_response(client.packet()).payload)["errorCode"] == 400000


@pytest.mark.parametrize("kwargs, code", [
    ({"scope": "0ne00000000"}, 5),
    ({"password": b"SharedAccessSignature sr=x"}, 5),
    ({"level": 3}, 1),
])
def test_connect_refusals(dps, make_unit, raw, kwargs, code):
    client = raw(make_unit("mc-raw-000003"))
    assert client.connect(dps, "mc-raw-000003", **kwargs) == (0x20, bytes([0, code]))
    assert client.closed()
    assert dps.connections[-1].connack == code


def test_connect_with_mismatched_or_empty_client_id(dps, make_unit, raw):
    client = raw(make_unit("mc-raw-000004"))
    username = f"{dps.id_scope}/registrations/mc-raw-000004/api-version=2019-03-31"
    client.send(mqtt.encode_connect(mqtt.Connect("other", 60, False, username)))
    assert client.packet() == (0x20, b"\x00\x05") and client.closed()
    client = raw(make_unit("mc-raw-000004"))
    client.send(mqtt.encode_connect(mqtt.Connect("", 60, True, username)))
    assert client.packet() == (0x20, b"\x00\x02") and client.closed()


@pytest.mark.parametrize("after_connect, data", [
    (False, bytes([0xC0, 0x00])),                                # PINGREQ before CONNECT
    (False, b"\x10\x04\x00\x02XX"),                              # CONNECT with a foreign protocol name
    (True, bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])),          # remaining length of five bytes
    (True, bytes([0x30, 0x80, 0x00])),                           # non-minimal remaining length
    (True, bytes([0x82, 0x05, 0x00, 0x01, 0x00, 0x01, 0x23])),   # SUBSCRIBE with a truncated filter
    (True, bytes([0x80, 0x02, 0x00, 0x01])),                     # SUBSCRIBE with wrong flags
    (True, bytes([0x34, 0x06, 0x00, 0x01, 0x61, 0x00, 0x01, 0x00])),  # PUBLISH QoS 2
    (True, bytes([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01])),   # PUBLISH QoS 3
    (True, bytes([0x20, 0x02, 0x00, 0x00])),                     # CONNACK from a client
    (True, bytes([0xF0, 0x00])),                                 # reserved type 15
    (True, _publish("devices/x/messages/events/", {"a": 1})),    # a topic DPS does not serve
    (True, _publish("$dps/registrations/PUT/iotdps-register/?x=1", {})),  # no $rid
    (True, _publish("$dps/registrations/GET/iotdps-register/?$rid=1", {})),  # wrong method
])
def test_protocol_violations_close_the_connection(dps, make_unit, raw, after_connect, data):
    client = raw(make_unit("mc-raw-000005"))
    if after_connect:
        assert client.connect(dps, "mc-raw-000005") == (0x20, b"\x00\x00")
    client.send(data)
    assert client.closed()
    assert dps.connections[-1].closed_reason


def test_second_connect_closes(dps, make_unit, raw):
    client = raw(make_unit("mc-raw-000006"))
    client.connect(dps, "mc-raw-000006")
    assert client.connect(dps, "mc-raw-000006") is None
    assert dps.connections[-1].closed_reason == "second CONNECT"


def test_keep_alive_expiry_closes_an_idle_client(dps, make_unit, raw):
    client = raw(make_unit("mc-raw-000007"))
    client.connect(dps, "mc-raw-000007", keep_alive=1)
    client.sock.settimeout(10)
    assert client.closed()  # the server gave up after 1.5 s of silence
    assert "timed out" in dps.connections[-1].closed_reason


def _wait_for_close_reason(dps, count):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if len(dps.connections) >= count and dps.connections[count - 1].closed_reason:
            return dps.connections[count - 1].closed_reason
        time.sleep(0.02)
    raise AssertionError("the emulator did not close the connection")


def test_tls_without_client_certificate_is_refused(dps):
    with pytest.raises(ssl.SSLError):
        RawClient(dps, None)
    assert _wait_for_close_reason(dps, 1).startswith("TLS refused")
    assert dps.connections[0].connack is None


def test_plain_mqtt_without_tls_is_refused(dps):
    plain = socket.create_connection((dps.host, 8883), timeout=10)
    try:
        plain.sendall(mqtt.encode_connect(mqtt.Connect("x", 60, True, "a/registrations/x/api-version=1")))
        try:
            assert plain.recv(100) == b""
        except ConnectionResetError:
            pass
    finally:
        plain.close()
    assert _wait_for_close_reason(dps, 1) == "TLS refused: not a TLS record"


def test_tls_above_1_2_is_not_offered(dps, make_unit):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_verify_locations(cadata=dps.ca_pem)
    with socket.create_connection((dps.host, 8883), timeout=10) as raw_sock:
        with pytest.raises(ssl.SSLError):
            context.wrap_socket(raw_sock, server_hostname=dps.host)


def test_drop_fault_closes_mid_request(dps, verified_group, make_unit, raw):
    dps.faults.add("drop", 1, path="iotdps-register")
    client = raw(make_unit("mc-raw-000008"))
    client.connect(dps, "mc-raw-000008")
    client.send(mqtt.encode_subscribe(mqtt.Subscribe(1, [("$dps/registrations/res/#", 1)])))
    client.packet()
    client.send(_publish(REGISTER.format(1), {"registrationId": "mc-raw-000008"}))
    assert client.closed()


def test_several_emulators_side_by_side(central, free_address, make_unit, verified_group):
    hosts = [free_address(), free_address()]
    with DpsEmulator(central.state, host=hosts[0]) as first, DpsEmulator(central.state, host=hosts[1]) as second:
        for dps in (first, second):
            client = RawClient(dps, make_unit("mc-raw-000009"))
            try:
                assert client.connect(dps, "mc-raw-000009") == (0x20, b"\x00\x00")
            finally:
                client.close()


def test_emulator_refuses_non_loopback_addresses(central):
    with pytest.raises(ValueError, match="loopback"):
        DpsEmulator(central.state, host="0.0.0.0")
    with pytest.raises(ValueError, match="loopback"):
        DpsEmulator(central.state, host="10.1.2.3")
