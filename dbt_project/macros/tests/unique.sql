{% test unique(model, column_name) %}
  {#- dbt's built-in `unique`, overridden by the root project: non-null values of `column_name` held by more
      than one row. On an incrementally written model, new values are also checked against the rest of the
      table (lake_duplicate_keys). -#}
  {{ lake_duplicate_keys(model, [column_name], nulls_are_keys=false) }}
{% endtest %}
