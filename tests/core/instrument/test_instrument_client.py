"""End to end over the simulator: every command, identity checks, atomic commit rules."""

from __future__ import annotations

import sys

import pytest
from cryptography import x509

from certbench.core.instrument import Instrument, Result, Store
from certbench.core.instrument.canonical import canonical_certificates, key_hash, key_store_bytes, sha256
from certbench.core.instrument.errors import InstrumentRefused, VerificationFailed, WrongInstrument
from certbench.core.instrument.protocol import Alg, Capability, Cmd, RegisterResponse, RegisterStatus
from certbench.core.x509.keys import generate_key


def _refused(exc_info) -> int:
    return exc_info.value.result


def test_hello_reports_identity_and_capabilities(make_sim, connect):
    sim = make_sim(model="MC-200", serial="SN-42", firmware="3.1.0")
    info = connect(sim).hello()
    assert (info.model, info.serial, info.firmware) == ("MC-200", "SN-42", "3.1.0")
    assert info.rx_buffer == 256 and info.max_frame == 256
    assert info.capabilities & Capability.KEYGEN and not info.capabilities & Capability.KEY_IMPORT
    assert Store.KEY not in info.stores and info.stores[Store.TRUST] > 0


def test_wrong_serial_is_refused_by_identity_not_port(make_sim, connect):
    sim = make_sim(serial="SN-1")
    with pytest.raises(WrongInstrument) as exc:
        connect(sim, expect_serial="SN-2").hello()
    assert "SN-1" in exc.value.message and "scan" in exc.value.hint


def test_keygen_product_full_provisioning(make_sim, connect, pki):
    sim = make_sim()
    inst = connect(sim)
    csr = inst.keygen("ec-p256", {"CN": "unit-0001", "O": "MediCorp"})
    assert csr.is_signature_valid
    assert [a.value for a in csr.subject] == ["unit-0001", "MediCorp"]  # in the order sent
    leaf = pki.issue_for_csr(csr)
    seen = []
    result = inst.provision(pki.trust, pki.chain_for(leaf), progress=lambda done, total: seen.append((done, total)))
    assert not result.already_provisioned and set(result.stores_written) == {Store.TRUST, Store.CHAIN}
    assert seen[-1][0] == seen[-1][1] == len(canonical_certificates(pki.trust)) + len(canonical_certificates(pki.chain_for(leaf)))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    live = inst.hashes()
    assert live[Store.TRUST] == sha256(canonical_certificates(pki.trust))
    assert live[Store.KEY] == key_hash(leaf.public_key())
    # A second run finds everything in place and only proves possession again.
    assert inst.provision(pki.trust, pki.chain_for(leaf)).already_provisioned
    assert sim.stats.overruns == 0


def test_keygen_reuse_keeps_the_pending_key_across_a_power_cycle(make_sim, connect):
    sim = make_sim()
    first = connect(sim).keygen("ec-p256", "unit-1")
    sim.reboot()
    again = connect(sim).keygen("ec-p256", "unit-1", reuse=True)
    assert again.public_key().public_numbers() == first.public_key().public_numbers()
    fresh = connect(sim).keygen("ec-p256", "unit-1")
    assert fresh.public_key().public_numbers() != first.public_key().public_numbers()


def test_keygen_rsa_and_unsupported_algorithm(make_sim, connect):
    sim = make_sim(algorithms=("ec-p256", "rsa-2048"))
    inst = connect(sim)
    assert inst.keygen("rsa-2048", "unit-r").public_key().key_size == 2048
    with pytest.raises(InstrumentRefused) as exc:
        inst.keygen("ec-p384", "unit-x")
    assert _refused(exc) == Result.UNSUPPORTED_ALGORITHM


def test_key_import_product(make_sim, connect, pki):
    sim = make_sim(keygen=False)
    inst = connect(sim)
    key = generate_key("rsa-2048")
    leaf = pki.issue(key, "unit-rsa")
    inst.provision(pki.trust, pki.chain_for(leaf), key)
    assert inst.hashes()[Store.KEY] == key_hash(key)
    # The key is kept encrypted in the simulated secure store, never in clear.
    files = b"".join(f.read_bytes() for f in sim.store.folder.iterdir() if f.is_file())
    assert key_store_bytes(key) not in files
    assert b"ENCRYPTED PRIVATE KEY" in files


def test_commit_refuses_a_certificate_for_another_key_and_changes_nothing(make_sim, connect, small_pki, identities):
    sim = make_sim(keygen=False)
    inst = connect(sim)
    old_key, old_chain = identities["old"]
    inst.provision(small_pki.trust, old_chain, old_key)
    before = inst.hashes()
    _, new_chain = identities["new"]
    inst.write_stores({Store.CHAIN: canonical_certificates(new_chain), Store.KEY: key_store_bytes(old_key)})
    with pytest.raises(InstrumentRefused) as exc:
        inst.commit()
    assert _refused(exc) == Result.KEY_CERT_MISMATCH
    assert inst.hashes() == before
    inst.abort()
    with pytest.raises(InstrumentRefused) as exc:
        inst.commit()
    assert _refused(exc) == Result.NOTHING_STAGED


