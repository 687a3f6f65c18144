{% macro first_changed_day(upstream, column) -%}
  {#- Start (UTC) of the earliest day holding a row of `upstream` added or removed since this model's published
      snapshot read it (rows compaction only rewrote do not count): an incremental model partitioned by day
      rebuilds from there, so a late row lands whatever day it belongs to and an unchanged day is not read.
      The start of year 1 (everything) when the lake cannot tell, e.g. the snapshot read then has expired; NULL
      (no row compares greater or equal) when `upstream` did not change. Rendered as a constant of the column's
      own type (a DATE for a date column), so the filter prunes the scan of `upstream` to the files of those days
      and no row is cast to compare. -#}
  {%- if not execute -%}
    {{ return("cast(null as timestamptz)") }}
  {%- endif -%}
  {{ lake_plugin({
      'action': 'first_changed', 'model': this.schema ~ '.' ~ this.identifier,
      'upstream': upstream.schema ~ '.' ~ upstream.identifier, 'column': column,
  })['sql'] }}
{%- endmacro %}
