{% test expression_is_true(model, expression, column_name=None) %}
  {#- Rows for which the invariant `expression` does not hold (a null result counts as not holding). -#}
  select * from {{ model }} where not coalesce(({{ expression }}), false)
{% endtest %}
