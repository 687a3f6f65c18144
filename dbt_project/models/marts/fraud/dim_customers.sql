with customers as (
    select * from {{ ref('stg_payments__customers') }}
),

cards as (
    select customer_id, count(*) as card_count
    from {{ ref('stg_payments__cards') }}
    group by customer_id
)

select
    customers.customer_id,
    customers.full_name_token,
    customers.email_token,
    customers.birth_year,
    customers.home_lat,
    customers.home_lon,
    customers.home_country,
    coalesce(cards.card_count, 0) as card_count,
    customers.created_at
from customers
left join cards on customers.customer_id = cards.customer_id
