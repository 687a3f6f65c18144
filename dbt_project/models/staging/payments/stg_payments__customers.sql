with source as (
    select * from {{ source('payments', 'customers') }}
),

renamed as (
    select
        -- ids
        customer_id,
        -- governed: name and email never leave raw in the clear
        {{ pii_token('full_name') }} as full_name_token,
        {{ pii_token('lower(email)') }} as email_token,
        -- attributes
        birth_year,
        home_lat,
        home_lon,
        home_country,
        -- timestamps
        created_at
    from source
    qualify row_number() over (partition by customer_id order by created_at desc) = 1
)

select * from renamed
