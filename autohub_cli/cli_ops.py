"""Operator commands (status, reset, logs, explain, pause/resume, cron, doctor) register here."""
