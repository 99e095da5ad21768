import pytest

from certbench.core import config
from certbench.core.errors import ConfigError


def write(home, text):
    path = home / "config" / "certbench.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_without_any_file():
    settings = config.load_settings()
    assert settings.sources == []
    assert [i.name for i in settings.intermediates] == [f"medicorp-ica-{i}" for i in range(1, 5)]
    # A group holds two CAs: four intermediates pair into two groups, each entry used once.
    slots = {(i.group, i.entry) for i in settings.intermediates}
    assert len(slots) == 4 and len({g for g, _ in slots}) == 2
    assert settings.product_for_gtin("09506000134369").model == "mx300"


def test_save_and_load_round_trip(certbench_home):
    settings = config.default_settings()
    settings.iotcentral.subdomain = "medicorp-prod"
    settings.products[0].key_source = "workstation"
    path = config.save_settings(settings)
    assert path.parent == certbench_home / "config"
    loaded = config.load_settings()
    assert loaded.iotcentral.resolved_base_url() == "https://medicorp-prod.azureiotcentral.com"
    assert loaded.products[0].key_source == "workstation"
    assert loaded.sources == [str(path)]


def test_site_file_is_overridden_by_user_file(certbench_home):
    site = certbench_home / "site-config" / "certbench.toml"
    site.parent.mkdir(parents=True)
    site.write_text('[iotcentral]\nsubdomain = "it-prefilled"\ntimeout_seconds = 10\n')
    write(certbench_home, '[iotcentral]\ntimeout_seconds = 20\n')
    settings = config.load_settings()
    assert settings.iotcentral.subdomain == "it-prefilled"
    assert settings.iotcentral.timeout_seconds == 20.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[iotcentral]\nsubdomian = "x"\n', "Unknown setting 'iotcentral.subdomian'"),
        ('[iotcentral]\nauth = "basic"\n', "'iotcentral.auth' is 'basic', which is not one of"),
        ('[sectigo]\npassword = "hunter2"\n', "'sectigo.password' looks like a secret"),
        ('[iotcentral]\napi_token = "SharedAccessSignature sr=1"\n', "looks like a secret"),
        ('[iotcentral]\ntimeout_seconds = "soon"\n', "'iotcentral.timeout_seconds' must be a number"),
        ('[[products]]\nmodel = "x"\nintermediate = "nope"\n', "'products[0].intermediate' names 'nope'"),
        ('[[products]]\nmodel = "x"\nintermediate = "medicorp-ica-1"\nkey_algorithm = "dsa-1024"\n',
         "products[0].key_algorithm"),
        ('[[products]]\nmodel = "x"\nintermediate = "medicorp-ica-1"\ngtins = ["123"]\n', "14 digits"),
        ('[[products]]\nintermediate = "medicorp-ica-1"\n', "lacks the required key 'model'"),
        ('[[intermediates]]\nname = "a"\nsource = "sectigo"\n', "has no profile_id/org_id"),
        ('[[intermediates]]\nname = "a"\ngroup = "bad group!"\n', "group ids allow only"),
        ('[bench]\ncn_template = "{model}"\n', "bench.cn_template"),
        ("[bench\n", "not valid TOML"),
        ('[[intermediates]]\nname = "a"\nsource = "file"\n', "'intermediates[0].certificate_file' is required"),
        ('[[intermediates]]\nname = "a"\nterm_days = 0\n', "'intermediates[0].term_days' must be a positive"),
        ('[[products]]\nmodel = "MX_200"\nintermediate = "medicorp-ica-1"\n',
         "'products[0].model' is 'MX_200', which cannot go into a device name: The device name 'mx_200-1' contains '_'"),
        ('[bench]\nleaf_validity_days = -5\n', "'bench.leaf_validity_days' is -5"),
        ('[bench]\nworkstation = ""\n', "'bench.workstation' must be 1 to 64"),
        ('[iotcentral]\ntimeout_seconds = 0\n', "'iotcentral.timeout_seconds' is 0"),
        ('[sectigo]\npoll_limit_seconds = -1\n', "'sectigo.poll_limit_seconds' is -1"),
        ('[iotcentral]\nsubdomain = "medicorp.azureiotcentral.com"\n', "'iotcentral.subdomain' is 'medicorp.azure"),
        ('[iotcentral]\nbase_url = "ftp//x"\n', "'iotcentral.base_url' is 'ftp//x', which is not a web address"),
        ('[registry]\nurl = "mysql://bench:pw@db/certbench"\n', "'registry.url' is 'mysql://bench:***@db/certbench'"),
        ('[[products]]\nmodel = "a"\nintermediate = "medicorp-ica-1"\ngtins = ["09506000134352"]\n'
         '[[products]]\nmodel = "b"\nintermediate = "medicorp-ica-1"\ngtins = ["09506000134352"]\n',
         "GTIN 09506000134352 belongs to both 'a' and 'b'"),
    ],
)
def test_invalid_settings_name_the_key(certbench_home, text, expected):
    write(certbench_home, text)
    with pytest.raises(ConfigError) as info:
        config.load_settings()
    assert expected in info.value.message
    # Every refusal says what to do, and nothing secret is echoed back.
    assert info.value.hint
    assert "pw@" not in str(info.value)


def test_files_named_by_the_settings_are_checked(certbench_home, tmp_path):
    present = tmp_path / "ca.pem"
    present.write_text("x")
    write(certbench_home, f'[iotcentral]\nca_file = "{present}"\n[dps]\nca_file = "{tmp_path / "gone.pem"}"\n')
    settings = config.load_settings()  # a missing file does not stop loading
    assert config.missing_files(settings) == [("dps.ca_file", str(tmp_path / "gone.pem"))]


def test_invalid_settings_are_not_saved(certbench_home):
    settings = config.default_settings()
    settings.products[0].intermediate = "missing"
    with pytest.raises(ConfigError):
        config.save_settings(settings)
    assert not (certbench_home / "config" / "certbench.toml").exists()


def test_unconfigured_iot_central_says_what_to_set():
    with pytest.raises(ConfigError, match="No IoT Central application"):
        config.default_settings().iotcentral.resolved_base_url()


def test_unknown_lookups_list_the_known_names():
    settings = config.default_settings()
    with pytest.raises(ConfigError, match="medicorp-ica-1"):
        settings.intermediate("ica-9")
    with pytest.raises(ConfigError, match="mx200"):
        settings.product("zz")
