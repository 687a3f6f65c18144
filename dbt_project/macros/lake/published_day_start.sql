{% macro published_day_start(column) -%}
  {#- Start of the last day already in this model's published table (-infinity when it is empty): incremental
      models rebuild from there, since that day may have been partial. -#}
  (select coalesce(date_trunc('day', max({{ column }})), '-infinity'::timestamptz) from {{ this }})
{%- endmacro %}
