"""Wiring only: the Faust app, its agents and the command line."""
