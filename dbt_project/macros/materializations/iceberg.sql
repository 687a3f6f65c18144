{#
  Materialize a model as an Iceberg table in its layer's namespace, through the `lake` plugin.

  Config: incremental_strategy (table | append | insert_overwrite | merge; default table), unique_key (merge),
  partition_by (list like ["day(transaction_at)"], used when the table is created), skip_unchanged (default
  true: a full-replace model whose SQL and input snapshots are those of its published snapshot is not written
  again; --full-refresh always writes).
  The result is written as one snapshot on the table's `audit` branch; the model's DuckDB view then reads that
  snapshot, so tests and downstream models see what was written, and readers of the lake see it only once
  `lake_publish_audited` publishes it after the tests passed. An incremental write's tests read only the data
  files it added (the plugin records them; see get_where_subquery).
#}
{% materialization iceberg, adapter='duckdb', supported_languages=['sql'] %}
  {%- set strategy = config.get('incremental_strategy') or 'table' -%}
  {%- set existing = load_cached_relation(this) -%}
  {%- set effective = strategy if (existing is not none and not should_full_refresh()) else 'table' -%}
  {%- set target = this.incorporate(type='view') -%}

  {{ run_hooks(pre_hooks) }}
  {%- set staged = lake_plugin({
      'action': 'write',
      'sql': compiled_code,
      'strategy': effective,
      'unique_key': config.get('unique_key'),
      'partition_by': config.get('partition_by') or [],
      'skip_unchanged': effective == 'table' and not should_full_refresh() and config.get('skip_unchanged', true),
      'invocation_id': invocation_id,
      'model': model.unique_id,
  }, relation=target)['staged'] -%}
  {% if staged['status'] == 'unchanged' %}
    {{ log("lake: " ~ target.schema ~ "." ~ target.identifier ~ " unchanged: its SQL and inputs are those of "
           ~ "published snapshot " ~ staged['snapshot_id'] ~ ", not written again", info=True) }}
  {% else %}
    {{ log("lake: " ~ target.schema ~ "." ~ target.identifier ~ " " ~ effective ~ ": "
           ~ staged['rows_written'] ~ " rows staged as snapshot "
           ~ staged['snapshot_id'], info=True) }}
  {% endif %}
  {% do adapter.create_schema(target) %}
  {% call statement('main') -%}
    create or replace view {{ target }} as select * from {{ staged['scan_sql'] }}
  {%- endcall %}
  {{ run_hooks(post_hooks) }}
  {% do adapter.commit() %}
  {{ return({'relations': [target]}) }}
{% endmaterialization %}
