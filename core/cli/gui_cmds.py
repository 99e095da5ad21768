"""`certbench gui` opens the desktop application; `certbench demo` runs the main job on the
embedded defaults in a throw-away folder, with nothing to configure."""

from __future__ import annotations

import secrets as _random
from pathlib import Path

import click
from rich.table import Table

from certbench.core.cli.output import console, json_option, print_json
from certbench.core.demo import DemoHome


@click.command()
@click.option("--demo", is_flag=True, help="Run on the built-in emulators and simulated instruments.")
def gui(demo: bool) -> None:
    """Open the Certbench window."""
    from certbench.gui.app import main as gui_main

    return gui_main(["--demo"] if demo else [])


@click.command()
@click.option("--units", default=4, show_default=True, type=click.IntRange(1, 10000), help="Units to provision.")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), help="Keep the demo's files in this folder.")
@json_option
def demo(units: int, keep: Path | None, as_json: bool) -> int:
    """Issue demo unit identities from the embedded local CA and check each chain."""
    from certbench.core.cli.cert_cmds import summary_table
    from certbench.core.config import load_settings
    from certbench.core.errors import CertbenchError
    from certbench.core.pki.local import LocalCA
    from certbench.core.x509.chain import validate_client_chain
    from certbench.core.x509.identity import make_identity
    from certbench.core.x509.inspect import summarize

    results = []
    with DemoHome(keep) as home:
        settings = load_settings()
        ca_ = LocalCA.from_settings(settings).ensure()
        template = settings.cn_template()
        for index in range(units):
            product = settings.products[index % len(settings.products)]
            serial = f"SN{_random.randbelow(10**8):08d}"
            cn = template.render(model=product.model, serial=serial)
            identity = make_identity(cn, product.key_algorithm)
            issued = ca_.issue(product.intermediate, identity.csr, comment="demo")
            try:
                validate_client_chain(issued.certificate, list(issued.chain[1:]), [ca_.root_certificate])
                verdict = "chain valid"
            except CertbenchError as exc:
                verdict = f"INVALID: {exc.message}"
            results.append((product, serial, issued, summarize(issued.certificate), verdict))
        if as_json:
            print_json(
                {
                    "home": str(home),
                    "units": [
                        {"model": p.model, "serial": s, "cn": summ.common_name, "intermediate": i.intermediate,
                         "order_id": i.order_id, "key": summ.key, "sha256": summ.sha256_fingerprint, "result": v}
                        for p, s, i, summ, v in results
                    ],
                }
            )
        else:
            console.print(f"[bold]Certbench demo[/] [dim](throw-away folder {home})[/]")
            table = Table("Device id (CN)", "Issued by", "Key", "Result")
            for _product, _serial, issued, summ, verdict in results:
                colour = "green" if verdict == "chain valid" else "red"
                table.add_row(summ.common_name, issued.intermediate, summ.key_description, f"[{colour}]{verdict}[/]")
            console.print(table)
            first = results[0]
            console.print(summary_table(first[3], title=f"[bold]First unit's certificate[/] ({first[3].common_name})"))
    return 0 if all(r[4] == "chain valid" for r in results) else 1
