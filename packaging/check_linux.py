#!/usr/bin/env python3
"""The installer's CI check on Linux (called by .ci/run after the tests).

Builds the PyInstaller bundle for Linux and the MSI with wixl (packaging/build.py), then:
- runs the bundled executables: `--version`, the self-test offscreen (without a keyring it
  must fail on exactly that item, with a non-zero exit code; inside a D-Bus session with an
  unlocked gnome-keyring every item must pass), and the window, which must paint once;
- looks inside the bundle: keyring backends and metadata, resources, migrations, no unused
  Qt modules, plugins or translations, size under the limit;
- reads the MSI's tables with msiinfo: ALLUSERS=1, UpgradeCode, ProductVersion, the Upgrade
  rows and RemoveExistingProducts of MajorUpgrade, the downgrade launch condition, the
  Start-menu shortcut, the embedded cabinet, the ProgramData folder (the same one
  platformdirs gives core/paths.py on Windows), one component per bundle file; and builds the
  MSI a second time to see a new ProductCode with the same UpgradeCode.

    python packaging/check_linux.py [--skip-build]

Needs: pyinstaller (the `packaging` extra), wixl and msitools, strip (binutils), and for the
keyring item dbus-run-session and gnome-keyring. Exit code 0 when every check passed.
"""

from __future__ import annotations

import argparse
import json
import ntpath
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build  # noqa: E402
import project  # noqa: E402

BUNDLE_LIMIT_BYTES = 150 * 1024 * 1024
RUN_TIMEOUT_S = 180
GUID = re.compile(r"^\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}$")

failures: list[str] = []


def check(condition: bool, what: str, detail: str = "") -> bool:
    print(f"  [{'ok' if condition else 'FAIL'}] {what}" + (f": {detail}" if detail and not condition else ""), flush=True)
    if not condition:
        failures.append(what + (f" ({detail})" if detail else ""))
    return condition


def run(command: list[str], *, env: dict[str, str] | None = None, timeout: float = RUN_TIMEOUT_S) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)


def isolated_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CERTBENCH_", "PYTHON", "QT_", "DBUS_"))}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config"),
               XDG_STATE_HOME=str(home / "state"), XDG_CACHE_HOME=str(home / "cache"), QT_QPA_PLATFORM="offscreen")
    return env


# --- the bundle -------------------------------------------------------------------------------


