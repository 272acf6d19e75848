//! One module per kind of HTTP channel. Each implements [`Channel`](crate::Channel) and, for
//! tests (feature `testing`), describes its service's documented request shape in a `fake`
//! module.

mod api;
pub mod discord;
pub mod google_chat;
pub mod gotify;
pub mod matrix;
pub mod ntfy;
pub mod opsgenie;
pub mod pagerduty;
pub mod pushover;
mod shared;
pub mod slack;
pub mod teams;
pub mod webhook;

/// The fake shape of `kind`'s service.
#[cfg(feature = "testing")]
pub fn fake_shape(kind: crate::Kind) -> crate::testing::Shape {
    use crate::Kind;
    use crate::testing::Shape;
    match kind {
        Kind::Slack => Shape {
            check: slack::fake::check_slack,
            answer: slack::fake::answer,
            sample: slack::fake::sample,
        },
        Kind::Mattermost => Shape {
            check: slack::fake::check_mattermost,
            answer: slack::fake::answer,
            sample: slack::fake::sample,
        },
        Kind::Webhook => Shape {
            check: webhook::fake::check,
            answer: webhook::fake::answer,
            sample: webhook::fake::sample,
        },
        Kind::Discord => Shape {
            check: discord::fake::check,
            answer: discord::fake::answer,
            sample: discord::fake::sample,
        },
        Kind::Teams => Shape {
            check: teams::fake::check,
            answer: teams::fake::answer,
            sample: teams::fake::sample,
        },
        Kind::GoogleChat => Shape {
            check: google_chat::fake::check,
            answer: google_chat::fake::answer,
            sample: google_chat::fake::sample,
        },
        Kind::Ntfy => Shape {
            check: ntfy::fake::check,
            answer: ntfy::fake::answer,
            sample: ntfy::fake::sample,
        },
        Kind::Gotify => Shape {
            check: gotify::fake::check,
            answer: gotify::fake::answer,
            sample: gotify::fake::sample,
        },
        Kind::Pushover => Shape {
            check: pushover::fake::check,
            answer: pushover::fake::answer,
            sample: pushover::fake::sample,
        },
        Kind::Pagerduty => Shape {
            check: pagerduty::fake::check,
            answer: pagerduty::fake::answer,
            sample: pagerduty::fake::sample,
        },
        Kind::Opsgenie => Shape {
            check: opsgenie::fake::check,
            answer: opsgenie::fake::answer,
            sample: opsgenie::fake::sample,
        },
        Kind::Matrix => Shape {
            check: matrix::fake::check,
            answer: matrix::fake::answer,
            sample: matrix::fake::sample,
        },
        other => panic!("no fake for {other}"),
    }
}
