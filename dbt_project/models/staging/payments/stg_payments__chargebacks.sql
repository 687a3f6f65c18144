{{ config(incremental_strategy='merge', unique_key='chargeback_id') }}

with source as (
    select * from {{ source('payments', 'chargebacks') }}
    {% if is_incremental() %}
    where reported_at >= (select coalesce(max(reported_at), '-infinity'::timestamptz) from {{ this }})
    {% endif %}
),

renamed as (
    select
        -- ids
        chargeback_id,
        transaction_id,
        -- attributes
        reason_code,
        -- amounts
        amount_cents,
        -- timestamps
        reported_at
    from source
    qualify row_number() over (partition by chargeback_id order by reported_at) = 1
)

select * from renamed
