"""How we answer: settings, retrieval fusion, answerers, chat follow-ups, CLI."""
