{% macro lake_incremental_delta(relation, added_files_only=false) %}
  {#- The rows this invocation's incremental write of `relation` added, as a subquery over only the data files
      its staged snapshot added (recorded by the lake plugin; an empty subquery when it added none, e.g. an
      unchanged model); none when the model was not written incrementally in this invocation (a full build, a
      first build, --full-refresh, or `dbt test` alone), and with `added_files_only` also none when the write
      added no file. -#}
  {% if not execute or relation is string %}
    {{ return(none) }}
  {% endif %}
  {{ return(lake_plugin({
      'action': 'delta', 'invocation_id': invocation_id, 'relation': relation.schema ~ '.' ~ relation.identifier,
      'added_files_only': added_files_only,
  })['delta']) }}
{% endmacro %}
