{% macro lake_incremental_delta(relation, added_files_only=false) %}
  {#- The rows this invocation's incremental write of `relation` added, as a subquery over only the data files
      its staged snapshot added (recorded by the lake plugin; an empty subquery when it added none, e.g. an
      unchanged model); none when the model was not written incrementally in this invocation (a full build, a
      first build, --full-refresh, or `dbt test` alone), and with `added_files_only` also none when the write
      added no file. -#}
  {% if not execute or relation is string %}
    {{ return(none) }}
  {% endif %}
  {% set found = run_query(
      "select delta_sql from lake_dbt.model_writes where incremental and invocation_id = '" ~ invocation_id
      ~ "' and relation = '" ~ relation.schema ~ "." ~ relation.identifier ~ "'"
      ~ (" and files_added > 0" if added_files_only else "")) %}
  {{ return(found.columns[0].values()[0] if found.rows | length else none) }}
{% endmacro %}
