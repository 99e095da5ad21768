"""`certbench config ...`: show and check the settings; store secrets in the OS keyring."""

from __future__ import annotations

import click
from rich.table import Table

from certbench.core import secrets
from certbench.core.cli.output import console, json_option, print_json

_SECRET_NAMES = {
    secrets.IOTCENTRAL_TOKEN: "IoT Central API token or bearer token",
    secrets.SECTIGO_PASSWORD: "Sectigo API password",
    secrets.SECTIGO_OAUTH_SECRET: "Sectigo OAuth2 client secret",
    secrets.SECTIGO_CLIENT_CERT_PASSPHRASE: "passphrase of the Sectigo client-certificate file",
    secrets.REGISTRY_PASSWORD: "PostgreSQL password of the shared registry",
}


@click.group()
def config() -> None:
    """Settings (a TOML file, no secrets) and secrets (the OS keyring)."""


@config.command()
@json_option
def show(as_json: bool) -> None:
    """Print the settings in effect and the files they came from."""
    from certbench.core.config import config_files, load_settings

    settings = load_settings()
    if as_json:
        print_json({"files": settings.sources, "settings": settings.to_dict()})
        return
    console.print("[bold]Settings files[/] (later ones override earlier ones):")
    for path in config_files():
        mark = "[green]used[/]" if str(path) in settings.sources else "[dim]absent[/]"
        console.print(f"  {path}  {mark}")
    if not settings.sources:
        console.print("  [yellow]No settings file: the embedded defaults (local CA, demo products) apply.[/]")
    import tomli_w

    console.print()
    console.print(tomli_w.dumps(settings.to_dict()), markup=False)


@config.command()
@json_option
def check(as_json: bool) -> int:
    """Check the settings and the keyring; exit code 0 when everything is usable."""
    from certbench.core.config import load_settings

    settings = load_settings()  # raises ConfigError (exit 4) naming the bad key
    usable = secrets.keyring_usable()
    stored = {}
    if usable:
        for name in _SECRET_NAMES:
            stored[name] = secrets.get_secret(name) is not None
    problems = []
    if not usable:
        problems.append("No usable OS keyring: secrets cannot be stored (demo mode still works).")
    if as_json:
        print_json({"ok": not problems, "files": settings.sources, "keyring": secrets.backend_name(),
                    "keyring_usable": usable, "secrets_set": stored, "problems": problems})
        return 1 if problems else 0
    console.print(f"[green]Settings are valid[/] ({len(settings.products)} products, {len(settings.intermediates)} intermediates).")
    console.print(f"Keyring: {secrets.backend_name()} " + ("[green](usable)[/]" if usable else "[red](not usable)[/]"))
    if usable:
        table = Table("Secret", "Set")
        for name, what in _SECRET_NAMES.items():
            table.add_row(f"{name} ({what})", "[green]yes[/]" if stored[name] else "[dim]no[/]")
        console.print(table)
    for problem in problems:
        console.print(f"[red]{problem}[/]")
    return 1 if problems else 0


@config.command("set-secret")
@click.argument("name", type=click.Choice(sorted(_SECRET_NAMES)))
def set_secret(name: str) -> None:
    """Store a secret in the OS keyring (typed without echo, or piped on stdin)."""
    value = click.prompt(f"{_SECRET_NAMES[name]}", hide_input=True)
    secrets.set_secret(name, value.strip())
    console.print(f"Stored '{name}' in {secrets.backend_name()}.")


@config.command()
def path() -> None:
    """Print where the user settings file is (Settings writes here)."""
    from certbench.core.config import user_config_file

    click.echo(str(user_config_file()))
