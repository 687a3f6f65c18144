{% macro lake_staged_write_sql(model_id) %}
  {#- The plugin's record of this invocation's write of one model (see lake/dbt_plugin.py). -#}
  select rows_written, snapshot_id, scan_sql, status
  from lake_dbt.model_writes
  where invocation_id = '{{ invocation_id }}' and model = '{{ model_id }}'
{% endmacro %}
