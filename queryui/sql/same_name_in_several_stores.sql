-- Models with the same name in several stores
-- Models present at the end of day `date` (UTC; empty: now) in two or more stores under the same name,
-- compared lower-case without an `owner/` prefix, spaces, hyphens and underscores ("ResNet-50" = "resnet50").
-- A rough cut of `storewatch compare`, which also matches names that share words and weighs papers,
-- repositories and architectures: a shared name is a lead for a person, not proof of the same weights.
-- A date is taken only if it is a real day (the '+0 days' makes SQLite turn 02-30 into 03-01); empty means now.
WITH asked AS (
    SELECT CASE WHEN :date = '' THEN '9999-12-31' WHEN date(:date, '+0 days') = :date THEN :date END AS day
),
present AS (
    SELECT m.store,
           m.model_id,
           -- as `storewatch compare`: the name element when it is text, else the model id
           CASE WHEN json_type(v.elements, '$.name') = 'text' AND json_extract(v.elements, '$.name') != ''
                THEN json_extract(v.elements, '$.name') ELSE m.model_id END AS name
    FROM models AS m
    JOIN model_versions AS v ON v.model_pk = m.id
    JOIN asked
    WHERE substr(v.valid_from, 1, 10) <= asked.day AND (v.valid_to IS NULL OR substr(v.valid_to, 1, 10) > asked.day)
),
keyed AS (
    SELECT *,
           lower(replace(replace(replace(substr(name, instr(name, '/') + 1), ' ', ''), '-', ''), '_', '')) AS same_name
    FROM present
)
SELECT same_name,
       count(DISTINCT store) AS stores,
       group_concat(DISTINCT store) AS in_stores,
       count(*) AS models,
       json_group_array(json_object('store', store, 'model_id', model_id, 'name', name)) AS members
FROM keyed
WHERE same_name != ''
GROUP BY same_name
HAVING count(DISTINCT store) > 1
ORDER BY stores DESC, models DESC, same_name
