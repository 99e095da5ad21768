"""`certbench config ...`: show and check the settings; store secrets in the OS keyring."""

from __future__ import annotations

import click
from rich.markup import escape
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


def _needed_secrets(settings) -> dict[str, str]:
    """Secrets these settings cannot work without, each with the setting that needs it."""
    needed = {}
    if settings.iotcentral.subdomain or settings.iotcentral.base_url:
        needed[secrets.IOTCENTRAL_TOKEN] = "the IoT Central application"
    sectigo_cas = [i.name for i in settings.intermediates if i.source == "sectigo"]
    if sectigo_cas:
        by_auth = {"password": secrets.SECTIGO_PASSWORD, "oauth2": secrets.SECTIGO_OAUTH_SECRET}
        if settings.sectigo.auth in by_auth:
            needed[by_auth[settings.sectigo.auth]] = f"Sectigo intermediates {', '.join(sectigo_cas)}"
    return needed


@config.command()
@json_option
def check(as_json: bool) -> int:
    """Check the settings, the files they name and the keyring; exit code 0 when everything
    is usable, 1 when something is missing, 4 when the settings are invalid."""
    from certbench.core.config import config_files, load_settings, missing_files
    from certbench.core.errors import ConfigError

    try:
        settings = load_settings()
    except ConfigError as exc:
        if not as_json:
            raise  # printed as Error / What to do, exit 4
        print_json({"ok": False, "valid": False, "files": [str(p) for p in config_files() if p.is_file()],
                    "error": exc.message, "hint": exc.hint, "problems": [exc.message]})
        return exc.exit_code
    usable = secrets.keyring_usable()
    needed = _needed_secrets(settings)
    stored = {name: secrets.get_secret(name) is not None for name in _SECRET_NAMES} if usable else {}
    problems = [f"Setting '{key}' names {path}, which does not exist." for key, path in missing_files(settings)]
    if not usable:
        problems.append("No usable OS keyring: secrets cannot be stored (demo mode still works).")
    else:
        problems += [f"The {_SECRET_NAMES[name]} is needed by {why} but not set: certbench config set-secret {name}"
                     for name, why in needed.items() if not stored[name]]
    if as_json:
        print_json({"ok": not problems, "valid": True, "files": settings.sources, "keyring": secrets.backend_name(),
                    "keyring_usable": usable, "secrets_set": stored, "secrets_needed": sorted(needed),
                    "problems": problems})
        return 1 if problems else 0
    console.print(f"[green]Settings are valid[/] ({len(settings.products)} products, "
                  f"{len(settings.intermediates)} intermediates; "
                  + (escape(", ".join(settings.sources)) if settings.sources else "embedded defaults") + ").")
    console.print(f"Keyring: {escape(secrets.backend_name())} " + ("[green](usable)[/]" if usable else "[red](not usable)[/]"))
    if usable:
        table = Table("Secret", "Needed by these settings", "Set")
        for name, what in _SECRET_NAMES.items():
            mark = "[green]yes[/]" if stored[name] else ("[red]no[/]" if name in needed else "[dim]no[/]")
            table.add_row(f"{name} ({what})", escape(needed.get(name, "-")), mark)
        console.print(table)
    for problem in problems:
        console.print(f"[red]Problem:[/] {escape(problem)}")
    if not problems:
        console.print("[green]Everything these settings need is in place.[/]")
    return 1 if problems else 0


@config.command("set-secret")
@click.argument("name", type=click.Choice(sorted(_SECRET_NAMES)))
def set_secret(name: str) -> None:
    """Store a secret in the OS keyring (typed without echo, or piped on stdin)."""
    import sys

    if sys.stdin.isatty():
        value = click.prompt(f"{_SECRET_NAMES[name]}", hide_input=True)
    else:  # piped in by a deployment script: no prompt, no echo warning
        value = sys.stdin.readline()
    secrets.set_secret(name, value.strip())
    console.print(f"Stored '{name}' in {secrets.backend_name()}.")


@config.command()
def path() -> None:
    """Print where the user settings file is (Settings writes here)."""
    from certbench.core.config import user_config_file

    click.echo(str(user_config_file()))