def check_bundle(folder: Path) -> None:
    print("Bundle", folder)
    version = project.package_version()
    cli = folder / project.CLI_EXE
    gui = folder / project.GUI_EXE
    with tempfile.TemporaryDirectory(prefix="certbench-check-") as tmp:
        env = isolated_env(Path(tmp))
        for exe in (cli, gui):
            out = run([str(exe), "--version"], env=env)
            check(out.returncode == 0 and out.stdout.strip() == f"certbench, version {version}",
                  f"{exe.name} --version prints {version}", (out.stdout + out.stderr).strip()[-300:])

        out = run([str(cli), "--self-test", "--json"], env=env)
        report = _report(out)
        if report:
            failed = sorted(c["name"] for c in report["checks"] if not c["ok"])
            check(report["frozen"] is True, "self-test runs frozen")
            check(failed == ["keyring"] and out.returncode == 1,
                  "without an OS keyring only the keyring item fails, exit code 1",
                  f"failed={failed} exit={out.returncode} " + "; ".join(c["detail"] for c in report["checks"] if not c["ok"]))
        _self_test_with_keyring(cli, Path(tmp))

        started = time.perf_counter()
        out = run([str(gui)], env=dict(env, CERTBENCH_EXIT_WHEN_SHOWN="1"))
        wall = time.perf_counter() - started
        shown = re.search(r"certbench-shown-ms ([\d.]+)", out.stdout)
        check(out.returncode == 0 and shown is not None, "the window opens and paints (offscreen)",
              f"exit={out.returncode} {(out.stdout + out.stderr)[-400:]}")
        if shown:
            print(f"       main window painted {float(shown.group(1)):.0f} ms after start ({wall * 1000:.0f} ms wall)")

    internal = folder / "_internal"
    pyz = _pyz_names(cli)
    for module in ("keyring.backends.Windows", "keyring.backends.SecretService", "keyring.backends.chainer",
                   "certbench.core.cli.selftest_cmds", "certbench.core.registry.migrations.env",
                   "azure.iot.device", "paho.mqtt.client", "sqlalchemy.dialects.postgresql.psycopg"):
        check(module in pyz, f"{module} is bundled")
    for module in ("sqlalchemy.dialects.mysql", "sqlalchemy.dialects.oracle", "sqlalchemy.dialects.mssql"):
        check(module not in pyz, f"{module} (unused dialect) is left out")
    entry_points = list(internal.glob("keyring-*.dist-info/entry_points.txt"))
    check(bool(entry_points) and "keyring.backends.Windows" in entry_points[0].read_text(),
          "keyring's entry points (backend discovery) are bundled")
    check(len(list(internal.glob("certbench-*.dist-info/METADATA"))) == 1, "certbench's metadata (version) is bundled")
    for rel in ("certbench/resources/trust/digicert-global-root-g2.pem",
                "certbench/resources/trust/microsoft-rsa-root-ca-2017.pem",
                "certbench/resources/icons/app.svg",
                "certbench/core/registry/migrations/env.py"):
        check((internal / rel).is_file(), f"{rel} is bundled")
    check(any((internal / "certbench/core/registry/migrations/versions").glob("0*.py")), "migration scripts are bundled")
    qt = internal / "PySide6"
    unused = sorted(p.name for p in qt.glob("Qt*") if p.name.split(".")[0] not in {"QtCore", "QtGui", "QtWidgets", "QtSvg", "Qt"})
    check(not unused, "no unused PySide6 modules", ", ".join(unused))
    check(not list(qt.rglob("translations/*")), "no Qt translations")
    dropped = [p.relative_to(qt).as_posix() for p in qt.rglob("plugins/*/*")
               if p.parent.name in ("tls", "sqldrivers", "networkinformation", "printsupport", "qmltooling", "generic")
               or "gtk3" in p.name]
    check(not dropped, "no unused Qt plugins", ", ".join(dropped))
    dangling = [p.name for p in internal.iterdir() if p.is_symlink() and not p.exists()]
    check(not dangling, "no dangling library links", ", ".join(dangling))
    size = build.folder_size(folder)
    # Qt on Linux carries its own ICU (about 36 MiB); Qt on Windows uses the one in Windows, so
    # the Windows bundle is measured without it (the Windows workflow checks the real one).
    icu = sum(p.stat().st_size for p in qt.rglob("libicu*") if p.is_file() and not p.is_symlink())
    check(size - icu < BUNDLE_LIMIT_BYTES, f"bundle under {BUNDLE_LIMIT_BYTES // 2**20} MiB without Linux's ICU",
          f"{(size - icu) / 2**20:.1f} MiB")
    print(f"       bundle size {size / 2**20:.1f} MiB ({size / 1e6:.1f} MB) in "
          f"{sum(1 for p in folder.rglob('*') if p.is_file())} files; {(size - icu) / 2**20:.1f} MiB without ICU")


def _report(out: subprocess.CompletedProcess) -> dict | None:
    try:
        return json.loads(out.stdout)
    except json.JSONDecodeError:
        check(False, "self-test prints a JSON report", (out.stdout + out.stderr)[-400:])
        return None


def _self_test_with_keyring(cli: Path, tmp: Path) -> None:
    daemon, session = shutil.which("gnome-keyring-daemon"), shutil.which("dbus-run-session")
    if not (daemon and session):
        check(False, "self-test with a Secret Service keyring", "install dbus and gnome-keyring (see .ci/run)")
        return
    home = tmp / "with-keyring"
    home.mkdir()
    env = isolated_env(home)
    # gnome-keyring creates and unlocks a "login" collection with this throw-away password.
    script = f'printf ci-only-password | "{daemon}" --unlock --components=secrets >/dev/null && exec "{cli}" --self-test --json'
    out = run([session, "--", "sh", "-c", script], env=env)
    report = _report(out)
    if report:
        failed = {c["name"]: c["detail"] for c in report["checks"] if not c["ok"]}
        keyring = next((c["detail"] for c in report["checks"] if c["name"] == "keyring"), "")
        check(not failed and out.returncode == 0, "every self-test item passes with a Secret Service keyring",
              f"exit={out.returncode} {failed}")
        check("SecretService" in keyring, "the bundled keyring uses the Secret Service backend", keyring)


def _pyz_names(exe: Path) -> set[str]:
    from PyInstaller.archive.readers import CArchiveReader

    archive = CArchiveReader(str(exe))
    return set(archive.open_embedded_archive("PYZ.pyz").toc)


# --- the MSI ----------------------------------------------------------------------------------


