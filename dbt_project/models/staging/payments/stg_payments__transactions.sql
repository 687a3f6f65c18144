{{ config(incremental_strategy='insert_overwrite', partition_by=['day(transaction_at)']) }}

with source as (
    select * from {{ source('payments', 'transactions') }}
    {% if is_incremental() %}
    -- rebuild every day from the earliest one that received or lost a row since the last build
    where transaction_at >= {{ first_changed_day(source('payments', 'transactions'), 'transaction_at') }}
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
