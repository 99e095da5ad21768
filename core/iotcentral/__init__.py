"""Azure IoT Central data-plane REST client (api-version 2022-07-31): enrollment groups,
their X.509 certificate entries with proof of possession, and devices.

    from certbench.core.iotcentral import IoTCentralClient
    with IoTCentralClient.from_settings(settings.iotcentral) as client:
        client.list_groups()
"""

from certbench.core.iotcentral.auth import ApiCredential
from certbench.core.iotcentral.client import API_VERSION, ENTRIES, IoTCentralClient
from certbench.core.iotcentral.errors import (
    IoTCentralAuthError,
    IoTCentralConnectionError,
    IoTCentralError,
    IoTCentralInvalidRequest,
    IoTCentralNotFound,
    IoTCentralPermissionDenied,
    IoTCentralPreconditionFailed,
    IoTCentralServerError,
    IoTCentralThrottled,
)
from certbench.core.iotcentral.models import CertificateEntry, Device, EnrollmentGroup

__all__ = [
    "API_VERSION",
    "ENTRIES",
    "ApiCredential",
    "CertificateEntry",
    "Device",
    "EnrollmentGroup",
    "IoTCentralAuthError",
    "IoTCentralClient",
    "IoTCentralConnectionError",
    "IoTCentralError",
    "IoTCentralInvalidRequest",
    "IoTCentralNotFound",
    "IoTCentralPermissionDenied",
    "IoTCentralPreconditionFailed",
    "IoTCentralServerError",
    "IoTCentralThrottled",
]
