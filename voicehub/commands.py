"""What every `voicehub …` command group registers its commands with."""

from __future__ import annotations

import argparse
from collections.abc import Callable

Subcommands = argparse._SubParsersAction  # argparse's own type for `add_subparsers()`


def add_command(
    commands: Subcommands[argparse.ArgumentParser],
    name: str,
    handler: Callable[[argparse.Namespace], int],
    help_text: str,
) -> argparse.ArgumentParser:
    """A subcommand whose `handler` the main CLI calls with the parsed arguments."""
    sub = commands.add_parser(name, help=help_text, description=help_text)
    sub.set_defaults(handler=handler)
    return sub
