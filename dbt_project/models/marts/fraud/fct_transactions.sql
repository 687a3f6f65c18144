{{ config(incremental_strategy='insert_overwrite', partition_by=['day(transaction_at)']) }}

with enriched as (
    select * from {{ ref('int_transactions_enriched') }}
    {% if is_incremental() %}
    where transaction_at >= {{ first_changed_day(ref('int_transactions_enriched'), 'transaction_at') }}
    {% endif %}
)

select
    transaction_id,
    card_id,
    customer_id,
    merchant_id,
    merchant_category,
    card_type,
    channel,
    currency,
    amount_cents,
    lat,
    lon,
    distance_from_home_km,
    transaction_at,
    cast(transaction_at as date) as transaction_date
from enriched
