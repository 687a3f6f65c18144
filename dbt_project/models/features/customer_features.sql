{{ config(incremental_strategy='insert_overwrite', partition_by=['day(feature_timestamp)']) }}

{#- One row per customer per day with transactions: rolling 30-day spend and the cards the customer held,
    over events up to the end of that day, known at the start of the next (feature_timestamp).
    The 30-day sums are written once; how they are evaluated depends on the build:
    - full build: a window over each customer's days (ordered by day number: RANGE frames over integers are
      several times faster than intervals over dates);
    - incremental build (the days from the earliest one whose aggregates changed are rebuilt): each of those
      days is joined with the customer's days of the 29 before it. A window would evaluate every day of those
      30 again, that is every row of a young table. -#}

{% set since %}
    {% if is_incremental() %}{{ first_changed_day(ref('int_customer_days_aggregated'), 'activity_date') }}{% else %}date '0001-01-01'{% endif %}
{% endset %}
{%- if is_incremental() -%}
    {%- set current, row, frame = 'day.', 'history.', '' -%}
{%- else -%}
    {%- set current, row, frame = '', '', 'over last_30d' -%}
{%- endif %}

with transactions_daily as (
    select customer_id, activity_date, activity_date - date '1970-01-01' as day_number, tx_count, amount_sum_cents
    from {{ ref('int_customer_days_aggregated') }}
    where activity_date >= {{ since }} - interval 29 day
),

sums as (
    select
        {{ current }}customer_id,
        {{ current }}activity_date as feature_date,
        cast(sum({{ row }}tx_count) {{ frame }} as bigint) as customer_tx_count_30d,
        cast(sum({{ row }}amount_sum_cents) {{ frame }} as bigint) as customer_amount_sum_30d_cents
    {% if is_incremental() %}
    from transactions_daily as day
    inner join transactions_daily as history
        on history.customer_id = day.customer_id
        and history.day_number between day.day_number - 29 and day.day_number
    where day.activity_date >= {{ since }}
    group by all
    {% else %}
    from transactions_daily
    window last_30d as (partition by customer_id order by day_number range between 29 preceding and current row)
    {% endif %}
),

-- the time a day's sums become known, computed per result row (in the group by above, every joined row would)
rolling as (
    select *, cast(feature_date + interval 1 day as timestamptz) as feature_timestamp
    from sums
),

cards_held as (
    select rolling.customer_id, rolling.feature_date, count(cards.card_id) as customer_cards_held
    from rolling
    left join {{ ref('stg_payments__cards') }} as cards
        on cards.customer_id = rolling.customer_id and cards.issued_at < rolling.feature_timestamp
    group by rolling.customer_id, rolling.feature_date
)

select
    rolling.customer_id,
    rolling.feature_timestamp,
    rolling.feature_date,
    rolling.customer_tx_count_30d,
    rolling.customer_amount_sum_30d_cents,
    rolling.customer_amount_sum_30d_cents / rolling.customer_tx_count_30d as customer_avg_amount_30d_cents,
    cards_held.customer_cards_held,
    cast((epoch(rolling.feature_timestamp) - epoch(customers.created_at)) // 86400 as bigint) as customer_account_age_days
from rolling
inner join cards_held
    on rolling.customer_id = cards_held.customer_id and rolling.feature_date = cards_held.feature_date
left join {{ ref('stg_payments__customers') }} as customers on rolling.customer_id = customers.customer_id
