{% test unique_combination_of_columns(model, combination_of_columns) %}
  {#- Combinations of the given columns that occur more than once (the grain of the model is broken). On an
      incrementally written model, new combinations are also checked against the rest of the table
      (lake_duplicate_keys). -#}
  {{ lake_duplicate_keys(model, combination_of_columns) }}
{% endtest %}
