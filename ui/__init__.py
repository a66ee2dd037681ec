"""How people ask: the Gradio chat and the OpenAI-compatible API. Thin: they call the assistant and never build
indexes (except from the chat's admin tab)."""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no telemetry, whichever module imports gradio

