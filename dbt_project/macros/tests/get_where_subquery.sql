{% macro get_where_subquery(relation) -%}
  {#-
    The `model` every generic test reads; overrides dbt's macro of this name (dbt looks it up by name, and the
    root project's comes first). A model written incrementally in this invocation is tested on the rows its
    write added only, since the rows already published passed their tests when they were written: the relation
    returned still names the model's table (lake_duplicate_keys compares new keys with it) but renders as that
    delta. A `relationships` test checks the new rows against the whole parent (see relationships.sql); rows
    published before are not checked again. Other models, a first build, --full-refresh and `dbt test` read
    whole tables through dbt's own default. A configured `where` applies either way.
  -#}
  {%- set delta = lake_incremental_delta(relation) -%}
  {%- if delta -%}
    {%- set where = config.get('where', '') -%}
    {%- set scope = '(select * from ' ~ delta ~ ' where ' ~ where ~ ')' if where else delta -%}
    {% do return(relation.incorporate(external=scope)) %}
  {%- endif -%}
  {% do return(adapter.dispatch('get_where_subquery', 'dbt')(relation)) %}
{%- endmacro %}
