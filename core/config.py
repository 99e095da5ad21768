"""Settings: one TOML file, no secrets in it.

Files are read in order, later ones overriding earlier ones key by key:
1. the machine-wide file IT deploys: `site_config_dir()/certbench.toml` (ProgramData on Windows);
2. the user's file: `config_dir()/certbench.toml` (the one Settings writes);
3. a file named by `CERTBENCH_CONFIG`, when set.
With no file at all, the embedded defaults apply: the local CA with four intermediates and
four demo products, which is what demo mode and a first start use.

Every value is checked on load; an invalid one raises `ConfigError` naming the key
(`products[2].key_source`) and the problem. Secret-looking keys are refused: secrets go to
the OS keyring through `certbench.core.secrets`.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import re
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from certbench.core import paths
from certbench.core.errors import CertbenchError, ConfigError
from certbench.core.instrument.transport import DEFAULT_BAUD
from certbench.core.naming import CnTemplate
from certbench.core.x509.keys import KeySpec

FILE_NAME = "certbench.toml"
_SECRET_WORDS = re.compile(r"(password|passwd|secret|token|passphrase|private_?key|sig)$", re.I)


def _choice(*values: str) -> dict[str, Any]:
    return {"choices": values}


@dataclass
class BenchSettings:
    workstation: str = field(default_factory=lambda: platform.node() or "bench")
    cn_template: str = "{model}-{serial}"
    # Local CA leaf validity; Sectigo terms are per intermediate.
    leaf_validity_days: int = 365 * 10
    check_registration: bool = True
    scanner_prefix: str = ""
    scanner_suffix: str = ""
    scanner_port: str = ""
    # Where instruments are looked for: these ports or pyserial URLs (socket://host:port for a
    # simulator or a serial server); empty = every serial port of this PC, narrowed to the USB
    # adapters in instrument_usb_ids ("0403:6001") when that is set.
    instrument_ports: list[str] = field(default_factory=list)
    instrument_usb_ids: list[str] = field(default_factory=list)
    instrument_baud: int = DEFAULT_BAUD


# Rates USB-serial adapters and UARTs generate exactly; anything else is most likely a typo.
USUAL_BAUD_RATES = (1200, 2400, 4800, 9600, 14400, 19200, 38400, 57600, 115200, 230400, 460800, 921600,
                    1000000, 2000000, 3000000)
# pyserial's URL handlers (serial.serial_for_url); a port with another scheme cannot be opened.
PYSERIAL_URL_SCHEMES = ("socket", "rfc2217", "loop", "spy", "alt", "hwgrep", "cp2110")


@dataclass
class Product:
    model: str
    intermediate: str
    gtins: list[str] = field(default_factory=list)
    display_name: str = ""
    key_algorithm: str = "ec-p256"
    key_source: str = field(default="device", metadata=_choice("device", "workstation"))
    iotcentral_template: str = ""
    # HIBC labeler code + product number ("MDCPMX200"): the UDI a HIBC label carries.
    hibc_codes: list[str] = field(default_factory=list)


@dataclass
class Intermediate:
    name: str
    source: str = field(default="local", metadata=_choice("local", "sectigo", "file"))
    display_name: str = ""
    # Sectigo: the device-certificate profile bound to this intermediate.
    profile_id: int = 0
    org_id: int = 0
    term_days: int = 365
    # PEM file of the intermediate certificate (source "file", or imported from Sectigo).
    certificate_file: str = ""
    # Where its proof of possession lives in IoT Central.
    group: str = ""
    entry: str = field(default="", metadata=_choice("", "primary", "secondary"))


@dataclass
class IoTCentralSettings:
    subdomain: str = ""
    dns_suffix: str = "azureiotcentral.com"
    base_url: str = ""
    auth: str = field(default="api-token", metadata=_choice("api-token", "bearer"))
    timeout_seconds: float = 30.0
    # Extra CA bundle to trust (the emulator's CA in demo mode); empty = system trust.
    ca_file: str = ""

    def resolved_base_url(self) -> str:
        if self.base_url:
            return self.base_url.rstrip("/")
        if not self.subdomain:
            raise ConfigError(
                "No IoT Central application is configured.",
                "Set [iotcentral] subdomain (the part before .azureiotcentral.com) in Settings.",
            )
        return f"https://{self.subdomain}.{self.dns_suffix.strip('.')}"


@dataclass
class SectigoSettings:
    base_url: str = "https://cert-manager.com"
    customer_uri: str = ""
    login: str = ""
    auth: str = field(default="password", metadata=_choice("password", "client-cert", "oauth2"))
    client_cert_file: str = ""
    oauth_token_url: str = "https://auth.sso.sectigo.com/auth/realms/apiclients/protocol/openid-connect/token"
    oauth_client_id: str = ""
    timeout_seconds: float = 30.0
    poll_limit_seconds: float = 600.0
    ca_file: str = ""


@dataclass
class DpsSettings:
    host: str = "global.azure-devices-provisioning.net"
    id_scope: str = ""
    ca_file: str = ""


@dataclass
class RegistrySettings:
    # Empty: the SQLite file in the data directory. Several benches: a PostgreSQL URL,
    # e.g. postgresql+psycopg://certbench@dbhost/certbench (password in the keyring).
    url: str = ""


@dataclass
class Settings:
    bench: BenchSettings = field(default_factory=BenchSettings)
    iotcentral: IoTCentralSettings = field(default_factory=IoTCentralSettings)
    sectigo: SectigoSettings = field(default_factory=SectigoSettings)
    dps: DpsSettings = field(default_factory=DpsSettings)
    registry: RegistrySettings = field(default_factory=RegistrySettings)
    intermediates: list[Intermediate] = field(default_factory=list)
    products: list[Product] = field(default_factory=list)
    sources: list[str] = field(default_factory=list, metadata={"internal": True})

    # -- lookups -------------------------------------------------------------------------
    def intermediate(self, name: str) -> Intermediate:
        for item in self.intermediates:
            if item.name == name:
                return item
        known = ", ".join(i.name for i in self.intermediates) or "none"
        raise ConfigError(
            f"There is no intermediate CA named '{name}'.",
            f"Configured intermediates: {known}.",
        )

    def product(self, model: str) -> Product:
        for item in self.products:
            if item.model.casefold() == model.strip().casefold():
                return item
        known = ", ".join(p.model for p in self.products) or "none"
        raise ConfigError(f"Product model '{model}' is not configured.", f"Known models: {known}.")

    def product_for_gtin(self, gtin: str) -> Product | None:
        for item in self.products:
            if gtin in item.gtins:
                return item
        return None

    def product_for_hibc(self, code: str) -> Product | None:
        """The product whose HIBC code (labeler code + product number) is `code`."""
        for item in self.products:
            if code in item.hibc_codes:
                return item
        return None

    def cn_template(self) -> CnTemplate:
        return CnTemplate(self.bench.cn_template)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("sources")
        return data


def default_settings() -> Settings:
    """The embedded defaults: the local CA's four intermediates and four demo products, the
    intermediates paired into two IoT Central enrollment groups (a group holds two CAs)."""
    intermediates = [
        Intermediate(
            name=f"medicorp-ica-{i}",
            display_name=f"MediCorp Device Issuing CA {i}",
            source="local",
            group=f"medicorp-devices-{(i + 1) // 2}",
            entry="primary" if i % 2 else "secondary",
        )
        for i in range(1, 5)
    ]
    products = [
        Product("mx200", "medicorp-ica-1", ["09506000134352"], "MX-200 infusion monitor", "ec-p256", "device",
                hibc_codes=["MDCPMX200"]),
        Product("mx300", "medicorp-ica-2", ["09506000134369"], "MX-300 patient monitor", "rsa-2048", "workstation",
                hibc_codes=["MDCPMX300"]),
        Product("vx10", "medicorp-ica-3", ["09506000134376"], "VX-10 ventilator module", "ec-p384", "device",
                hibc_codes=["MDCPVX10"]),
        Product("lx5", "medicorp-ica-4", ["09506000134383"], "LX-5 lab analyser", "ec-p256", "workstation",
                hibc_codes=["MDCPLX5"]),
    ]
    return Settings(intermediates=intermediates, products=products)


# -- loading and checking ---------------------------------------------------------------------


def _type_name(tp: Any) -> str:
    return {str: "text", int: "a whole number", float: "a number", bool: "true or false"}.get(tp, str(tp))


def _convert(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"Setting '{key}' must be a list.", f"Write it as {key.split('.')[-1]} = [ ... ].")
        return [_convert(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value)]
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"Setting '{key}' must be a table.", f"Write it as [{key}] with keys below it.")
        return _build(tp, value, key)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is int and isinstance(value, bool) or not isinstance(value, tp):
        raise ConfigError(
            f"Setting '{key}' must be {_type_name(tp)}, not {value!r}.",
            "Correct the value in the settings file.",
        )
    return value


def _build(cls: Any, data: dict[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else name
        if _SECRET_WORDS.search(name):
            raise ConfigError(
                f"Setting '{key}' looks like a secret; secrets are not kept in the settings file.",
                "Remove it from the file and store it with `certbench config set-secret` or in Settings.",
            )
        if name not in known:
            raise ConfigError(
                f"Unknown setting '{key}'.",
                "Known here: " + ", ".join(sorted(known)) + ". Check the spelling.",
            )
        converted = _convert(value, hints[name], key)
        choices = known[name].metadata.get("choices")
        if choices and converted not in choices:
            raise ConfigError(
                f"Setting '{key}' is '{converted}', which is not one of: {', '.join(c or '(empty)' for c in choices)}.",
                "Correct the value in the settings file.",
            )
        kwargs[name] = converted
    missing = [
        f.name
        for f in dataclasses.fields(cls)
        if f.name not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"Setting '{prefix}' lacks the required key '{missing[0]}'.", "Add it to the settings file.")
    return cls(**kwargs)


def _check(settings: Settings) -> None:
    names = [i.name for i in settings.intermediates]
    for index, item in enumerate(settings.intermediates):
        key = f"intermediates[{index}]"
        if not item.name.strip():
            raise ConfigError(f"Setting '{key}.name' is empty.", "Give each intermediate a short name, e.g. ica-site-a.")
        if names.count(item.name) > 1:
            raise ConfigError(f"Intermediate name '{item.name}' appears twice (in '{key}').",
                              "Give each intermediate its own name.")
        if item.source == "sectigo" and (item.profile_id <= 0 or item.org_id <= 0):
            raise ConfigError(
                f"Setting '{key}' ({item.name}) comes from Sectigo but has no profile_id/org_id.",
                "Set profile_id (the device certificate profile bound to this CA) and org_id.",
            )
        if item.source == "file" and not item.certificate_file:
            raise ConfigError(
                f"Setting '{key}.certificate_file' is required for source = \"file\".",
                "Give the path of the intermediate's PEM certificate, or choose another source.",
            )
        if item.group and not re.fullmatch(r"[A-Za-z0-9-]{1,255}", item.group):
            raise ConfigError(
                f"Setting '{key}.group' is '{item.group}': IoT Central group ids allow only letters, digits and '-'.",
                "Use the enrollment group's id as IoT Central shows it (e.g. medicorp-devices-1).",
            )
        if item.term_days <= 0:
            raise ConfigError(f"Setting '{key}.term_days' must be a positive number of days.",
                              "Use the certificate term the Sectigo profile allows, e.g. 365.")
    models: set[str] = set()
    gtins: dict[str, str] = {}
    hibc_codes: dict[str, str] = {}
    for index, product in enumerate(settings.products):
        key = f"products[{index}]"
        if product.model.casefold() in models:
            raise ConfigError(f"Product model '{product.model}' appears twice (in '{key}').",
                              "Give each product its own model.")
        models.add(product.model.casefold())
        if product.intermediate not in names:
            raise ConfigError(
                f"Setting '{key}.intermediate' names '{product.intermediate}', which is not a configured intermediate.",
                "Known intermediates: " + (", ".join(names) or "none") + ".",
            )
        try:
            KeySpec.parse(product.key_algorithm)
        except CertbenchError as exc:  # InputError -> re-worded as a settings problem
            raise ConfigError(f"Setting '{key}.key_algorithm': {exc.message}", exc.hint) from None
        for gtin in product.gtins:
            if not re.fullmatch(r"\d{14}", gtin):
                raise ConfigError(f"Setting '{key}.gtins' has '{gtin}': a GTIN here is 14 digits (GTIN-14).",
                                  "Pad a shorter GTIN with leading zeros to 14 digits, as on the label's (01).")
            if gtin in gtins:
                raise ConfigError(f"GTIN {gtin} belongs to both '{gtins[gtin]}' and '{product.model}'.",
                                  f"Remove it from one of them (in '{key}.gtins').")
            gtins[gtin] = product.model
        for code in product.hibc_codes:
            # LIC: a letter and three letters/digits (assigned by HIBCC); then the labeler's
            # product number, 1 to 18 letters/digits. Capitals only: HIBC uses the Code 39 set.
            if not re.fullmatch(r"[A-Z][A-Z0-9]{3}[A-Z0-9]{1,18}", code):
                raise ConfigError(
                    f"Setting '{key}.hibc_codes' has '{code}': a HIBC code here is the 4-character labeler code "
                    "(LIC, starting with a letter) followed by the product number (1-18 characters), "
                    "capital letters and digits only, e.g. \"MDCPMX200\".",
                    "Copy the code from the HIBC label, between the leading '+' and the '/'.",
                )
            if code in hibc_codes:
                raise ConfigError(f"HIBC code {code} belongs to both '{hibc_codes[code]}' and '{product.model}'.",
                                  f"Remove it from one of them (in '{key}.hibc_codes').")
            hibc_codes[code] = product.model
    try:
        template = settings.cn_template()
    except ConfigError as exc:
        raise ConfigError(f"Setting 'bench.cn_template': {exc.message}", exc.hint) from None
    for index, product in enumerate(settings.products):
        # The model is part of every CN: a model the CN policy refuses would fail every unit.
        try:
            template.render(model=product.model, serial="1", gtin="0" * 14, lot="1")
        except CertbenchError as exc:
            raise ConfigError(
                f"Setting 'products[{index}].model' is '{product.model}', which cannot go into a device name: "
                f"{exc.message}",
                "Use lowercase letters, digits and '-' in model names (e.g. mx200).",
            ) from None
    _check_values(settings)


def _check_values(settings: Settings) -> None:
    """Numbers, names and addresses that would otherwise fail only when first used."""
    bench = settings.bench
    if not 1 <= len(bench.workstation.strip()) <= 64:
        raise ConfigError("Setting 'bench.workstation' must be 1 to 64 characters.",
                          "Use the bench's name as it should appear in the audit trail, e.g. BENCH-03.")
    if not 1 <= bench.leaf_validity_days <= 36500:
        raise ConfigError(f"Setting 'bench.leaf_validity_days' is {bench.leaf_validity_days}: it must be 1 to 36500 days.",
                          "Use the validity local-CA certificates should have, e.g. 3650.")
    _check_instrument_ports(bench)
    for key, value in (("iotcentral.timeout_seconds", settings.iotcentral.timeout_seconds),
                       ("sectigo.timeout_seconds", settings.sectigo.timeout_seconds),
                       ("sectigo.poll_limit_seconds", settings.sectigo.poll_limit_seconds)):
        if not 0 < value <= 3600:
            raise ConfigError(f"Setting '{key}' is {value:g}: it must be more than 0 and at most 3600 seconds.",
                              "The default (30 s; 600 s for the Sectigo poll limit) suits most networks.")
    subdomain = settings.iotcentral.subdomain
    if subdomain and not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?", subdomain):
        raise ConfigError(
            f"Setting 'iotcentral.subdomain' is '{subdomain}': a subdomain is letters, digits and '-' only.",
            "Give only the part before .azureiotcentral.com (for https://medicorp.azureiotcentral.com: medicorp).",
        )
    for key, url in (("iotcentral.base_url", settings.iotcentral.base_url),
                     ("sectigo.base_url", settings.sectigo.base_url),
                     ("sectigo.oauth_token_url", settings.sectigo.oauth_token_url)):
        if url and not re.fullmatch(r"https?://[^\s/?#]+(?:[/?#]\S*)?", url):
            raise ConfigError(f"Setting '{key}' is '{url}', which is not a web address.",
                              "Write it as https://host/... (or leave it empty for the default).")
    registry_url = settings.registry.url.strip()
    if registry_url and not re.match(r"(sqlite|postgres|postgresql)(\+\w+)?://", registry_url):
        raise ConfigError(
            f"Setting 'registry.url' is '{_without_password(registry_url)}', which is not a SQLite or PostgreSQL URL.",
            "Leave it empty for the local SQLite file, or write postgresql+psycopg://user@host/database.",
        )


def _check_instrument_ports(bench: BenchSettings) -> None:
    key = "bench.instrument_ports"
    for port in bench.instrument_ports:
        if not port.strip():
            raise ConfigError(f"Setting '{key}': one entry is empty.",
                              "Remove it, or leave the list empty to look on every serial port.")
        if re.search(r"[\s,]", port):
            raise ConfigError(f"Setting '{key}': '{port}' is not a port name (a port name has no spaces or commas).",
                              'Give each port as its own entry: COM3, COM4 in Settings, '
                              'instrument_ports = ["COM3", "COM4"] in the settings file.')
        url = re.fullmatch(r"([A-Za-z][A-Za-z0-9+.-]*)://(.*)", port)
        if url:
            scheme, rest = url.group(1).lower(), url.group(2)
            if scheme not in PYSERIAL_URL_SCHEMES:
                raise ConfigError(
                    f"Setting '{key}': '{port}' is not a kind of port Certbench can open ({scheme}://).",
                    "Use a port name (COM3, /dev/ttyUSB0) or socket://host:port, rfc2217://host:port, loop://.",
                )
            if scheme in ("socket", "rfc2217"):
                address = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[^\[\]:/?#]+):(\d{1,5})(?:[/?].*)?", rest)
                if not address or not 1 <= int(address.group(2)) <= 65535:
                    raise ConfigError(f"Setting '{key}': '{port}' lacks the host and port number.",
                                      f"Write it as {scheme}://host:port, e.g. {scheme}://127.0.0.1:5555.")
    if len({p.casefold() for p in bench.instrument_ports}) != len(bench.instrument_ports):
        twice = next(p for p in bench.instrument_ports
                     if [q.casefold() for q in bench.instrument_ports].count(p.casefold()) > 1)
        raise ConfigError(f"Setting '{key}': '{twice}' is listed twice.", "List each port once.")
    for usb_id in bench.instrument_usb_ids:
        if not re.fullmatch(r"[0-9A-Fa-f]{4}:[0-9A-Fa-f]{4}", usb_id):
            raise ConfigError(
                f"Setting 'bench.instrument_usb_ids': '{usb_id}' is not a USB vendor:product id.",
                "Write four hex digits, a colon and four hex digits, as Device Manager shows them "
                "(VID_0403&PID_6001 is \"0403:6001\"); `certbench instrument ports` lists them.",
            )
    baud = bench.instrument_baud
    if baud <= 0:
        raise ConfigError(f"Setting 'bench.instrument_baud': {baud} is not a positive number of bits per second.",
                          f"The instruments' usual rate is {DEFAULT_BAUD}.")
    if baud not in USUAL_BAUD_RATES:
        raise ConfigError(
            f"Setting 'bench.instrument_baud': {baud} is not a usual serial line speed.",
            "Use the rate the instruments are set to, one of " + ", ".join(map(str, USUAL_BAUD_RATES))
            + f" (the default is {DEFAULT_BAUD}).",
        )


def _without_password(url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


# Settings that name files: checked by `certbench config check`, not on load (a network
# drive that is not mounted yet must not stop Certbench from starting).
def missing_files(settings: Settings) -> list[tuple[str, str]]:
    """(key, path) of every file the settings name that does not exist."""
    named = [("iotcentral.ca_file", settings.iotcentral.ca_file), ("sectigo.ca_file", settings.sectigo.ca_file),
             ("sectigo.client_cert_file", settings.sectigo.client_cert_file), ("dps.ca_file", settings.dps.ca_file)]
    named += [(f"intermediates[{i}].certificate_file", item.certificate_file)
              for i, item in enumerate(settings.intermediates)]
    return [(key, path) for key, path in named if path and not Path(path).expanduser().is_file()]


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def config_files() -> list[Path]:
    files = [paths.site_config_dir() / FILE_NAME, paths.config_dir() / FILE_NAME]
    extra = os.environ.get("CERTBENCH_CONFIG")
    if extra:
        files.append(Path(extra))
    return files


def user_config_file() -> Path:
    return paths.config_dir() / FILE_NAME


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"The settings file {path} is not valid TOML: {exc}.", "Fix the line named above.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"The settings file {path} cannot be read: {exc}.") from None


def parse_settings(data: dict[str, Any], sources: list[str] | None = None) -> Settings:
    defaults = default_settings().to_dict()
    # Lists (products, intermediates) replace the defaults whole; tables merge by key.
    merged = _merge(defaults, data)
    settings = _build(Settings, merged, "")
    settings.sources = sources or []
    _check(settings)
    return settings


def load_settings() -> Settings:
    data: dict[str, Any] = {}
    sources = []
    for path in config_files():
        if path.is_file():
            data = _merge(data, _read(path))
            sources.append(str(path))
    return parse_settings(data, sources)


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Check, then write atomically (a crash never leaves half a settings file)."""
    _check(settings)
    target = path or user_config_file()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".toml.tmp")
    tmp.write_text(tomli_w.dumps(settings.to_dict()), encoding="utf-8")
    os.replace(tmp, target)
    return target


__all__ = [
    "BenchSettings",
    "DpsSettings",
    "Intermediate",
    "IoTCentralSettings",
    "Product",
    "RegistrySettings",
    "SectigoSettings",
    "Settings",
    "config_files",
    "default_settings",
    "load_settings",
    "missing_files",
    "parse_settings",
    "save_settings",
    "user_config_file",
]

