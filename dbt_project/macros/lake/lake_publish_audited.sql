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
    {% set outcome = lake_plugin({
        'action': 'publish', 'invocation_id': invocation_id, 'succeeded': succeeded, 'rejected': rejected,
    })['outcome'] %}
    {% for write in outcome %}
      {% if write.status == 'published' %}
        {{ log("lake: published " ~ write.relation ~ " at snapshot " ~ write.snapshot_id, info=True) }}
      {% elif write.status == 'unchanged' %}
        {{ log("lake: unchanged " ~ write.relation ~ " (same SQL and inputs): still at snapshot " ~ write.snapshot_id,
               info=True) }}
      {% else %}
        {{ log("lake: HELD BACK " ~ write.relation ~ " (its tests failed or it did not finish): readers still see "
               ~ "snapshot " ~ write.published_snapshot_id ~ "; the rejected write is snapshot " ~ write.snapshot_id
               ~ " on branch 'audit'", info=True) }}
      {% endif %}
    {% endfor %}
  {% endif %}
{% endmacro %}
