//! Integration tests of the backend against the real servers.

mod accounts;
mod baselines;
mod channels;
mod channels_kinds;
mod concurrency;
mod edge;
mod escalation;
mod health;
mod heartbeats;
mod helpers;
mod history;
mod incidents;
mod isolation;
mod ledger;
mod migrations;
mod oidc;
mod organisations;
mod quotas;
mod realworld;
mod replica;
mod scheduler;
mod secrets;
mod targets;
mod twofactor;
mod web;
