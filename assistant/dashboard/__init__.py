"""The dashboard: a read-only page the service serves itself (aiohttp), with the account's
health at a glance. Built by `service/bootstrap.py` as an optional channel: protection never
waits on it, and if it cannot listen or crashes that is a critical alert, not a stop."""
