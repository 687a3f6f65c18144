{% macro generate_schema_name(custom_schema_name, node) -%}
  {#- A folder's `+schema` is the Iceberg namespace itself (staging, curated, features), not a suffix. -#}
  {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}
