{#-
    The staging shape of a Segment Spec source (web_events, app_events): the Spec's fields typed and named,
    traits from `traits` or `context.traits`, re-delivered messages counted once (the first delivery wins).
    The whole original message stays available as `payload`. Traits are normalised (`email`, `phone` in E.164,
    name keys), the typed values kept as `*_as_typed`.
-#}
{% macro stage_segment_events(source_relation) %}
with source as (

    {{ tessera.accepted_rows(source_relation, new_only=true) }}

),

renamed as (

    select
        trim(message_id) as message_id,
        lower(trim(type)) as event_type,
        {{ clean_string('event') }} as event_name,
        {{ clean_string(tessera.json_text('payload', '$.name')) }} as screen_or_page_name,
        {{ clean_string('anonymous_id') }} as anonymous_id,
        {{ clean_string('user_id') }} as user_id,
        {{ clean_string(tessera.json_text('payload', '$.previousId')) }} as previous_id,
        timestamp as occurred_at,
        {{ clean_string("coalesce(" ~ tessera.json_text('payload', '$.traits.email') ~ ", " ~ tessera.json_text('payload', '$.context.traits.email') ~ ")") }} as email_as_typed,
        {{ clean_string("coalesce(" ~ tessera.json_text('payload', '$.traits.phone') ~ ", " ~ tessera.json_text('payload', '$.context.traits.phone') ~ ")") }} as phone_as_typed,
        {{ tessera.phone_digits("coalesce(" ~ tessera.json_text('payload', '$.traits.phone') ~ ", " ~ tessera.json_text('payload', '$.context.traits.phone') ~ ")") }} as phone_digits,
        {{ clean_string("coalesce(" ~ tessera.json_text('payload', '$.traits.firstName') ~ ", " ~ tessera.json_text('payload', '$.context.traits.firstName') ~ ")") }} as first_name,
        {{ clean_string("coalesce(" ~ tessera.json_text('payload', '$.traits.lastName') ~ ", " ~ tessera.json_text('payload', '$.context.traits.lastName') ~ ")") }} as last_name,
        {{ clean_string(tessera.json_text('payload', '$.context.device.id')) }} as device_id,
        {{ clean_string(tessera.json_text('payload', '$.context.device.advertisingId')) }} as advertising_id,
        {{ clean_string(tessera.json_text('payload', '$.context.device.type')) }} as device_type,
        {{ clean_string(tessera.json_text('payload', '$.context.app.version')) }} as app_version,
        {{ clean_string(tessera.json_text('payload', '$.context.page.url')) }} as page_url,
        {{ clean_string(tessera.json_text('payload', '$.context.page.path')) }} as page_path,
        {{ clean_string(tessera.json_text('payload', '$.context.page.referrer')) }} as page_referrer,
        {{ clean_string(tessera.json_text('payload', '$.context.campaign.source')) }} as campaign_source,
        {{ clean_string(tessera.json_text('payload', '$.context.campaign.medium')) }} as campaign_medium,
        {{ clean_string(tessera.json_text('payload', '$.context.campaign.name')) }} as campaign_name,
        {{ clean_string(tessera.json_text('payload', '$.context.ip')) }} as ip_address,
        {{ clean_string(tessera.json_text('payload', '$.context.userAgent')) }} as user_agent,
        {{ clean_string(tessera.json_text('payload', '$.properties.order_id')) }} as order_id,
        {{ tessera.json_object_at('payload', '$.properties') }} as properties,
        payload,
        _file,
        _line,
        _loaded_at

    from source

),

normalised as (

    select
        *,
        {{ tessera.normalize_email('email_as_typed') }} as email,
        {{ tessera.normalize_phone('phone_digits') }} as phone,
        {{ tessera.name_key('first_name') }} as first_name_key,
        {{ tessera.name_key('last_name') }} as last_name_key

    from renamed

),

first_deliveries as (

    {{ tessera.first_deliveries('normalised', 'message_id') }}

)

select *, {{ tessera.built_at() }} as _built_at from first_deliveries
{% endmacro %}
