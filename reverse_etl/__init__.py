"""Reverse ETL: keeps destinations in step with the `sync_*` models of schema `activation`.

- `definitions`: the syncs of `reverse_etl/syncs/*.yml`, validated (model, destination, mode, key, mapping,
  consent purpose, schedule; secrets from the environment);
- `engine`: change capture against the last acknowledged state, consent and suppression at the last mile,
  batches, retries of rejected rows, run history; syncs side by side; dry runs;
- `state`: the tables of schema `reverse_etl` (sync_state, sync_runs, sync_row_results);
- `retry`: the one retry policy and rate limiter every destination uses;
- `destinations/`: one module per destination over `base`: file drop, PostgreSQL table, signed webhook so far.
  The SaaS destinations (HubSpot, Salesforce, Klaviyo, Mailchimp, Braze, Meta, Google Ads) and their local
  stand-ins are not built yet.
"""
