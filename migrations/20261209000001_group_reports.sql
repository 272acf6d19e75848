-- The report of a group incident (cause correlation): the llm-service writes each member's
-- report with the group's facts (shared cause, members) and keeps the newest one on the group,
-- where the dashboard and `GET /api/incident-groups/{id}` show it.
alter table incident_groups
    add column report    jsonb check (report is null or pg_column_size(report) <= 65536),
    add column report_at timestamptz;
