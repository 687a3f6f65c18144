{{ config(incremental_strategy='insert_overwrite', partition_by=['day(feature_timestamp)']) }}

{#- One row per customer per day with transactions: rolling 30-day spend and the cards the customer held,
    over events up to the end of that day, known at the start of the next (feature_timestamp). -#}

{% set since %}
    {% if is_incremental() %}(select max(feature_date) from {{ this }}){% else %}date '0001-01-01'{% endif %}
{% endset %}

with transactions_daily as (
    select customer_id, activity_date, tx_count, amount_sum_cents
    from {{ ref('int_customer_days_aggregated') }}
    where activity_date >= {{ since }} - interval 29 day
),

rolling as (
    select
        customer_id,
        activity_date as feature_date,
        cast(activity_date + interval 1 day as timestamptz) as feature_timestamp,
        cast(sum(tx_count) over last_30d as bigint) as customer_tx_count_30d,
        cast(sum(amount_sum_cents) over last_30d as bigint) as customer_amount_sum_30d_cents
    from transactions_daily
    window last_30d as (
        partition by customer_id order by activity_date range between interval 29 day preceding and current row
    )
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
where rolling.feature_date >= {{ since }}