def table(msi: Path, name: str) -> list[dict[str, str]]:
    out = run(["msiinfo", "export", str(msi), name])
    if out.returncode != 0:
        check(False, f"msiinfo export {name}", out.stderr.strip())
        return []
    lines = out.stdout.splitlines()
    columns = lines[0].split("\t")
    return [dict(zip(columns, line.split("\t") + [""] * len(columns))) for line in lines[3:] if line]


def properties(msi: Path) -> dict[str, str]:
    return {row["Property"]: row["Value"] for row in table(msi, "Property")}


def long_name(filename: str) -> str:
    return filename.split("|")[-1]


def windows_site_config_parts() -> list[str]:
    """What platformdirs answers for core/paths.py on Windows, below C:\\ProgramData."""
    import platformdirs.windows

    from certbench.core import paths

    original = platformdirs.windows.get_win_folder
    platformdirs.windows.get_win_folder = lambda csidl: {"CSIDL_COMMON_APPDATA": r"C:\ProgramData"}.get(csidl, r"C:\Other")
    try:
        folder = platformdirs.windows.Windows(paths.APP_NAME, paths.APP_AUTHOR).site_config_dir
    finally:
        platformdirs.windows.get_win_folder = original
    parts = ntpath.normpath(folder).split("\\")
    assert parts[:2] == ["C:", "ProgramData"], folder
    return parts[2:]


def directory_chain(dirs: dict[str, dict[str, str]], key: str) -> list[str]:
    """Folder names from the standard folder (its Id, e.g. ProgramFiles64Folder) down to `key`."""
    chain = []
    while key in dirs and key != "TARGETDIR":
        parent = dirs[key]["Directory_Parent"]
        chain.append(key if parent == "TARGETDIR" else long_name(dirs[key]["DefaultDir"]))
        key = parent
    return list(reversed(chain))


def check_msi(msi: Path, folder: Path) -> None:
    print("MSI", msi)
    props = properties(msi)
    version = project.msi_version()
    check(props.get("ALLUSERS") == "1", "ALLUSERS=1 (per-machine)", props.get("ALLUSERS", "missing"))
    check(props.get("UpgradeCode") == "{" + project.UPGRADE_CODE + "}", "UpgradeCode is the fixed one", props.get("UpgradeCode", ""))
    check(props.get("ProductVersion") == version, f"ProductVersion is {version}", props.get("ProductVersion", ""))
    check(bool(GUID.match(props.get("ProductCode", ""))), "ProductCode is a GUID", props.get("ProductCode", ""))
    check(props.get("Manufacturer") == project.MANUFACTURER and props.get("ProductName") == project.PRODUCT_NAME,
          "Manufacturer and ProductName")
    check(props.get("ARPPRODUCTICON") == "CertbenchIcon.ico", "Add/Remove Programs icon")
    secure = props.get("SecureCustomProperties", "").split(";")
    check({"WIX_UPGRADE_DETECTED", "WIX_DOWNGRADE_DETECTED"} <= set(secure), "upgrade properties are secure", str(secure))

    upgrade = sorted((r["UpgradeCode"], r["VersionMin"], r["VersionMax"], r["Attributes"], r["ActionProperty"])
                     for r in table(msi, "Upgrade"))
    code = "{" + project.UPGRADE_CODE + "}"
    expected = sorted([
        # every older version: remove it, migrate feature states (msidbUpgradeAttributesMigrateFeatures)
        (code, "", version, "1", "WIX_UPGRADE_DETECTED"),
        # any newer version: detect only (msidbUpgradeAttributesOnlyDetect), blocks the install
        (code, version, "", "2", "WIX_DOWNGRADE_DETECTED"),
    ])
    check(upgrade == expected, "Upgrade rows of MajorUpgrade", str(upgrade))
    conditions = {r["Condition"]: r["Description"] for r in table(msi, "LaunchCondition")}
    check("NOT WIX_DOWNGRADE_DETECTED" in conditions, "downgrades are refused", str(conditions))
    sequence = {r["Action"]: int(r["Sequence"] or 0) for r in table(msi, "InstallExecuteSequence")}
    check("FindRelatedProducts" in sequence and
          sequence.get("InstallValidate", 0) < sequence.get("RemoveExistingProducts", -1) < sequence.get("InstallInitialize", 0),
          "RemoveExistingProducts runs between InstallValidate and InstallInitialize",
          str({k: sequence.get(k) for k in ("InstallValidate", "RemoveExistingProducts", "InstallInitialize")}))

    files = {r["File"]: r for r in table(msi, "File")}
    shortcuts = table(msi, "Shortcut")
    check(len(shortcuts) == 1, "one shortcut", str(shortcuts))
    if shortcuts:
        s = shortcuts[0]
        target_file = files.get("GuiExe", {})
        check(s["Directory_"] == "ProgramMenuFolder" and long_name(s["Name"]) == "Certbench"
              and s["Target"] == "[#GuiExe]" and s["Icon_"] == "CertbenchIcon.ico" and s["WkDir"] == "INSTALLDIR",
              "Start-menu shortcut 'Certbench' to the windowed executable", str(s))
        check(long_name(target_file.get("FileName", "")) == "certbench-gui.exe" and target_file.get("Component_") == s["Component_"],
              "the shortcut's component holds certbench-gui.exe", str(target_file))
    check(any(long_name(r["FileName"]) == "certbench.exe" and r["Component_"] != "GuiExecutable" for r in files.values()),
          "certbench.exe (console) is installed")

    dirs = {r["Directory"]: r for r in table(msi, "Directory")}
    check(directory_chain(dirs, "INSTALLDIR") == ["ProgramFiles64Folder", "MediCorp", "Certbench"],
          r"installs to Program Files\MediCorp\Certbench", str(directory_chain(dirs, "INSTALLDIR")))
    site = directory_chain(dirs, "SITECONFIGDIR")
    check(site == ["CommonAppDataFolder", *windows_site_config_parts()],
          r"ProgramData folder = platformdirs.site_config_dir of core/paths.py", f"{site} vs {windows_site_config_parts()}")
    create = {r["Directory_"] for r in table(msi, "CreateFolder")}
    check("SITECONFIGDIR" in create, "the ProgramData folder is created")
    site_files = [long_name(r["FileName"]) for r in files.values() if r["Component_"] == "SiteConfigFolder"]
    check(site_files == ["certbench.example.toml"], "only an example settings file goes to ProgramData", str(site_files))

    bundle_files = sum(1 for p in folder.rglob("*") if p.is_file())
    check(len(files) == bundle_files + 1, "every bundle file is in the File table", f"{len(files)} rows, {bundle_files} files")
    components = table(msi, "Component")
    guids = [r["ComponentId"] for r in components]
    check(len(guids) == len(set(guids)) and all(GUID.match(g) for g in guids), "component GUIDs are unique")

    media = table(msi, "Media")
    check(len(media) == 1 and media[0]["Cabinet"].startswith("#"), "one embedded cabinet", str(media))
    streams = run(["msiinfo", "streams", str(msi)]).stdout.split()
    check(bool(media) and media[0]["Cabinet"].lstrip("#") in streams, "the cabinet is inside the MSI", str(streams))
    suminfo = run(["msiinfo", "suminfo", str(msi)]).stdout
    check("Template: x64;1033" in suminfo, "64-bit package", suminfo)


