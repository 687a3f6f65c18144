{% macro pii_token(column) -%}
  {#- Keyed SHA-256 of a PII value: joinable and stable, never reversible without LAKEFORGE_PII_KEY. The key
      reaches DuckDB as a session variable set by the lake plugin, so it never appears in compiled SQL. -#}
  sha256(getvariable('lakeforge_pii_key') || '|' || {{ column }})
{%- endmacro %}
