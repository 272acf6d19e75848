-- llm-service: when a stored report's publication was confirmed by the broker. A redelivered
-- incident event finds the report stored and published, and publishes nothing; a report stored
-- but not yet published (a crash in between) is published on the redelivery, with the same
-- message id (derived from the incident and event kind), so the notifier can drop a duplicate.
alter table incident_reports add column published_at timestamptz;
