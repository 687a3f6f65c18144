{{ config(incremental_strategy='append', partition_by=['day(feature_timestamp)']) }}

{#- One row per card per transaction: the card's state right after that transaction, known at its time.
    Windows look back at most 7 days (90 for chargebacks, from the small fct_chargebacks).
    The features are written once, each with the frame it aggregates over; how a frame is evaluated depends on
    the build:
    - full build: named windows over each card's transactions, ordered by epoch microseconds (RANGE frames over
      integers are several times faster than intervals over timestamptz);
    - incremental build: each transaction not featurized yet, from the first day whose transactions changed
      (a day of new data, or the day of a late row), is joined with its card's transactions of the 7 days up
      to it, and a frame is a FILTER on that join. The windows would evaluate every transaction of those 7 days
      again (about 7 rows for each row appended); the join reads only the rows the new ones look back at.
      Rows are appended, never rewritten: a late row gets its own features, and the features already published
      for the card's later transactions keep the values known when they were computed. -#}
{%- set hour_us = 3600 * 1000 * 1000 -%}
{%- set day_us = 24 * hour_us -%}
{%- if is_incremental() -%}
    {%- set since = first_changed_day(ref('int_transactions_enriched'), 'transaction_at') -%}
    {%- set row, at = 'history.', 'history.transaction_at_us' -%}
    {%- set frames = {
        'last_1h': 'filter (where ' ~ at ~ ' >= new.transaction_at_us - ' ~ hour_us ~ ')',
        'last_24h': 'filter (where ' ~ at ~ ' >= new.transaction_at_us - ' ~ day_us ~ ')',
        'last_7d': '',
        'before_7d': 'filter (where ' ~ at ~ ' < new.transaction_at_us)',
    } -%}
    {%- set distinct_24h = 'count(distinct history.COLUMN) ' ~ frames['last_24h'] -%}
{%- else -%}
    {%- set row = '' -%}
    {%- set frames = {
        'last_1h': 'over last_1h', 'last_24h': 'over last_24h', 'last_7d': 'over last_7d', 'before_7d': 'over before_7d',
    } -%}
    {%- set distinct_24h = 'count(distinct COLUMN) over last_24h' -%}
{%- endif %}
{%- set carried = ['transaction_id', 'card_id', 'transaction_at', 'transaction_at_us', 'amount_cents', 'distance_from_home_km'] %}

with transactions as (
    select
        transaction_id,
        card_id,
        merchant_id,
        merchant_category,
        amount_cents,
        distance_from_home_km,
        transaction_at,
        epoch_us(transaction_at) as transaction_at_us
    from {{ ref('int_transactions_enriched') }}
    {% if is_incremental() %}
    -- the changed days and the 7 days of history they look back at
    where transaction_at >= {{ since }} - interval 7 day
    {% endif %}
),

{% if is_incremental() %}
-- transactions of the changed days that have no feature row yet
unfeaturized as (
    select *, row_number() over () as new_row
    from transactions
    anti join (
        select transaction_id from {{ this }} where feature_timestamp >= {{ since }}
    ) as featurized using (transaction_id)
    where transactions.transaction_at >= {{ since }}
),
{% endif %}

{#- incremental: the aggregates are grouped by the new transaction's number alone (DuckDB groups integers far
    faster than string ids) and its own columns joined back after; carrying them through the aggregation costs more -#}
{{ 'aggregated' if is_incremental() else 'windowed' }} as (
    select
        {%- for column in (['new.new_row'] if is_incremental() else carried) %}
        {{ column }},
        {%- endfor %}
        count(*) {{ frames['last_1h'] }} as tx_count_1h,
        sum({{ row }}amount_cents) {{ frames['last_1h'] }} as amount_sum_1h_cents,
        count(*) {{ frames['last_24h'] }} as tx_count_24h,
        sum({{ row }}amount_cents) {{ frames['last_24h'] }} as amount_sum_24h_cents,
        count(*) {{ frames['last_7d'] }} as tx_count_7d,
        sum({{ row }}amount_cents) {{ frames['last_7d'] }} as amount_sum_7d_cents,
        {{ distinct_24h.replace('COLUMN', 'merchant_id') }} as distinct_merchants_24h,
        {{ distinct_24h.replace('COLUMN', 'merchant_category') }} as distinct_categories_24h,
        avg({{ row }}amount_cents) {{ frames['before_7d'] }} as avg_amount_prior_7d_cents,
        max({{ row }}transaction_at) {{ frames['before_7d'] }} as previous_transaction_at
    {% if is_incremental() %}
    from unfeaturized as new
    inner join transactions as history
        on history.card_id = new.card_id
        and history.transaction_at_us between new.transaction_at_us - {{ 7 * day_us }} and new.transaction_at_us
    group by new.new_row
    {% else %}
    from transactions
    window
        last_1h as (partition by card_id order by transaction_at_us range between {{ hour_us }} preceding and current row),
        last_24h as (partition by card_id order by transaction_at_us range between {{ day_us }} preceding and current row),
        last_7d as (partition by card_id order by transaction_at_us range between {{ 7 * day_us }} preceding and current row),
        before_7d as (
            partition by card_id order by transaction_at_us range between {{ 7 * day_us }} preceding and 1 preceding
        )
    {% endif %}
),

{% if is_incremental() %}
windowed as (
    select {% for column in carried %}new.{{ column }}, {% endfor %}aggregated.* exclude (new_row)
    from aggregated
    inner join unfeaturized as new using (new_row)
),
{% endif %}

-- a chargeback counts from the moment it was reported, never from the time of the disputed transaction
chargebacks_known as (
    select windowed.transaction_id, count(*) as chargebacks_reported_90d
    from windowed
    inner join {{ ref('fct_chargebacks') }} as chargebacks
        on chargebacks.card_id = windowed.card_id
        and epoch_us(chargebacks.reported_at) <= windowed.transaction_at_us
        and epoch_us(chargebacks.reported_at) > windowed.transaction_at_us - {{ 90 * day_us }}
    group by windowed.transaction_id
)

select
    windowed.card_id,
    windowed.transaction_id,
    windowed.transaction_at as feature_timestamp,
    windowed.tx_count_1h,
    cast(windowed.amount_sum_1h_cents as bigint) as amount_sum_1h_cents,
    windowed.tx_count_24h,
    cast(windowed.amount_sum_24h_cents as bigint) as amount_sum_24h_cents,
    windowed.tx_count_7d,
    cast(windowed.amount_sum_7d_cents as bigint) as amount_sum_7d_cents,
    windowed.distinct_merchants_24h,
    windowed.distinct_categories_24h,
    windowed.amount_cents / windowed.avg_amount_prior_7d_cents as amount_to_avg_7d_ratio,
    epoch(windowed.transaction_at) - epoch(windowed.previous_transaction_at) as seconds_since_previous_tx,
    windowed.distance_from_home_km,
    coalesce(chargebacks_known.chargebacks_reported_90d, 0) as card_chargebacks_90d
from windowed
left join chargebacks_known on windowed.transaction_id = chargebacks_known.transaction_id
