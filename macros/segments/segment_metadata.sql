{#-
    What a segment model says about itself in `meta.segment` (owner, consent_purpose, declared_in), with its
    description and segment name (the model name without `segment_`). Read from the graph, so only when dbt
    executes; while parsing it returns placeholders. A segment without a valid consent purpose is an error
    that names the model and where to fix it.
-#}
{% macro segment_metadata(model_name) -%}
    {%- set placeholder = {'segment_name': model_name[8:], 'model_name': model_name, 'description': '',
        'owner': '', 'consent_purpose': 'none', 'kind': 'sql', 'defined_in': ''} -%}
    {%- if not execute -%}
        {{ return(placeholder) }}
    {%- endif -%}
    {%- set node = graph.nodes.get('model.tessera.' ~ model_name) -%}
    {%- if node is none -%}
        {{ exceptions.raise_compiler_error("segment model " ~ model_name ~ " is listed but does not exist: "
            ~ "run `tessera segments compile` to refresh the list") }}
    {%- endif -%}
    {%- set segment = node.config.meta.get('segment', {}) -%}
    {%- set purpose = segment.get('consent_purpose') -%}
    {%- if purpose not in var('consent_purposes') + ['none'] -%}
        {{ exceptions.raise_compiler_error("segment model " ~ model_name ~ " (" ~ node.original_file_path ~ "): "
            ~ "meta.segment.consent_purpose is " ~ (purpose | string) ~ "; set it to one of "
            ~ var('consent_purposes') | join(', ') ~ ", or none") }}
    {%- endif -%}
    {{ return({
        'segment_name': model_name[8:],
        'model_name': model_name,
        'description': node.description | trim,
        'owner': segment.get('owner', ''),
        'consent_purpose': purpose,
        'kind': 'declared' if segment.get('declared_in') else 'sql',
        'defined_in': segment.get('declared_in') or node.original_file_path,
    }) }}
{%- endmacro %}
