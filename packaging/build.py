#!/usr/bin/env python3
"""Build Certbench's one-folder bundle and its per-machine MSI.

    python packaging/build.py                 # bundle + MSI (+ signing when configured)
    python packaging/build.py --skip-msi      # the PyInstaller bundle only
    python packaging/build.py --skip-bundle   # MSI from the bundle already in dist/

Run it with the Python of an environment where Certbench is installed with the `packaging`
extra (`pip install -e .[packaging]`). Steps:

1. stage: a plain (non-editable) install of this source tree into build/packaging/stage,
   which PyInstaller analyses (it cannot follow setuptools' editable-install finder);
2. icon: resources/icons/app.svg rendered to build/packaging/certbench.ico;
3. bundle: PyInstaller with packaging/certbench.spec -> dist/Certbench/
   (certbench-gui[.exe] windowed, certbench[.exe] console, _internal/);
4. signing of both executables (Windows, when a certificate is configured, see below);
5. MSI: packaging/certbench.wxs + the generated bundle-files.wxs ->
   dist/Certbench-<version>-x64.msi, with WiX v3 (candle + light) on Windows or wixl
   (msitools) elsewhere; then signing of the MSI.

Code signing (skipped, with a note, when neither variable is set):
  CERTBENCH_SIGN_CERT_SHA1      thumbprint of a code-signing certificate in the Windows
                                certificate store (preferred: the key never leaves the store/HSM)
  CERTBENCH_SIGN_PFX            path of a .pfx file, with its password in
  CERTBENCH_SIGN_PFX_PASSWORD   (never printed)
  CERTBENCH_SIGN_TIMESTAMP_URL  RFC 3161 timestamp server (default DigiCert's)
  SIGNTOOL                      signtool.exe, when it is not on PATH or in the Windows SDK
WiX v3 is found on PATH or through the WIX environment variable the installer sets.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import project  # noqa: E402
import wixfiles  # noqa: E402

ROOT = project.ROOT
BUILD = ROOT / "build" / "packaging"
DIST = ROOT / "dist"
IS_WINDOWS = sys.platform == "win32"
EXE = ".exe" if IS_WINDOWS else ""

PYINSTALLER_TIMEOUT_S = 1800
TOOL_TIMEOUT_S = 600
SIGN_TIMEOUT_S = 300
DEFAULT_TIMESTAMP_URL = "http://timestamp.digicert.com"


class BuildError(SystemExit):
    def __init__(self, message: str) -> None:
        super().__init__(f"build.py: {message}")


def run(command: list[str], *, timeout: float, env: dict[str, str] | None = None, shown: list[str] | None = None,
        quiet: bool = False) -> None:
    """Run a build tool; `quiet` keeps its output unless it fails."""
    print("+ " + " ".join(shown or command), flush=True)
    try:
        result = subprocess.run(command, check=False, timeout=timeout, env=env, cwd=ROOT,
                                capture_output=quiet, text=quiet or None)
    except subprocess.TimeoutExpired:
        raise BuildError(f"{Path(command[0]).name} did not finish within {timeout:.0f} s.") from None
    except FileNotFoundError:
        raise BuildError(f"{command[0]} was not found.") from None
    if result.returncode != 0:
        if quiet:
            sys.stdout.write(result.stdout + result.stderr)
        raise BuildError(f"{Path(command[0]).name} failed with exit code {result.returncode}.")


def bundle_dir() -> Path:
    return DIST / project.BUNDLE_NAME


def msi_path(version: str) -> Path:
    return DIST / f"{project.PRODUCT_NAME}-{version}-x64.msi"


# --- steps ------------------------------------------------------------------------------------


def stage() -> Path:
    target = BUILD / "stage"
    shutil.rmtree(target, ignore_errors=True)
    run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
         "--target", str(target), str(ROOT)], timeout=TOOL_TIMEOUT_S, quiet=True)
    return target


def icon() -> Path:
    out = BUILD / "certbench.ico"
    run([sys.executable, str(project.PACKAGING / "make_icon.py"), str(out)], timeout=TOOL_TIMEOUT_S)
    return out


def bundle(staged: Path) -> Path:
    env = dict(os.environ, PYTHONPATH=str(staged), CERTBENCH_BUILD_DIR=str(BUILD), CERTBENCH_STAGE_DIR=str(staged),
               QT_QPA_PLATFORM="offscreen")
    run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
         "--distpath", str(DIST), "--workpath", str(BUILD / "pyinstaller"),
         str(project.PACKAGING / "certbench.spec")], timeout=PYINSTALLER_TIMEOUT_S, env=env)
    folder = bundle_dir()
    for name in (project.GUI_EXE, project.CLI_EXE):
        if not (folder / f"{name}{EXE}").is_file():
            raise BuildError(f"PyInstaller did not produce {name}{EXE}.")
    return folder


def _signtool() -> str | None:
    if os.environ.get("SIGNTOOL"):
        return os.environ["SIGNTOOL"]
    found = shutil.which("signtool")
    if found:
        return found
    kits = Path(os.environ.get("ProgramFiles(x86)", r"C:\Program Files (x86)")) / "Windows Kits" / "10" / "bin"
    candidates = sorted(kits.glob("10.*/x64/signtool.exe"))
    return str(candidates[-1]) if candidates else None


def sign(files: list[Path]) -> bool:
    """Sign with signtool when a certificate is configured; False (and a note) when not."""
    thumbprint = os.environ.get("CERTBENCH_SIGN_CERT_SHA1", "").strip()
    pfx = os.environ.get("CERTBENCH_SIGN_PFX", "").strip()
    if not thumbprint and not pfx:
        print("  signing skipped: no CERTBENCH_SIGN_CERT_SHA1 or CERTBENCH_SIGN_PFX configured", flush=True)
        return False
    if not IS_WINDOWS:
        print("  signing skipped: signtool runs on Windows only", flush=True)
        return False
    tool = _signtool()
    if not tool:
        raise BuildError("A signing certificate is configured but signtool.exe was not found; set SIGNTOOL.")
    command = [tool, "sign", "/fd", "SHA256", "/td", "SHA256",
               "/tr", os.environ.get("CERTBENCH_SIGN_TIMESTAMP_URL", DEFAULT_TIMESTAMP_URL),
               "/d", project.PRODUCT_NAME]
    shown = list(command)
    if thumbprint:
        command += ["/sha1", thumbprint]
        shown += ["/sha1", thumbprint]
    else:
        command += ["/f", pfx, "/p", os.environ.get("CERTBENCH_SIGN_PFX_PASSWORD", "")]
        shown += ["/f", pfx, "/p", "***"]
    paths = [str(f) for f in files]
    run(command + paths, timeout=SIGN_TIMEOUT_S, shown=shown + paths)
    run([tool, "verify", "/pa", *paths], timeout=SIGN_TIMEOUT_S)
    return True


def _wix_defines(folder: Path, version: str, toolset: str) -> dict[str, str]:
    return {
        "Version": version,
        "BundleDir": str(folder),
        "IconFile": str(BUILD / "certbench.ico"),
        "SiteConfigExample": str(project.PACKAGING / "site-config" / "certbench.example.toml"),
        "ExeSuffix": EXE,
    }


def _wix3_bin() -> Path | None:
    candle = shutil.which("candle")
    if candle:
        return Path(candle).parent
    wix = os.environ.get("WIX")
    if wix and (Path(wix) / "bin" / "candle.exe").is_file():
        return Path(wix) / "bin"
    return None


def msi(folder: Path, toolset: str, version: str | None = None) -> Path:
    version = project.msi_version(version)
    fragment, count = wixfiles.write_fragment(folder, BUILD / "bundle-files.wxs", exe_suffix=EXE)
    print(f"  {count} bundle files listed in {fragment.name}", flush=True)
    out = msi_path(version)
    out.unlink(missing_ok=True)
    defines = _wix_defines(folder, version, toolset)
    sources = [project.PACKAGING / "certbench.wxs", fragment]
    if toolset == "wix3":
        wix_bin = _wix3_bin()
        if wix_bin is None:
            raise BuildError("WiX Toolset v3 (candle.exe, light.exe) was not found; install it or add it to PATH.")
        objects = BUILD / "wixobj"
        objects.mkdir(parents=True, exist_ok=True)
        run([str(wix_bin / "candle.exe"), "-nologo", "-arch", "x64", "-out", f"{objects}{os.sep}",
             *[f"-d{k}={v}" for k, v in defines.items()], *map(str, sources)], timeout=TOOL_TIMEOUT_S)
        run([str(wix_bin / "light.exe"), "-nologo", "-spdb", "-out", str(out),
             *[str(objects / (s.stem + ".wixobj")) for s in sources]], timeout=TOOL_TIMEOUT_S)
    else:
        wixl = shutil.which("wixl")
        if wixl is None:
            raise BuildError("wixl was not found; install msitools/wixl (Debian: apt-get install wixl).")
        # wixl resolves Source paths against its working directory only (absolute ones fail).
        for key in ("BundleDir", "IconFile", "SiteConfigExample"):
            defines[key] = os.path.relpath(defines[key], ROOT)
        run([wixl, "-a", "x64", "-o", str(out), *[a for k, v in defines.items() for a in ("-D", f"{k}={v}")],
             *map(str, sources)], timeout=TOOL_TIMEOUT_S)
    if not out.is_file():
        raise BuildError(f"{out.name} was not produced.")
    return out


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-bundle", action="store_true", help="reuse dist/Certbench from an earlier run")
    parser.add_argument("--skip-msi", action="store_true", help="build the bundle only")
    parser.add_argument("--toolset", choices=("auto", "wix3", "wixl"), default="auto",
                        help="MSI compiler (auto: WiX v3 on Windows, wixl elsewhere)")
    parser.add_argument("--msi-version", metavar="X.Y.Z",
                        help="stamp the MSI with this version instead of pyproject's (upgrade tests only)")
    args = parser.parse_args(argv)
    toolset = args.toolset if args.toolset != "auto" else ("wix3" if IS_WINDOWS else "wixl")
    started = time.monotonic()
    BUILD.mkdir(parents=True, exist_ok=True)
    print(f"Certbench {project.package_version()} (MSI version {project.msi_version()})", flush=True)
    if args.skip_bundle:
        folder = bundle_dir()
        if not folder.is_dir():
            raise BuildError(f"{folder} does not exist; run without --skip-bundle first.")
    else:
        staged = stage()
        icon()
        folder = bundle(staged)
        sign([folder / f"{project.GUI_EXE}{EXE}", folder / f"{project.CLI_EXE}{EXE}"])
    print(f"  bundle: {folder} ({folder_size(folder) / 1e6:.1f} MB)", flush=True)
    if not args.skip_msi:
        if not (BUILD / "certbench.ico").is_file():
            icon()
        out = msi(folder, toolset, args.msi_version)
        sign([out])
        print(f"  msi: {out} ({out.stat().st_size / 1e6:.1f} MB)", flush=True)
    print(f"Done in {time.monotonic() - started:.0f} s.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