def check_new_product_code(folder: Path, first: Path) -> None:
    code = properties(first).get("ProductCode")
    kept = first.with_name(first.stem + "-first.msi")
    shutil.copy2(first, kept)
    try:
        second = build.msi(folder, "wixl")
        again = properties(second)
        check(again.get("ProductCode") != code and GUID.match(again.get("ProductCode", "")) is not None,
              "a new ProductCode every build", f"{code} -> {again.get('ProductCode')}")
        check(again.get("UpgradeCode") == properties(kept).get("UpgradeCode"), "the same UpgradeCode every build")
    finally:
        kept.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build and check the Linux bundle and the wixl MSI.")
    parser.add_argument("--skip-build", action="store_true", help="check dist/ from an earlier build")
    args = parser.parse_args(argv)
    for tool in ("wixl", "msiinfo"):
        if not shutil.which(tool):
            print(f"check_linux: {tool} is missing (Debian: apt-get install wixl msitools).", file=sys.stderr)
            return 2
    started = time.monotonic()
    if not args.skip_build:
        build.main([])
    build_s = time.monotonic() - started
    folder = build.bundle_dir()
    msi = build.msi_path(project.msi_version())
    check_bundle(folder)
    check_msi(msi, folder)
    check_new_product_code(folder, msi)
    print(f"Build {build_s:.0f} s, checks {time.monotonic() - started - build_s:.0f} s; "
          f"bundle {build.folder_size(folder) / 2**20:.1f} MiB, MSI {msi.stat().st_size / 2**20:.1f} MiB.")
    if failures:
        print(f"{len(failures)} packaging check(s) failed:", *failures, sep="\n  - ", file=sys.stderr)
        return 1
    print("All packaging checks passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
