{{ config(incremental_strategy='insert_overwrite', partition_by=['day(feature_timestamp)']) }}

{#- One row per merchant per day with activity: rolling 30-day figures over events up to the end of that
    day, known at the start of the next (feature_timestamp). Chargebacks count on the day they were reported.
    An incremental run rebuilds, from 29 days of daily aggregates, the last published day (chargebacks reported
    since) and every later one, or from the first day whose transactions changed if that is earlier (a late
    row). The window orders days by their number: a RANGE frame over integers is faster than one of intervals
    over dates. -#}

{% set since %}
    {%- if is_incremental() -%}
    least(
        (select max(feature_date) from {{ this }}),
        {{ first_changed_day(ref('int_merchant_days_aggregated'), 'activity_date') }}
    )
    {%- else -%}
    date '0001-01-01'
    {%- endif -%}
{% endset %}

with transactions_daily as (
    select merchant_id, activity_date, tx_count
    from {{ ref('int_merchant_days_aggregated') }}
    where activity_date >= {{ since }} - interval 29 day
),

chargebacks_daily as (
    select merchant_id, cast(reported_at as date) as activity_date, count(*) as chargeback_count
    from {{ ref('fct_chargebacks') }}
    where reported_at >= {{ since }} - interval 29 day
    group by merchant_id, activity_date
),

daily as (
    select
        merchant_id,
        activity_date,
        coalesce(transactions_daily.tx_count, 0) as tx_count,
        coalesce(chargebacks_daily.chargeback_count, 0) as chargeback_count
    from transactions_daily
    full outer join chargebacks_daily using (merchant_id, activity_date)
),

rolling as (
    select
        merchant_id,
        activity_date as feature_date,
        cast(sum(tx_count) over last_30d as bigint) as merchant_tx_count_30d,
        cast(sum(chargeback_count) over last_30d as bigint) as merchant_chargebacks_30d
    from daily
    window last_30d as (
        partition by merchant_id order by activity_date - date '1970-01-01' range between 29 preceding and current row
    )
)

select
    merchant_id,
    cast(feature_date + interval 1 day as timestamptz) as feature_timestamp,
    feature_date,
    merchant_tx_count_30d,
    merchant_chargebacks_30d,
    merchant_chargebacks_30d / nullif(merchant_tx_count_30d, 0) as merchant_chargeback_rate_30d
from rolling
where feature_date >= {{ since }}
