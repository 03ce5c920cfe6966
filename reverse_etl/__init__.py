"""Reverse ETL: keeps CRM, email and ad destinations in step with the `sync_*` models of schema `activation`.

Empty until the reverse-ETL issue lands: no destination is wired up yet, and `tessera run` syncs nothing.
"""
