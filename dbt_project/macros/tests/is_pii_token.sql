{% test is_pii_token(model, column_name) %}
  {#- Values that are not a 64-hex-digit keyed hash: a clear personal value would fail here. -#}
  select * from {{ model }}
  where {{ column_name }} is null or not regexp_full_match({{ column_name }}, '[0-9a-f]{64}')
{% endtest %}
