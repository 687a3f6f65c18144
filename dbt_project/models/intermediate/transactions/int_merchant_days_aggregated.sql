{{ config(incremental_strategy='insert_overwrite', partition_by=['activity_date']) }}

{#- Transactions per merchant per UTC day: the 30-day merchant features read these few rows, not every
    transaction of the window. An incremental run rebuilds the days from the earliest one whose transactions
    changed. -#}

select
    merchant_id,
    cast(transaction_at as date) as activity_date,
    count(*) as tx_count
from {{ ref('int_transactions_enriched') }}
{% if is_incremental() %}
where transaction_at >= {{ first_changed_day(ref('int_transactions_enriched'), 'transaction_at') }}
{% endif %}
group by merchant_id, activity_date
