-- hookledger-server, migration 0002 (PostgreSQL). Same numbering as the SQLite file.
-- `rule`: the policy rule code of a `policy-refusal` finding, so an alert rule can select
-- refusals by code without parsing the detail.
-- `resolved_ns`: when a later batch closed the finding (a gap filled by late records or excused
-- by a signed prune that arrived later); the finding stays, as history.
ALTER TABLE findings ADD COLUMN rule TEXT, ADD COLUMN resolved_ns BIGINT;
