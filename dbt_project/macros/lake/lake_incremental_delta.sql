{% macro lake_incremental_delta(relation) %}
  {#- The rows this invocation's incremental write of `relation` added, as a subquery over only the data files
      its staged snapshot added (recorded by the lake plugin); none when the model was not written incrementally
      in this invocation (a full build, a first build, --full-refresh, or `dbt test` alone). -#}
  {% if not execute or relation is string %}
    {{ return(none) }}
  {% endif %}
  {% set found = run_query(
      "select delta_sql from lake_dbt.model_writes where incremental and invocation_id = '" ~ invocation_id
      ~ "' and relation = '" ~ relation.schema ~ "." ~ relation.identifier ~ "'") %}
  {{ return(found.columns[0].values()[0] if found.rows | length else none) }}
{% endmacro %}
