{#
  Materialize a model as an Iceberg table in its layer's namespace, through the `lake` plugin.

  Config: incremental_strategy (table | append | insert_overwrite | merge; default table), unique_key (merge),
  partition_by (list like ["day(transaction_at)"], or one field as a string; used when the table is created),
  skip_unchanged (default true: a full-replace model whose SQL and input snapshots are those of its published
  snapshot is not written again; --full-refresh always writes).
  The result is written as one snapshot on the table's `audit` branch and, in the same plugin call, the model's
  DuckDB view is pointed at that snapshot (a dbt statement would cost tens of milliseconds of dbt's bookkeeping per
  model), so tests and downstream models see what was written, and readers of the lake see it only once
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
  {#- the plugin already pointed the view at the snapshot; dbt's run result needs a 'main' result #}
  {% do store_raw_result('main', message='OK', code=staged['status'], rows_affected=staged['rows_written']) %}
  {{ run_hooks(post_hooks) }}
  {% do adapter.commit() %}
  {{ return({'relations': [target]}) }}
{% endmaterialization %}
