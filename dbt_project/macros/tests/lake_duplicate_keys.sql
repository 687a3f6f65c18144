{% macro lake_duplicate_keys(model, columns, nulls_are_keys=true) %}
  {#-
    Key values (combinations of `columns`) held by more than one row, with their count. With `nulls_are_keys`,
    nulls compare equal as in a GROUP BY; without, a row with a null key column is not a key (dbt's `unique`).
    On a model scoped to the rows an incremental write added (get_where_subquery) a new key must also be new to
    the table: the keys of the added rows are counted over the whole staged table, reading its key columns only,
    so both a duplicate within the new rows and one with a published row are caught, and keys the new rows do
    not hold (already tested) are not grouped again. Where nulls are not keys that lookup is an equality join,
    which lets DuckDB skip the table's data files whose column statistics cannot hold a new key (new ids of
    time-ordered data lie in the new day's files); `is not distinct from` would read every file.
  -#}
  {%- set keys = columns | join(', ') -%}
  {%- set key_condition = 'true' if nulls_are_keys else columns | join(' is not null and ') ~ ' is not null' -%}
  {%- set same_key = 'is not distinct from' if nulls_are_keys else '=' -%}
  {%- if lake_incremental_delta(model) -%}
    with new_keys as (
        select distinct {{ keys }} from {{ model }} where {{ key_condition }}
    ),

    table_keys as (
        select {{ keys }} from {{ model.incorporate(external=none) }}
        where {{ key_condition }} and ({{ config.get('where', '') or 'true' }})
    )

    select {{ keys }}, count(*) as n_records
    from table_keys
    semi join new_keys on
        {%- for column in columns %}
        {{ 'and ' if not loop.first }}table_keys.{{ column }} {{ same_key }} new_keys.{{ column }}
        {%- endfor %}
    group by {{ keys }}
    having count(*) > 1
  {%- else -%}
    select {{ keys }}, count(*) as n_records
    from {{ model }}
    where {{ key_condition }}
    group by {{ keys }}
    having count(*) > 1
  {%- endif -%}
{% endmacro %}
