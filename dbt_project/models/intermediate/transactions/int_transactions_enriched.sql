{{ config(incremental_strategy='insert_overwrite', partition_by=['day(transaction_at)']) }}

with transactions as (
    select * from {{ ref('stg_payments__transactions') }}
    {% if is_incremental() %}
    where transaction_at >= {{ first_changed_day(ref('stg_payments__transactions'), 'transaction_at') }}
    {% endif %}
),

cards as (
    select * from {{ ref('stg_payments__cards') }}
),

customers as (
    select * from {{ ref('stg_payments__customers') }}
),

merchants as (
    select * from {{ ref('stg_payments__merchants') }}
),

enriched as (
    select
        -- ids
        transactions.transaction_id,
        transactions.card_id,
        cards.customer_id,
        transactions.merchant_id,
        -- attributes
        merchants.merchant_category,
        cards.card_type,
        transactions.channel,
        transactions.currency,
        -- amounts
        transactions.amount_cents,
        -- place
        transactions.lat,
        transactions.lon,
        {{ haversine_km('customers.home_lat', 'customers.home_lon', 'transactions.lat', 'transactions.lon') }}
            as distance_from_home_km,
        -- timestamps
        transactions.transaction_at
    from transactions
    left join cards on transactions.card_id = cards.card_id
    left join customers on cards.customer_id = customers.customer_id
    left join merchants on transactions.merchant_id = merchants.merchant_id
)

select * from enriched
