"""The ``pssim`` command line."""

from simulator.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
