//! Fault points: places where a service can be made to exit abruptly, as a crash would, so
//! that tests prove a step can be re-run (archiver) or that a crash loses nothing (notifier).
//! Each service names its points in a `clap::ValueEnum` read from its `..._FAULT` variable;
//! unset in production.

/// The exit status of a process stopped at a fault point.
pub const FAULT_EXIT_CODE: i32 = 86;

/// A fault point's name, as the service's fault variable spells it (clap's value name).
pub fn name<P: clap::ValueEnum>(point: &P) -> String {
    point
        .to_possible_value()
        .map(|value| value.get_name().to_owned())
        .unwrap_or_default()
}

/// Exits the process at once (no destructors, no flushing, no acks) when `point` is the
/// `configured` one; `service` names the process in the message.
pub fn hit<P: clap::ValueEnum + PartialEq>(service: &str, configured: Option<P>, point: P) {
    if configured.as_ref() == Some(&point) {
        eprintln!("{service}: fault point {} reached; exiting", name(&point));
        std::process::exit(FAULT_EXIT_CODE);
    }
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
    #[value(rename_all = "snake_case")]
    enum Point {
        AfterCopy,
        BeforeDrop,
    }

    #[test]
    fn names_round_trip_through_the_environment_spelling() {
        assert_eq!(name(&Point::AfterCopy), "after_copy");
        for point in Point::value_variants() {
            assert_eq!(Point::from_str(&name(point), false), Ok(*point));
        }
    }

    #[test]
    fn an_unconfigured_fault_point_does_nothing() {
        hit("test", None, Point::AfterCopy);
        hit("test", Some(Point::BeforeDrop), Point::AfterCopy);
    }
}
