-- API tokens may carry an expiry: past it the token answers 401, as a revoked one does.
alter table api_tokens add column expires_at timestamptz;
