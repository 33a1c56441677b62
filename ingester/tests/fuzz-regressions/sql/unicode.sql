-- expect: accepted
SELECT 'ünïcødé ☃ 𝔘' AS "ₓ"
