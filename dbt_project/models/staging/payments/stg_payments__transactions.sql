{{ config(incremental_strategy='insert_overwrite', partition_by=['day(transaction_at)']) }}

with source as (
    select * from {{ source('payments', 'transactions') }}
    {% if is_incremental() %}
    -- rebuild the last published day (it may have been partial) and every later one
    where transaction_at >= {{ published_day_start('transaction_at') }}
    {% endif %}
),

renamed as (
    select
        -- ids
        transaction_id,
        card_id,
        merchant_id,
        -- amounts
        amount_cents,
        currency,
        -- attributes
        channel,
        lat,
        lon,
        -- timestamps
        transaction_at
    from source
    qualify row_number() over (partition by transaction_id order by transaction_at, amount_cents) = 1
)

select * from renamed
