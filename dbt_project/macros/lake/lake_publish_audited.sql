{% macro lake_publish_audited(results) %}
  {#-
    Publish step of write-audit-publish (on-run-end): every Iceberg model written in this invocation is
    published unless a test attached to it failed or errored; the others stay on their `audit` branch and
    readers keep seeing the previous snapshot.
  -#}
  {% if execute %}
    {% set succeeded = [] %}
    {% set rejected = [] %}
    {% for result in results %}
      {% set node = result.node %}
      {% if node.resource_type == 'model' and node.config.materialized == 'iceberg' and result.status == 'success' %}
        {% do succeeded.append(node.unique_id) %}
      {% elif node.resource_type == 'test' and result.status in ('fail', 'error') %}
        {% do rejected.extend([node.attached_node] if node.attached_node else node.depends_on.nodes) %}
      {% endif %}
    {% endfor %}
    {% do lake_plugin({
        'action': 'publish', 'invocation_id': invocation_id, 'succeeded': succeeded, 'rejected': rejected,
    }) %}
    {% set outcome = run_query(
        "select relation, status, snapshot_id, published_snapshot_id from lake_dbt.model_writes"
        ~ " where invocation_id = '" ~ invocation_id ~ "' order by relation") %}
    {% for row in outcome %}
      {% if row[1] == 'published' %}
        {{ log("lake: published " ~ row[0] ~ " at snapshot " ~ row[2], info=True) }}
      {% elif row[1] == 'unchanged' %}
        {{ log("lake: unchanged " ~ row[0] ~ " (same SQL and inputs): still at snapshot " ~ row[2], info=True) }}
      {% else %}
        {{ log("lake: HELD BACK " ~ row[0] ~ " (its tests failed or it did not finish): readers still see snapshot "
               ~ row[3] ~ "; the rejected write is snapshot " ~ row[2] ~ " on branch 'audit'", info=True) }}
      {% endif %}
    {% endfor %}
  {% endif %}
{% endmacro %}
