{#-
    The rows of a raw source that may reach the models: every row but those of files held back because their
    validation failed (too many quarantined rows, or values off the contract: see raw._validations, latest
    outcome per file), and with `new_only` in an incremental model only the rows loaded since its last run.
    A held-back file stays held: deliver a corrected version under a new name (`tessera files retract` removes
    the old one). The privacy sources (consent decisions, erasure requests) never use it: nothing holds back an
    erasure, a suppression or a withdrawal of consent.
-#}
{% macro accepted_rows(relation, new_only=false) -%}
    select * from {{ relation }}
    where {{ tessera.not_held_back('_file') }}
    {%- if new_only and is_incremental() %}
    and _loaded_at > {{ tessera.newest_in_this('_loaded_at') }}
    {%- endif %}
{%- endmacro %}

{% macro not_held_back(file_column) -%}
    {%- set validations = adapter.get_relation(database=target.database, schema='raw', identifier='_validations')
        if execute else none -%}
    {%- if validations is none -%}
    true
    {%- else -%}
    ({{ file_column }} is null or {{ file_column }} not in (
        select file from (
            select file, passed, row_number() over (partition by file order by validated_at desc) as newest
            from {{ validations }}
        ) as validated
        where newest = 1 and not passed
    ))
    {%- endif -%}
{%- endmacro %}
