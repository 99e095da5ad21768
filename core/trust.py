"""The public roots an Azure IoT device must trust, shipped in resources/trust/.

Azure IoT Hub and DPS serve certificates chaining to DigiCert Global Root G2; Microsoft
recommends trusting Microsoft RSA Root Certificate Authority 2017 as well (backup). Both go
into every instrument's trust store next to the product's MediCorp intermediate. They are
pinned here by SHA-256 so a damaged or swapped file is caught before it reaches a unit.
"""

from __future__ import annotations

from importlib import resources

from cryptography import x509

from certbench.core.errors import CertbenchError
from certbench.core.x509.inspect import sha256_fingerprint
from certbench.core.x509.parse import load_certificate

AZURE_ROOTS = {
    "digicert-global-root-g2.pem":
        "CB:3C:CB:B7:60:31:E5:E0:13:8F:8D:D3:9A:23:F9:DE:47:FF:C3:5E:43:C1:14:4C:EA:27:D4:6A:5A:B1:CB:5F",
    "microsoft-rsa-root-ca-2017.pem":
        "C7:41:F7:0F:4B:2A:8D:88:BF:2E:71:C1:41:22:EF:53:EF:10:EB:A0:CF:A5:E6:4C:FA:20:F4:18:85:30:73:E0",
}


def azure_root_certificates() -> list[x509.Certificate]:
    roots = []
    folder = resources.files("certbench.resources") / "trust"
    for name, fingerprint in AZURE_ROOTS.items():
        data = (folder / name).read_bytes()
        cert = load_certificate(data, source=name)
        if sha256_fingerprint(cert) != fingerprint:
            raise CertbenchError(
                f"The shipped root certificate {name} is not the expected one.",
                "The installation is damaged; reinstall Certbench.",
            )
        roots.append(cert)
    return roots
