{% macro lake_plugin(request, relation=none) %}
  {#- Ask the lake plugin (lake/dbt_plugin.py, whose ACTIONS lists what `request.action` can be) and return the
      request with the plugin's answer filled in. -#}
  {% do adapter.store_relation('lake', relation, [], '', 'iceberg', request) %}
  {{ return(request) }}
{% endmacro %}
