{#-
    Every candidate value of every golden-record attribute, from every record of every customer, ranked by the
    survivorship rule: the source's priority (var `survivorship_source_priority`), then the most recent record.
    Blocked values (placeholders, a kiosk's email) and empty texts are never candidates; ties go to the
    smallest value. Rank 1 is the golden value (unit tests: _identity__unit_tests.yml).

    Incremental per customer: a run ranks again only the customers it touched (`customers_touched`) and
    replaces their rows (delete+insert on customer_id). A touched customer is written one empty row besides its
    candidates, so that a customer left with none (merged into another, or its records gone) loses its old
    rows too; the post-hook drops the empty rows. Each row keeps the rule it was ranked by
    (`_survivorship_rule`); when the var changed since, the run ranks every customer again.
-#}
{{ config(
    materialized='incremental',
    unique_key='customer_id',
    incremental_strategy='delete+insert',
    post_hook="delete from {{ this }} where attribute is null",
) }}

-- depends_on: {{ ref('identity_merges') }}
-- depends_on: {{ ref('identity_splits') }}

{%- set rule = var('survivorship_source_priority') | join(',') -%}
{%- set rule_changed = false -%}
{%- if is_incremental() and execute -%}
    {%- set ranked_by = run_query("select max(_survivorship_rule) from " ~ this).columns[0].values()[0]
        if tessera.this_has_column('_survivorship_rule') else none -%}
    {%- set rule_changed = ranked_by != rule -%}
{%- endif %}

{% if is_incremental() %}
with touched as (

    {{ tessera.customers_touched() }}
    {%- if rule_changed %}
    union
    select customer_id from {{ this }}
    union
    select customer_id from {{ ref('int_source_records_assigned') }}
    {%- endif %}

),

records as (

    select * from {{ ref('int_source_records_assigned') }}
    where customer_id in (select customer_id from touched)

),
{% else %}
with records as (

    select * from {{ ref('int_source_records_assigned') }}

),
{% endif %}

blocked as (

    select * from {{ ref('int_identifiers_blocked') }}

),

crm_contacts as (

    select * from {{ ref('stg_crm__contacts') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

loyalty_members as (

    select * from {{ ref('stg_loyalty__members') }}

),

segment_events as (

    select 'web_events' as source, message_id, occurred_at, email, phone, first_name, last_name
    from {{ ref('stg_web__events') }}
    where event_type = 'identify'
    union all
    select 'app_events' as source, message_id, occurred_at, email, phone, first_name, last_name
    from {{ ref('stg_app__events') }}
    where event_type = 'identify'

),

support_tickets as (

    select * from {{ ref('stg_helpdesk__tickets') }}

),

{#- (cte, source, record id, time, [(attribute, column), ...]): where each source keeps each attribute. -#}
{%- set sources = [
    ('crm_contacts', "'crm_contacts'", 'contact_id', 'updated_at',
        [('email', 'email'), ('phone', 'phone'), ('first_name', 'first_name'), ('last_name', 'last_name'),
         ('city', 'city'), ('postal_code', 'postal_code'), ('country', 'country_code')]),
    ('orders', "'orders'", 'order_id', 'created_at',
        [('email', 'email'), ('phone', 'phone'), ('first_name', 'billing_first_name'),
         ('last_name', 'billing_last_name'), ('city', 'billing_city'), ('postal_code', 'billing_postal_code'),
         ('country', 'billing_country_code')]),
    ('loyalty_members', "'loyalty_members'", 'card_number', 'enrolled_at',
        [('email', 'email'), ('phone', 'phone'), ('first_name', 'first_name'), ('last_name', 'last_name'),
         ('postal_code', 'postal_code'), ('country', 'store_country_code')]),
    ('segment_events', 'source', 'message_id', 'occurred_at',
        [('email', 'email'), ('phone', 'phone'), ('first_name', 'first_name'), ('last_name', 'last_name')]),
    ('support_tickets', "'support_tickets'", 'ticket_id', 'created_at',
        [('email', 'requester_email'), ('phone', 'requester_phone')]),
] -%}
{%- set selects = [] -%}
{%- for cte, source_expression, record_id, occurred_at, columns in sources -%}
    {%- for attribute, column in columns -%}
        {%- do selects.append((cte, source_expression, record_id, occurred_at, attribute, column)) -%}
    {%- endfor -%}
{%- endfor %}

candidates as (
    {% for cte, source_expression, record_id, occurred_at, attribute, column in selects %}
    select
        {{ source_expression }} as source,
        {{ record_id }} as source_record_id,
        '{{ attribute }}' as attribute,
        {{ column }} as attribute_value,
        {{ occurred_at }} as occurred_at
    from {{ cte }}
    where {{ column }} is not null and trim({{ column }}) <> ''  {#- an empty text is no value #}
    {{ "union all" if not loop.last }}
    {%- endfor %}

),

source_priorities as (

    {%- for source_name in var('survivorship_source_priority') %}
    select '{{ source_name }}' as source, {{ loop.index }} as source_priority
    {{ "union all" if not loop.last }}
    {%- endfor %}

),

ranked as (

    select
        records.customer_id,
        candidates.attribute,
        candidates.attribute_value,
        candidates.source,
        candidates.occurred_at,
        row_number() over (
            partition by records.customer_id, candidates.attribute
            order by source_priorities.source_priority, candidates.occurred_at desc, candidates.attribute_value
        ) as survivorship_rank
    from candidates
    inner join records
        on records.source = candidates.source and records.source_record_id = candidates.source_record_id
    inner join source_priorities on source_priorities.source = candidates.source
    left join blocked
        on blocked.identifier_type = candidates.attribute and blocked.identifier_value = candidates.attribute_value
    where blocked.identifier_value is null

),

final as (

    select * from ranked
    {%- if is_incremental() %}

    union all

    select
        customer_id,
        cast(null as {{ dbt.type_string() }}),
        cast(null as {{ dbt.type_string() }}),
        cast(null as {{ dbt.type_string() }}),
        cast(null as {{ dbt.type_timestamp() }}),
        cast(null as {{ dbt.type_bigint() }})
    from touched
    {%- endif %}

)

select *, '{{ rule }}' as _survivorship_rule, {{ tessera.built_at() }} as _built_at from final
