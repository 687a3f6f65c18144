with source as (
    select * from {{ source('payments', 'cards') }}
),

renamed as (
    select
        -- ids
        card_id,
        customer_id,
        -- governed: the card number never leaves raw in the clear
        {{ pii_token('card_number') }} as card_number_token,
        -- attributes
        card_type,
        -- amounts
        credit_limit_cents,
        -- timestamps
        issued_at
    from source
    qualify row_number() over (partition by card_id order by issued_at desc) = 1
)

select * from renamed
