{{ config(incremental_strategy='merge', unique_key='chargeback_id') }}

with chargebacks as (
    select * from {{ ref('stg_payments__chargebacks') }}
    {% if is_incremental() %}
    where reported_at >= (select coalesce(max(reported_at), '-infinity'::timestamptz) from {{ this }})
    {% endif %}
),

transactions as (
    select transaction_id, card_id, merchant_id, transaction_at
    from {{ ref('stg_payments__transactions') }}
    where transaction_id in (select transaction_id from chargebacks)
)

select
    chargebacks.chargeback_id,
    chargebacks.transaction_id,
    transactions.card_id,
    transactions.merchant_id,
    chargebacks.reason_code,
    chargebacks.amount_cents,
    transactions.transaction_at,
    chargebacks.reported_at,
    cast((epoch(chargebacks.reported_at) - epoch(transactions.transaction_at)) // 86400 as bigint) as days_to_report
from chargebacks
left join transactions on chargebacks.transaction_id = transactions.transaction_id
