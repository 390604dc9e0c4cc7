"""Command-line interface: thin Typer commands over stage functions."""
