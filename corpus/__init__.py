"""What we know: source documents as given, curated programme records, and their loaders."""

from pathlib import Path

SOURCES_DIR = Path(__file__).resolve().parent / "sources"
PROGRAMME_DIR = Path(__file__).resolve().parent / "programme"
