{{ config(materialized='incremental', incremental_strategy='append') }}

{{ tessera.stage_segment_events(source('web', 'web_events')) }}
