"""The bundled content pack: flows as YAML (English source text), facts in data/."""
