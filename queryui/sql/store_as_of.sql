-- A store as of a date
-- Every model of a store with its information elements, as `storewatch models STORE --as-of DATE` lists
-- them: the version of each model valid at the end of that day (UTC). Leave date empty for now; a date
-- that is not YYYY-MM-DD matches nothing. elements is the whole record (JSON); name to license are five
-- of its keys.
-- A date is taken only if it is a real day (the '+0 days' makes SQLite turn 02-30 into 03-01); empty means now.
WITH asked AS (
    SELECT CASE WHEN :date = '' THEN '9999-12-31' WHEN date(:date, '+0 days') = :date THEN :date END AS day
)
SELECT m.model_id,
       json_extract(v.elements, '$.name') AS name,
       json_extract(v.elements, '$.provider') AS provider,
       json_extract(v.elements, '$.version') AS version,
       json_extract(v.elements, '$.task') AS task,
       json_extract(v.elements, '$.license') AS license,
       v.elements,
       v.valid_from AS since,
       v.change AS began
FROM models AS m
JOIN model_versions AS v ON v.model_pk = m.id
JOIN asked
-- Comparing the first 10 characters (the day) is exact for "valid at the end of that day", whichever way
-- the timestamp text is written ('YYYY-MM-DD HH:MM:SS.ffffff' or 'YYYY-MM-DDTHH:MM:SS.ffffffZ').
WHERE m.store = :store
  AND substr(v.valid_from, 1, 10) <= asked.day
  AND (v.valid_to IS NULL OR substr(v.valid_to, 1, 10) > asked.day)
ORDER BY m.model_id
