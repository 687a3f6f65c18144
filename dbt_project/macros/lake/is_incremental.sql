{% macro is_incremental() %}
  {#- dbt's is_incremental(), for the `iceberg` materialization: an incremental strategy, a published table, no
      full refresh. -#}
  {% if not execute %}
    {{ return(false) }}
  {% endif %}
  {% set relation = adapter.get_relation(this.database, this.schema, this.table) %}
  {{ return(relation is not none
            and model.config.materialized == 'iceberg'
            and (config.get('incremental_strategy') or 'table') != 'table'
            and not should_full_refresh()) }}
{% endmacro %}
