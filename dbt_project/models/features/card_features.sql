{{ config(incremental_strategy='append', partition_by=['day(feature_timestamp)']) }}

{#- One row per card per transaction: the card's state right after that transaction, known at its time.
    Windows look back at most 7 days (90 for chargebacks, from the small fct_chargebacks), so an incremental
    run reads 7 days of history of the cards with new transactions and appends rows for the transactions newer
    than the last published one.
    Windows order by epoch microseconds: RANGE frames over integers are several times faster than intervals
    over timestamptz. -#}
{%- set hour_us = 3600 * 1000 * 1000 -%}
{%- set day_us = 24 * hour_us %}

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
    -- 7 days of history, of the cards that have new transactions only
    where transaction_at >= (select max(feature_timestamp) from {{ this }}) - interval 7 day
        and card_id in (
            select card_id from {{ ref('int_transactions_enriched') }}
            where transaction_at > (select max(feature_timestamp) from {{ this }})
        )
    {% endif %}
),

windowed as (
    select
        transaction_id,
        card_id,
        transaction_at,
        transaction_at_us,
        amount_cents,
        distance_from_home_km,
        count(*) over last_1h as tx_count_1h,
        sum(amount_cents) over last_1h as amount_sum_1h_cents,
        count(*) over last_24h as tx_count_24h,
        sum(amount_cents) over last_24h as amount_sum_24h_cents,
        count(*) over last_7d as tx_count_7d,
        sum(amount_cents) over last_7d as amount_sum_7d_cents,
        count(distinct merchant_id) over last_24h as distinct_merchants_24h,
        count(distinct merchant_category) over last_24h as distinct_categories_24h,
        avg(amount_cents) over before_7d as avg_amount_prior_7d_cents,
        max(transaction_at) over before_7d as previous_transaction_at
    from transactions
    window
        last_1h as (partition by card_id order by transaction_at_us range between {{ hour_us }} preceding and current row),
        last_24h as (partition by card_id order by transaction_at_us range between {{ day_us }} preceding and current row),
        last_7d as (partition by card_id order by transaction_at_us range between {{ 7 * day_us }} preceding and current row),
        before_7d as (
            partition by card_id order by transaction_at_us range between {{ 7 * day_us }} preceding and 1 preceding
        )
),

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
{% if is_incremental() %}
where windowed.transaction_at > (select max(feature_timestamp) from {{ this }})
{% endif %}
