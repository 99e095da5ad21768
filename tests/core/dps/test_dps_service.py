"""DPS's decisions against a tiny in-test IoT Central state (the CentralState protocol is all
the emulator needs), including the cases the end-to-end tests do not reach: a verified root,
an expired intermediate on the path, a self-signed leaf."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from certbench.core.emulators.dps import DpsService
from certbench.core.x509.inspect import sha1_thumbprint
from certbench.core.x509.keys import generate_key


@dataclass(frozen=True)
class Held:
    group_id: str
    entry: str
    thumbprint: str
    certificate: x509.Certificate


@dataclass
class TinyCentral:
    id_scope: str = "0ne0000ABCD"
    verified: list[tuple[Held, bool]] = field(default_factory=list)
    devices: dict[str, dict] = field(default_factory=dict)

    def add(self, group: str, cert: x509.Certificate, *, enabled: bool = True) -> None:
        self.verified.append((Held(group, "primary", sha1_thumbprint(cert), cert), enabled))

    def verified_ca_certificates(self, *, include_disabled: bool = False):
        return [held for held, enabled in self.verified if enabled or include_disabled]

    def upsert_device(self, device_id, *, provisioned=True, group_id=None):
        self.devices[device_id] = {"id": device_id, "provisioned": provisioned, "group": group_id}
        return self.devices[device_id]


def _refusal(decision):
    assert decision.refusal is not None
    return decision.refusal.status, decision.refusal.body["errorCode"], decision.refusal.body["message"]


@pytest.fixture
def pki(local_ca):
    return local_ca, local_ca.root_certificate, local_ca.intermediate("medicorp-ica-1").certificate


def test_verified_root_needs_the_intermediate_in_the_chain(pki, make_unit):
    ca, root, inter = pki
    state = TinyCentral()
    state.add("root-group", root)
    service = DpsService(state)
    unit = make_unit("unit-1")
    decision = service.authenticate(unit.chain, "unit-1")
    assert decision.refusal is None and decision.group_id == "root-group" and decision.group_enabled
    status, code, message = _refusal(service.authenticate([unit.leaf], "unit-1"))
    assert (status, code) == (401, 401002) and "missing the intermediate" in message


def test_verified_intermediate_sent_along_is_the_anchor(pki, make_unit):
    _, _, inter = pki
    state = TinyCentral()
    state.add("ica-group", inter)
    unit = make_unit("unit-2")
    service = DpsService(state)
    assert service.authenticate(unit.chain, "UNIT-2").group_id == "ica-group"  # ids are case-insensitive
    assert "missing the intermediate" in _refusal(service.authenticate([unit.leaf], "unit-2"))[2]


def test_disabled_only_group_authenticates_but_is_flagged(pki, make_unit):
    _, _, inter = pki
    state = TinyCentral()
    state.add("off", inter, enabled=False)
    decision = DpsService(state).authenticate(make_unit("unit-3").chain, "unit-3")
    assert decision.group_id == "off" and decision.group_enabled is False


def test_enabled_group_preferred_over_disabled_one(pki, make_unit):
    _, root, inter = pki
    state = TinyCentral()
    state.add("off", inter, enabled=False)
    state.add("on", root)
    decision = DpsService(state).authenticate(make_unit("unit-4").chain, "unit-4")
    assert (decision.group_id, decision.group_enabled) == ("on", True)


def test_no_verified_ca_at_all_and_self_signed_leaf(make_unit):
    state = TinyCentral()
    service = DpsService(state)
    assert _refusal(service.authenticate(make_unit("unit-5").chain, "unit-5"))[1] == 401002
    key = generate_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "unit-6")])
    now = dt.datetime.now(dt.timezone.utc)
    selfie = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
              .serial_number(1).not_valid_before(now - dt.timedelta(days=1))
              .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    state.add("g", selfie)  # even "verified", a leaf is not a CA that enrolls devices
    status, code, message = _refusal(service.authenticate([selfie], "unit-6"))
    assert (status, code) == (401, 401002) and "through the CA" in message


@pytest.mark.parametrize("registration_id, fragment", [
    ("", "empty"), ("unit_", "must end"), ("x" * 65, "at most 64"), ("unit 7", "only letters"),
])
def test_registration_id_rules(pki, make_unit, registration_id, fragment):
    _, _, inter = pki
    state = TinyCentral()
    state.add("g", inter)
    status, code, message = _refusal(DpsService(state).authenticate(make_unit("unit-7").chain, registration_id))
    assert (status, code) == (400, 400000) and fragment in message


def test_operation_polls_then_assigns_once(pki, make_unit):
    _, _, inter = pki
    state = TinyCentral()
    state.add("g", inter)
    service = DpsService(state, polls_before_assigned=2, retry_after=3)
    unit = make_unit("unit-8")
    answer = service.register(service.authenticate(unit.chain, "unit-8"), "unit-8", b'{"registrationId":"unit-8"}')
    assert answer.status == 202 and answer.retry_after == 3
    op = answer.body["operationId"]
    assert [service.operation_status("unit-8", op).status for _ in range(3)] == [202, 202, 200]
    assert state.devices["unit-8"] == {"id": "unit-8", "provisioned": True, "group": "g"}
    again = service.operation_status("unit-8", op)
    assert again.status == 200 and again.body["registrationState"]["etag"]
    assert service.operation_status("someone-else", op).status == 404
