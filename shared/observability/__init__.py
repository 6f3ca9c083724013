"""Logs, request ids and metrics: what every process of the service shares for being operated."""
