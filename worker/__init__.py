"""Processes and wiring: settings, client and data converter, the worker, the embedded stack."""
