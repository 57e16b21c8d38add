-- What changed in a store between two dates
-- The models of a store at the end of day `from` against those at the end of day `to` (UTC; empty: now),
-- as `storewatch diff STORE --from FROM --to TO` lists them: added (absent at from, never seen before),
-- returned (absent at from, seen earlier), removed (present at from, absent at to), changed (present at
-- both with different content; changes gives each element's old and new value, {} when only the store's
-- raw record changed). A model that came and went between the two dates is in no list. Dates that are not
-- YYYY-MM-DD, or a `to` before `from`, match nothing.
-- A date is taken only if it is a real day (the '+0 days' makes SQLite turn 02-30 into 03-01); empty means now.
WITH asked AS (
    SELECT from_day, to_day FROM (
        SELECT CASE WHEN date(:from, '+0 days') = :from THEN :from END AS from_day,
               CASE WHEN :to = '' THEN '9999-12-31' WHEN date(:to, '+0 days') = :to THEN :to END AS to_day
    )
    WHERE to_day >= from_day
),
store_versions AS (
    SELECT v.model_pk, m.model_id, v.valid_from, v.valid_to, v.content_hash, v.elements
    FROM models AS m
    JOIN model_versions AS v ON v.model_pk = m.id
    WHERE m.store = :store
),
-- The day (first 10 characters) decides, whichever way the timestamp text is written.
at_from AS (
    SELECT s.* FROM store_versions AS s JOIN asked
    WHERE substr(s.valid_from, 1, 10) <= asked.from_day AND (s.valid_to IS NULL OR substr(s.valid_to, 1, 10) > asked.from_day)
),
at_to AS (
    SELECT s.* FROM store_versions AS s JOIN asked
    WHERE substr(s.valid_from, 1, 10) <= asked.to_day AND (s.valid_to IS NULL OR substr(s.valid_to, 1, 10) > asked.to_day)
),
differences AS (
    SELECT CASE
               WHEN EXISTS (
                   SELECT 1 FROM model_versions AS earlier JOIN asked
                   WHERE earlier.model_pk = t.model_pk AND substr(earlier.valid_from, 1, 10) <= asked.from_day
               ) THEN 'returned'
               ELSE 'added'
           END AS change,
           t.model_id,
           json_extract(t.elements, '$.name') AS name,
           NULL AS changes
    FROM at_to AS t
    WHERE NOT EXISTS (SELECT 1 FROM at_from AS f WHERE f.model_pk = t.model_pk)
    UNION ALL
    SELECT 'removed', f.model_id, json_extract(f.elements, '$.name'), NULL
    FROM at_from AS f
    WHERE NOT EXISTS (SELECT 1 FROM at_to AS t WHERE t.model_pk = f.model_pk)
    UNION ALL
    -- storewatch_changes() is the comparison `storewatch diff` makes, added to SQLite by `storewatch serve`
    SELECT 'changed', t.model_id, json_extract(t.elements, '$.name'), storewatch_changes(f.elements, t.elements)
    FROM at_from AS f
    JOIN at_to AS t ON t.model_pk = f.model_pk
    WHERE f.content_hash != t.content_hash
)
SELECT change, model_id, name, changes
FROM differences
ORDER BY CASE change WHEN 'added' THEN 1 WHEN 'removed' THEN 2 WHEN 'returned' THEN 3 ELSE 4 END, model_id
