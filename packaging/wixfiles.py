"""Write the WiX fragment that lists every file of the PyInstaller folder (what `heat.exe dir`
would do), identically for WiX v3 and wixl, so both toolsets build the same MSI.

One component per file, its GUID derived from the file's path inside the bundle: the same
file keeps the same component across versions (Windows Installer's component rules), and the
build is reproducible. Files that certbench.wxs installs itself are left out.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from xml.sax.saxutils import quoteattr

NAMESPACE = uuid.UUID("CE3A7C27-1825-4873-8F4F-DBBAB8ABE1D9")  # the UpgradeCode
GUI_EXE = "certbench-gui"  # has its own component with the shortcut in certbench.wxs
CLI_EXE = "certbench"


def _id(prefix: str, rel: str) -> str:
    return f"{prefix}_{hashlib.sha1(rel.encode('utf-8')).hexdigest()[:24]}"


def component_guid(rel: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "file:" + rel.lower())).upper()


def fragment(bundle: Path, exe_suffix: str = ".exe", group: str = "BundleFiles", root_dir: str = "INSTALLDIR") -> str:
    """`exe_suffix` "" reads a Linux bundle (the CI check): its executables keep the .exe
    names inside the MSI, so the tables are the same as the Windows build's."""
    bundle = bundle.resolve()
    skip = {GUI_EXE + exe_suffix}
    renamed = {CLI_EXE + exe_suffix: CLI_EXE + ".exe"}
    files = sorted(p for p in bundle.rglob("*") if p.is_file() and p.relative_to(bundle).as_posix() not in skip)
    if not files:
        raise SystemExit(f"{bundle} holds no files; build the bundle first.")
    tree: dict = {}
    for path in files:
        node = tree
        for part in path.relative_to(bundle).parts[:-1]:
            node = node.setdefault(part, {})
        node.setdefault(None, []).append(path)

    lines = ['<?xml version="1.0" encoding="utf-8"?>', '<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">', "  <Fragment>"]
    components: list[str] = []

    def emit(node: dict, rel_dir: str, indent: int) -> None:
        pad = " " * indent
        for path in node.get(None, []):
            rel = path.relative_to(bundle).as_posix()
            name = renamed.get(rel, path.name)
            installed = rel if name == path.name else name
            cid = _id("c", installed)
            source = "$(var.BundleDir)/" + rel  # forward slashes: both WiX v3 and wixl accept them
            lines.append(f'{pad}<Component Id="{cid}" Guid="{component_guid(installed)}" Win64="yes">')
            lines.append(f'{pad}  <File Id="{_id("f", installed)}" Name={quoteattr(name)} Source={quoteattr(source)} KeyPath="yes" />')
            lines.append(f"{pad}</Component>")
            components.append(cid)
        for name in sorted(k for k in node if k is not None):
            sub = f"{rel_dir}/{name}" if rel_dir else name
            lines.append(f'{pad}<Directory Id="{_id("d", sub)}" Name={quoteattr(name)}>')
            emit(node[name], sub, indent + 2)
            lines.append(f"{pad}</Directory>")

    lines.append(f'    <DirectoryRef Id="{root_dir}">')
    emit(tree, "", 6)
    lines.append("    </DirectoryRef>")
    lines.append(f'    <ComponentGroup Id="{group}">')
    lines.extend(f'      <ComponentRef Id="{cid}" />' for cid in components)
    lines.append("    </ComponentGroup>")
    lines.append("  </Fragment>")
    lines.append("</Wix>")
    return "\n".join(lines) + "\n"


def write_fragment(bundle: Path, out: Path, exe_suffix: str = ".exe") -> tuple[Path, int]:
    text = fragment(bundle, exe_suffix)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out, text.count("<Component ")
