"""Shared fixtures: every test runs in its own directory with its own index path; the real
index over the real corpus is built once per session with the real default embedder."""

from __future__ import annotations

import os

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
    for name in [n for n in os.environ if n.startswith("ASSISTANT_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("ASSISTANT_INDEX__DIR", str(tmp_path / "index"))
    return tmp_path


@pytest.fixture(scope="session")
def clean_settings(tmp_path_factory):
    """Default settings, whatever the developer's environment or ./assistant.toml say."""

    def make(**sections) -> Settings:
        with pytest.MonkeyPatch.context() as mp:
            for name in [n for n in os.environ if n.startswith("ASSISTANT_")]:
                mp.delenv(name)
            mp.chdir(tmp_path_factory.getbasetemp())
            return Settings(**sections)

    return make


@pytest.fixture(scope="session")
def real_index_dir(tmp_path_factory, clean_settings):
    """The real corpus indexed with the default embedder (e5, ONNX int8), built once."""
    from assistant.indexing import build_index_from_settings

    folder = tmp_path_factory.mktemp("real-index")
    manifest, problems = build_index_from_settings(clean_settings(index=IndexSettings(dir=folder)))
    assert not problems, problems
    return folder


@pytest.fixture(scope="session")
def real_assistant(real_index_dir, clean_settings):
    from assistant.app import build

    return build(clean_settings(index=IndexSettings(dir=real_index_dir)))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so fixtures can tell a failed test (browser screenshots)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
