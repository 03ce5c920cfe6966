"""Reverse ETL: keeps destinations in step with the `sync_*` models of schema `activation`. A library: it knows
nothing of Dagster or of the project's layout (its callers pass the syncs folder and the consent purposes).

- `sync_files`: the sync files read (one pydantic model per sync, each destination's settings by its own model)
  and validated (model, destination, mode, key, mapping, consent purpose, schedule; secrets from the environment);
- `engine`: change capture against the last acknowledged state, consent and suppression at the last mile,
  batches, retries of rejected rows, run history, erasures; syncs side by side; dry runs;
- `state`: the tables of schema `reverse_etl` (sync_state, sync_runs, sync_row_results, erasure deliveries);
- `retry`: the one retry policy and rate limiter, and the two kinds of error (retriable, fatal);
- `destinations/`: one module per destination over `base` (and `http` for those over HTTP): file drop,
  PostgreSQL table, signed webhook, HubSpot, Salesforce, Klaviyo, Mailchimp, Braze, Meta, Google Ads;
- `standins/`: local stand-ins of the SaaS APIs, following each vendor's documented contract, for tests and the
  demo;
- `hashing`, `privacy`: normalise-and-hash for the ad platforms; where erasures stand.
"""
