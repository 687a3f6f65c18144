{{ config(incremental_strategy='insert_overwrite', partition_by=['activity_date']) }}

{#- Transactions and spend per customer per UTC day: the 30-day customer features read these few rows, not
    every transaction of the window. An incremental run rebuilds the days from the earliest one whose
    transactions changed. -#}

select
    customer_id,
    cast(transaction_at as date) as activity_date,
    count(*) as tx_count,
    cast(sum(amount_cents) as bigint) as amount_sum_cents
from {{ ref('int_transactions_enriched') }}
where customer_id is not null
{% if is_incremental() %}
    and transaction_at >= {{ first_changed_day(ref('int_transactions_enriched'), 'transaction_at') }}
{% endif %}
group by customer_id, activity_date
