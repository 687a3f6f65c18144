{% test relationships(model, column_name, to, field) %}
  {#- dbt's built-in `relationships`, overridden by the root project: non-null values of `column_name` that no
      row of `to` holds in `field`. When `to` was also written incrementally in this invocation, a value is
      first looked up among the rows that write added (new rows mostly point at new parents); only the values not
      found there are looked up in the whole of `to`, which is not read at all when there are none. -#}
  {%- set parent_delta = lake_incremental_delta(to, added_files_only=true) -%}
  with child as (
      select {{ column_name }} as from_field
      from {{ model }}
      where {{ column_name }} is not null
  )
  {%- if parent_delta %},

  unresolved as (
      select from_field
      from child
      anti join (select {{ field }} as to_field from {{ parent_delta }}) as new_parent
          on child.from_field = new_parent.to_field
  ),

  {#- the parent's rows holding an unresolved value: a semi join that builds on the few unresolved values #}
  found as (
      select parent.{{ field }} as to_field
      from {{ to }} as parent
      semi join unresolved on parent.{{ field }} = unresolved.from_field
  )

  select from_field
  from unresolved
  anti join found on unresolved.from_field = found.to_field
  {%- else %}

  select from_field
  from child
  anti join (select {{ field }} as to_field from {{ to }}) as parent on child.from_field = parent.to_field
  {%- endif %}
{% endtest %}