def test_commit_refuses_a_key_without_its_certificate(make_sim, connect, small_pki, identities):
    sim = make_sim(keygen=False)
    inst = connect(sim)
    new_key, _ = identities["new"]
    inst.write_stores({Store.KEY: key_store_bytes(new_key)})
    with pytest.raises(InstrumentRefused) as exc:
        inst.commit()
    assert _refused(exc) == Result.KEY_CERT_MISMATCH
    assert inst.hashes() == {Store.TRUST: None, Store.CHAIN: None, Store.KEY: None}


def test_keygen_product_refuses_a_certificate_not_for_its_key(make_sim, connect, small_pki, identities):
    sim = make_sim()
    inst = connect(sim)
    inst.keygen("ec-p256", "unit-1")
    _, foreign_chain = identities["old"]
    inst.write_stores({Store.CHAIN: canonical_certificates(foreign_chain)})
    with pytest.raises(InstrumentRefused) as exc:
        inst.commit()
    assert _refused(exc) == Result.KEY_CERT_MISMATCH
    with pytest.raises(InstrumentRefused) as exc:
        inst.write_stores({Store.KEY: b"\x30\x00"})
    assert _refused(exc) == Result.NOT_WRITABLE


def test_non_canonical_or_broken_content_is_refused_and_nothing_staged(make_sim, connect, small_pki):
    sim = make_sim()
    inst = connect(sim)
    crlf = canonical_certificates(small_pki.trust).replace(b"\n", b"\r\n")
    with pytest.raises(InstrumentRefused) as exc:
        inst.write_stores({Store.TRUST: crlf})
    assert _refused(exc) == Result.BAD_FORMAT
    assert inst.hashes(staged=True)[Store.TRUST] is None
    with pytest.raises(InstrumentRefused) as exc:
        inst.write_stores({Store.TRUST: b"x" * 100_000})
    assert _refused(exc) == Result.TOO_LARGE


def test_possession_check_fails_for_a_foreign_leaf(make_sim, connect, small_pki, identities):
    sim = make_sim(keygen=False)
    inst = connect(sim)
    key, chain = identities["old"]
    inst.provision(small_pki.trust, chain, key)
    inst.verify_possession(chain[0])
    with pytest.raises(VerificationFailed):
        inst.verify_possession(identities["new"][1][0])


def test_sign_without_a_key_and_bad_nonce(make_sim, connect):
    inst = connect(make_sim())
    with pytest.raises(InstrumentRefused) as exc:
        inst.sign(bytes(32))
    assert _refused(exc) == Result.NO_KEY
    with pytest.raises(InstrumentRefused) as exc:
        inst.sign(b"short")
    assert _refused(exc) == Result.BAD_REQUEST


def test_wipe_erases_everything(make_sim, connect, small_pki, identities):
    sim = make_sim(keygen=False)
    inst = connect(sim)
    key, chain = identities["old"]
    inst.provision(small_pki.trust, chain, key)
    inst.wipe()
    assert inst.hashes() == {Store.TRUST: None, Store.CHAIN: None, Store.KEY: None}
    assert not inst.status().state


def test_lock_refuses_changes_until_authorised_unlock(make_sim, connect, small_pki, identities):
    sim = make_sim(keygen=False)
    inst = connect(sim)
    key, chain = identities["old"]
    inst.provision(small_pki.trust, chain, key)
    inst.lock(b"supervisor secret")
    for action in (inst.wipe, lambda: inst.write_stores({Store.TRUST: canonical_certificates(small_pki.trust)})):
        with pytest.raises(InstrumentRefused) as exc:
            action()
        assert _refused(exc) == Result.LOCKED
    with pytest.raises(InstrumentRefused) as exc:
        inst.unlock(b"wrong secret")
    assert _refused(exc) == Result.AUTH_FAILED
    inst.unlock(b"supervisor secret")
    inst.wipe()


