//! One module per kind of HTTP channel. Each implements [`Channel`](crate::Channel) and, for
//! tests (feature `testing`), describes its service's documented request shape in a `fake`
//! module.

pub mod slack;

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
        other => panic!("no fake for {other}"),
    }
}
