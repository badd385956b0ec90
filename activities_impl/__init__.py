"""Temporal activities and the I/O they do: store, e-mail, calendar files, reports."""
