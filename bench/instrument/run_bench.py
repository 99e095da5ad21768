"""Payload efficiency of the instrument link against the paced simulator.

efficiency = payload bytes x 10 / baud / wall seconds, where payload = the bytes of the
three stores (trust store: two roots + intermediate; client chain: leaf + intermediate;
an RSA-2048 key) and wall time = staging all three (STAGE_BEGIN + STAGE_WRITE until the
instrument confirms each complete and hash-checked). "e2e" adds COMMIT, HASH read-back and
the SIGN possession check. Host and simulator talk over TCP through pyserial's socket://
handler, the same code path as a COM port.

Run:  .venv/bin/python bench/instrument/run_bench.py [--runs 3] [--bauds 9600,115200,921600]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import keyring
import keyring.backend


class _MemoryKeyring(keyring.backend.KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict = {}

    def get_password(self, service, username):
        return self.store.get((service, username))

    def set_password(self, service, username, password):
        self.store[(service, username)] = password

    def delete_password(self, service, username):
        self.store.pop((service, username), None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bauds", default="9600,115200,921600")
    parser.add_argument("--bers", default="0,1e-4")
    args = parser.parse_args()
    keyring.set_keyring(_MemoryKeyring())  # the simulator's store passphrase; no OS keyring needed

    from certbench.core.emulators.instrument import LineConfig, SimulatedInstrument
    from certbench.core.emulators.instrument.sample_pki import SamplePki
    from certbench.core.instrument import Instrument, Store
    from certbench.core.instrument.canonical import canonical_certificates, key_store_bytes
    from certbench.core.x509.keys import generate_key

    pki = SamplePki.create()
    key = generate_key("rsa-2048")
    leaf = pki.issue(key, "unit-bench-0001")
    stores = {
        Store.TRUST: canonical_certificates(pki.trust),
        Store.CHAIN: canonical_certificates(pki.chain_for(leaf)),
        Store.KEY: key_store_bytes(key),
    }
    payload = sum(map(len, stores.values()))
    print(f"payload: trust {len(stores[Store.TRUST])} B + chain {len(stores[Store.CHAIN])} B + key {len(stores[Store.KEY])} B"
          f" = {payload} B; rx_buffer 256 B; {args.runs} runs, medians")
    print(f"{'baud':>7} {'BER':>6} {'transfer s':>10} {'efficiency':>10} {'e2e s':>7} {'e2e eff':>8} {'retx':>5}")
    for baud in (int(b) for b in args.bauds.split(",")):
        for ber in (float(b) for b in args.bers.split(",")):
            transfer, e2e, retx = [], [], []
            for run in range(args.runs):
                with tempfile.TemporaryDirectory() as folder:
                    sim = SimulatedInstrument(store_dir=folder, keygen=False,
                                              line=LineConfig(baud=baud, bit_error_rate=ber, seed=run))
                    try:
                        with Instrument.open(sim.serve_tcp(), baud) as inst:
                            t0 = time.perf_counter()
                            inst.write_stores({int(s): d for s, d in stores.items()})
                            t1 = time.perf_counter()
                            inst.commit()
                            assert inst.hashes()[Store.CHAIN] is not None
                            inst.verify_possession(leaf)
                            t2 = time.perf_counter()
                            assert sim.stats.overruns == 0
                            transfer.append(t1 - t0)
                            e2e.append(t2 - t0)
                            retx.append(inst.link.stats.retransmits + inst.link.stats.fast_retransmits)
                    finally:
                        sim.close()
            t, e = statistics.median(transfer), statistics.median(e2e)
            print(f"{baud:>7} {ber:>6g} {t:>10.3f} {payload * 10 / baud / t:>9.1%} {e:>7.3f} {payload * 10 / baud / e:>7.1%}"
                  f" {statistics.median(retx):>5g}")


if __name__ == "__main__":
    main()
