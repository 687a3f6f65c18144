select
    card_id,
    customer_id,
    card_number_token,
    card_type,
    credit_limit_cents,
    issued_at
from {{ ref('stg_payments__cards') }}
