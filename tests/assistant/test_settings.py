"""Settings read from the environment (issue 25): a blank API key and a variable's unreadable value."""

import pytest
from pydantic import ValidationError

from assistant.settings import ApiSettings
from tests.assistant.test_cli import run


@pytest.mark.parametrize("keys", [[""], ["   "], ["cle-valable-0123456789", ""], [" cle-avec-espace"]])
def test_an_empty_blank_or_padded_api_key_is_refused(keys):
    with pytest.raises(ValidationError) as refused:
        ApiSettings(keys=keys)
    assert refused.value.errors()[0]["loc"] == ("keys",)


def test_real_keys_and_no_keys_are_accepted():
    assert ApiSettings(keys=[]).keys == []
    assert [k.get_secret_value() for k in ApiSettings(keys=["a-b-c", "d"]).keys] == ["a-b-c", "d"]


@pytest.mark.slow
@pytest.mark.parametrize("name, value", [("ASSISTANT_API__KEYS", "cle-secrete-k1"),
                                         ("ASSISTANT_API__CORS_ORIGINS", "https://intranet.example.org"),
                                         ("ASSISTANT_API", "cle-secrete-k1"),
                                         ("ASSISTANT_INDEX__MILVUS", "cle-secrete-k1")])
def test_an_unreadable_variable_is_named_not_reported_as_a_file(name, value):
    """``ASSISTANT_API__KEYS='k1'`` (not JSON) was « fichier de réglages illisible », though no file was involved."""
    result = run("ask", "question", env={name: value})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    message = result.stderr.strip()
    assert name in message and "fichier" not in message and "\n" not in message, message
    assert value not in message  # a key's value is never printed


@pytest.mark.slow
def test_an_unreadable_settings_file_is_still_named(tmp_path):
    config = tmp_path / "reglages.toml"
    config.write_text("[api\nkeys = 1\n", encoding="utf-8")
    result = run("ask", "question", env={"ASSISTANT_CONFIG": str(config)})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "fichier de réglages" in result.stderr and str(config) in result.stderr, result.stderr
