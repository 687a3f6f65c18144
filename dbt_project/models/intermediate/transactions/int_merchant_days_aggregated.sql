{{ config(incremental_strategy='insert_overwrite', partition_by=['activity_date']) }}

{#- Transactions per merchant per UTC day: the 30-day merchant features read these few rows, not every
    transaction of the window. An incremental run rebuilds the last published day and later ones. -#}

select
    merchant_id,
    cast(transaction_at as date) as activity_date,
    count(*) as tx_count
from {{ ref('int_transactions_enriched') }}
{% if is_incremental() %}
where transaction_at >= (select max(activity_date) from {{ this }})
{% endif %}
group by merchant_id, activity_date
