{{ config(materialized='incremental', incremental_strategy='append') }}

{{ tessera.stage_segment_events(source('app', 'app_events')) }}