def test_register_not_supported_by_default_and_with_a_handler(make_sim, connect, small_pki, identities, tmp_path):
    inst = connect(make_sim())
    with pytest.raises(InstrumentRefused) as exc:
        inst.register("0ne000ABCDE")
    assert _refused(exc) == Result.NOT_SUPPORTED

    calls = []

    def handler(request, certs, key):
        calls.append((request, certs[0].subject.rfc4514_string()))
        return RegisterResponse(RegisterStatus.ASSIGNED, "hub-1.azure-devices.net", "unit-old", "")

    sim = make_sim(keygen=False, register_handler=handler, store_dir=tmp_path / "other")
    inst = connect(sim)
    key, chain = identities["old"]
    inst.provision(small_pki.trust, chain, key)
    answer = inst.register("0ne000ABCDE", "dps.example", server_ca=small_pki.roots[0])
    assert answer.status == RegisterStatus.ASSIGNED and answer.assigned_hub == "hub-1.azure-devices.net"
    assert calls[0][1] == "CN=unit-old"
    assert calls[0][0].server_ca_sha256 == small_pki.roots[0].fingerprint(__import__("cryptography.hazmat.primitives.hashes", fromlist=["SHA256"]).SHA256())


def test_state_survives_a_new_simulator_on_the_same_folder(make_sim, connect, small_pki, identities, tmp_path):
    sim = make_sim(keygen=False, store_dir=tmp_path / "persist")
    inst = connect(sim)
    key, chain = identities["old"]
    inst.provision(small_pki.trust, chain, key)
    sim.close()
    again = connect(make_sim(keygen=False, store_dir=tmp_path / "persist"))
    assert again.hashes()[Store.KEY] == key_hash(key)
    again.verify_possession(chain[0])


def test_over_tcp_with_a_pyserial_socket_url(make_sim, small_pki, identities):
    sim = make_sim(keygen=False)
    url = sim.serve_tcp()
    assert url.startswith("socket://127.0.0.1:")
    key, chain = identities["old"]
    with Instrument.open(url, expect_serial="SIM0001") as inst:
        inst.provision(small_pki.trust, chain, key)
    with Instrument.open(url) as inst:  # a second connection, as after re-plugging
        assert inst.hashes()[Store.KEY] == key_hash(key)


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX only")
def test_over_a_pseudo_terminal(make_sim):
    sim = make_sim(serial="PTY-1")
    path = sim.serve_pty()
    with Instrument.open(path, baud=115200) as inst:
        assert inst.info.serial == "PTY-1"
        assert isinstance(inst.keygen("ec-p256", "unit-pty"), x509.CertificateSigningRequest)


def test_status_shows_a_partial_transfer(make_sim, connect, small_pki):
    from certbench.core.emulators.instrument import Faults

    sim = make_sim(faults=Faults(disconnect_at=4))  # HELLO, BEGIN, WRITE, then the cable goes
    data = canonical_certificates(small_pki.trust)
    with pytest.raises(Exception):
        connect(sim).write_stores({Store.TRUST: data})
    status = connect(sim).status()
    trust = next(s for s in status.stores if s.store == Store.TRUST)
    assert trust.staged_total == len(data) and 0 < trust.staged_received < len(data) and not trust.staged_complete


def test_find_instrument_by_what_it_says_not_by_port(make_sim, tmp_path):
    from certbench.core.instrument.errors import WrongInstrument
    from certbench.core.instrument.ports import find_instrument, probe

    a = make_sim(serial="SN-A", store_dir=tmp_path / "a").serve_tcp()
    b = make_sim(serial="SN-B", store_dir=tmp_path / "b").serve_tcp()
    dead = "socket://127.0.0.1:1"
    found = {f.port: f for f in probe([a, b, dead])}
    assert found[a].hello.serial == "SN-A" and found[b].hello.serial == "SN-B"
    assert found[dead].hello is None and found[dead].error
    assert find_instrument("SN-B", [a, b, dead]) == b
    with pytest.raises(WrongInstrument):
        find_instrument("SN-C", [a, b])


def test_keygen_subject_values_beyond_certificate_limits(make_sim, connect):
    inst = connect(make_sim())
    with pytest.raises(InstrumentRefused) as exc:
        inst.keygen("ec-p256", "u" * 65)
    assert "65 characters; certificates allow 1 to 64" in exc.value.message and "CN template" in exc.value.hint
    with pytest.raises(InstrumentRefused) as exc:
        inst.keygen("ec-p256", {"CN": "unit-1", "C": "USA"})
    assert "allow exactly 2" in exc.value.message
    # The instrument enforces the same limits on its own (spec: KEYGEN): BAD_REQUEST.
    from certbench.core.instrument.protocol import KeygenRequest, SubjectAttr

    body = KeygenRequest(Alg.EC_P256, ((SubjectAttr.CN, "unit-1"), (SubjectAttr.O, "o" * 65))).encode()
    assert inst._call(Cmd.KEYGEN, body, check=False).result == Result.BAD_REQUEST
    assert inst.status().pending_alg == 0  # nothing was made


def test_register_message_is_clipped_to_255_bytes_at_a_character_boundary():
    from certbench.core.instrument.protocol import RegisterResponse

    answer = RegisterResponse(1, "", "", "é" * 200)  # 400 bytes of UTF-8
    decoded = RegisterResponse.decode(answer.encode())
    assert decoded.message == "é" * 127
