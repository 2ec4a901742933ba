"""The llm-lab command."""
