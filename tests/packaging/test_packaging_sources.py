"""The installer's sources agree with the application: versions, the ProgramData folder that
core/paths.py reads, the example settings, and the generated file list. (Building the
bundle and the MSI is the slower check in packaging/check_linux.py, run by .ci/run.)"""

from __future__ import annotations

import ntpath
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import platformdirs.windows
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))

import project  # noqa: E402
import wixfiles  # noqa: E402

from certbench.core import paths  # noqa: E402
from certbench.core.config import parse_settings  # noqa: E402

WIX = "{http://schemas.microsoft.com/wix/2006/wi}"


@pytest.mark.parametrize(
    ("version", "expected"),
    [("0.1.0", "0.1.0"), ("1.4", "1.4.0"), ("2", "2.0.0"), ("1.4.2rc1", "1.4.2"), ("3.10.7.dev4+g1234", "3.10.7"),
     ("255.255.65535", "255.255.65535")],
)
def test_msi_version_is_three_part(version, expected):
    assert project.msi_version(version) == expected
    assert project.file_version_tuple(version) == (*map(int, expected.split(".")), 0)


@pytest.mark.parametrize("version", ["256.0.0", "1.256.0", "1.0.65536", "v1.0"])
def test_msi_version_refuses_what_windows_installer_cannot_compare(version):
    with pytest.raises(ValueError):
        project.msi_version(version)


def test_package_version_comes_from_pyproject():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project.package_version() == data["project"]["version"]
    assert "pyinstaller" in " ".join(data["project"]["optional-dependencies"]["packaging"]).lower()


def _wxs() -> ET.Element:
    return ET.parse(ROOT / "packaging" / "certbench.wxs").getroot()


def _chain(root: ET.Element, directory_id: str) -> list[str]:
    parents = {child: parent for parent in root.iter() for child in parent}
    node = next(d for d in root.iter(f"{WIX}Directory") if d.get("Id") == directory_id)
    chain = []
    while node.tag == f"{WIX}Directory" and node.get("Id") != "TARGETDIR":
        parent = parents[node]
        chain.append(node.get("Id") if parent.get("Id") == "TARGETDIR" else node.get("Name"))
        node = parent
    return list(reversed(chain))


def test_programdata_folder_is_where_certbench_reads_machine_settings(monkeypatch):
    monkeypatch.setattr(platformdirs.windows, "get_win_folder",
                        lambda csidl: r"C:\ProgramData" if csidl == "CSIDL_COMMON_APPDATA" else r"C:\Elsewhere")
    site = platformdirs.windows.Windows(paths.APP_NAME, paths.APP_AUTHOR).site_config_dir
    assert ntpath.normpath(site) == r"C:\ProgramData\MediCorp\Certbench"
    assert _chain(_wxs(), "SITECONFIGDIR") == ["CommonAppDataFolder", paths.APP_AUTHOR, paths.APP_NAME]


def test_wxs_product_facts():
    root = _wxs()
    product = root.find(f"{WIX}Product")
    assert product.get("Id") == "*"
    assert product.get("Version") == "$(var.Version)"
    assert product.get("Manufacturer") == project.MANUFACTURER
    text = (ROOT / "packaging" / "certbench.wxs").read_text(encoding="utf-8")
    assert f'<?define UpgradeCode = "{project.UPGRADE_CODE}" ?>' in text
    assert wixfiles.NAMESPACE.hex.upper() == project.UPGRADE_CODE.replace("-", "")
    package = product.find(f"{WIX}Package")
    assert package.get("InstallScope") == "perMachine" and package.get("Compressed") == "yes"
    assert product.find(f"{WIX}MajorUpgrade").get("DowngradeErrorMessage")
    assert product.find(f"{WIX}Media").get("EmbedCab") == "yes"
    assert _chain(root, "INSTALLDIR") == ["ProgramFiles64Folder", "MediCorp", "Certbench"]
    shortcut = next(root.iter(f"{WIX}Shortcut"))
    assert shortcut.get("Directory") == "ProgramMenuFolder" and shortcut.get("Target") == "[#GuiExe]"


def test_example_site_settings_are_valid_settings():
    example = ROOT / "packaging" / "site-config" / "certbench.example.toml"
    settings = parse_settings(tomllib.loads(example.read_text(encoding="utf-8")))
    assert settings.iotcentral.subdomain == "medicorp-devices"


def _fake_bundle(folder: Path, suffix: str) -> Path:
    for rel in (f"certbench{suffix}", f"certbench-gui{suffix}", "_internal/base_library.zip",
                "_internal/PySide6/Qt/plugins/platforms/qwindows.dll", "_internal/certbench/resources/trust/a b.pem"):
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    return folder


@pytest.mark.parametrize("suffix", [".exe", ""])
def test_file_list_fragment(tmp_path, suffix):
    bundle = _fake_bundle(tmp_path / "Certbench", suffix)
    text = wixfiles.fragment(bundle, exe_suffix=suffix)
    root = ET.fromstring(text)
    files = {f.get("Name"): f for f in root.iter(f"{WIX}File")}
    # the windowed executable is in certbench.wxs (with its shortcut), not here
    assert set(files) == {"certbench.exe", "base_library.zip", "qwindows.dll", "a b.pem"}
    assert files["a b.pem"].get("Source") == "$(var.BundleDir)/_internal/certbench/resources/trust/a b.pem"
    components = list(root.iter(f"{WIX}Component"))
    refs = [r.get("Id") for r in root.iter(f"{WIX}ComponentRef")]
    assert sorted(refs) == sorted(c.get("Id") for c in components)
    assert all(c.get("Win64") == "yes" and len(list(c)) == 1 for c in components)
    assert text == wixfiles.fragment(bundle, exe_suffix=suffix), "the same bundle gives the same fragment"
    by_name = {c.find(f"{WIX}File").get("Name"): c.get("Guid") for c in components}
    assert by_name["qwindows.dll"] == wixfiles.component_guid("_internal/PySide6/Qt/plugins/platforms/qwindows.dll")
    assert by_name["certbench.exe"] == wixfiles.component_guid("certbench.exe")


def test_component_guid_is_stable_per_path_and_differs_between_paths():
    a = wixfiles.component_guid("_internal/python311.dll")
    assert a == wixfiles.component_guid("_internal/PYTHON311.DLL")  # Windows paths ignore case
    assert a != wixfiles.component_guid("_internal/python312.dll")
    assert a == "{:s}".format(a.upper()) and len(a) == 36


def test_empty_bundle_is_refused(tmp_path):
    with pytest.raises(SystemExit, match="holds no files"):
        wixfiles.fragment(tmp_path)
