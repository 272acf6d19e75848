//! The catalogs are complete and their plurals right.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use fluent_syntax::ast::{Entry, Expression, InlineExpression, Pattern, PatternElement};

use super::*;

fn locales() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("locales")
}

/// Every message of a language's catalog, with the variables it uses; parse errors fail.
fn catalog(lang: Language) -> BTreeMap<String, BTreeSet<String>> {
    let mut messages = BTreeMap::new();
    let dir = locales().join(lang.tag());
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(!files.is_empty(), "{dir:?} has no catalog");
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        let resource =
            fluent_syntax::parser::parse(source.as_str()).unwrap_or_else(|(_, errors)| panic!("{file:?}: {errors:?}"));
        for entry in resource.body {
            match entry {
                Entry::Message(m) => {
                    let mut vars = BTreeSet::new();
                    if let Some(value) = &m.value {
                        pattern_vars(value, &mut vars);
                    }
                    let fresh = messages.insert(m.id.name.to_owned(), vars).is_none();
                    assert!(fresh, "{file:?}: {} defined twice", m.id.name);
                }
                Entry::Junk { content } => panic!("{file:?}: junk {content:?}"),
                _ => {}
            }
        }
    }
    messages
}

fn pattern_vars(p: &Pattern<&str>, vars: &mut BTreeSet<String>) {
    for element in &p.elements {
        if let PatternElement::Placeable { expression } = element {
            expression_vars(expression, vars);
        }
    }
}

fn expression_vars(e: &Expression<&str>, vars: &mut BTreeSet<String>) {
    match e {
        Expression::Select { selector, variants } => {
            inline_vars(selector, vars);
            for v in variants {
                pattern_vars(&v.value, vars);
            }
        }
        Expression::Inline(i) => inline_vars(i, vars),
    }
}

fn inline_vars(i: &InlineExpression<&str>, vars: &mut BTreeSet<String>) {
    match i {
        InlineExpression::VariableReference { id } => {
            vars.insert(id.name.to_owned());
        }
        InlineExpression::Placeable { expression } => expression_vars(expression, vars),
        InlineExpression::FunctionReference { arguments, .. } => {
            for a in &arguments.positional {
                inline_vars(a, vars);
            }
            for a in &arguments.named {
                inline_vars(&a.value, vars);
            }
        }
        _ => {}
    }
}

#[test]
fn every_message_exists_in_every_language_with_the_same_variables() {
    let english = catalog(Language::En);
    assert!(
        english.len() > 100,
        "the English catalog looks truncated: {}",
        english.len()
    );
    for lang in Language::ALL {
        let other = catalog(lang);
        let missing: Vec<_> = english.keys().filter(|id| !other.contains_key(*id)).collect();
        let extra: Vec<_> = other.keys().filter(|id| !english.contains_key(*id)).collect();
        assert!(missing.is_empty(), "{lang:?} lacks {missing:?}");
        assert!(extra.is_empty(), "{lang:?} has messages English lacks: {extra:?}");
        for (id, vars) in &english {
            assert_eq!(&other[id], vars, "{id}: variables of {lang:?} differ from English");
        }
    }
}

#[test]
fn every_message_renders_in_every_language() {
    for lang in Language::ALL {
        for (id, vars) in catalog(lang) {
            let id: &'static str = Box::leak(id.into_boxed_str());
            let mut m = Msg::new(id);
            for v in vars {
                m = m.arg(Box::leak(v.into_boxed_str()), 2);
            }
            let text = m.try_render(lang).unwrap_or_else(|e| panic!("{e}"));
            assert!(!text.trim().is_empty(), "{id} renders empty in {lang:?}");
            assert!(!text.contains('\u{2068}'), "{id}: isolation marks are off");
        }
    }
}

#[test]
fn a_missing_variable_is_an_error_not_a_silent_gap() {
    let err = Msg::new("count-days").try_render(Language::Ru).unwrap_err();
    assert_eq!(err.id, "count-days");
    assert!(Msg::new("no-such-message").try_render(Language::En).is_err());
    assert_eq!(Msg::new("no-such-message").render(Language::Ru), "no-such-message");
}

fn say(m: Msg, lang: Language) -> String {
    m.try_render(lang).unwrap()
}

#[test]
fn russian_plurals_follow_cldr() {
    let days: Vec<_> = [1, 2, 5, 11, 21, 22, 25, 111, 0]
        .map(|n| say(super::days(n), Language::Ru))
        .into();
    assert_eq!(
        days,
        [
            "1 день",
            "2 дня",
            "5 дней",
            "11 дней",
            "21 день",
            "22 дня",
            "25 дней",
            "111 дней",
            "0 дней"
        ]
    );
    let hops: Vec<_> = [1, 2, 5, 11, 21, 22, 25]
        .map(|n| say(msg!("count-hops", n), Language::Ru))
        .into();
    assert_eq!(
        hops,
        [
            "1 переход",
            "2 перехода",
            "5 переходов",
            "11 переходов",
            "21 переход",
            "22 перехода",
            "25 переходов"
        ]
    );
    // Fractions take the `other` form.
    assert_eq!(say(msg!("count-days", n = 1.5), Language::Ru), "1.5 дня");
}

#[test]
fn english_plurals_follow_cldr() {
    let days: Vec<_> = [1, 2, 5, 11, 21, 22, 25, 0]
        .map(|n| say(super::days(n), Language::En))
        .into();
    assert_eq!(
        days,
        [
            "1 day", "2 days", "5 days", "11 days", "21 days", "22 days", "25 days", "0 days"
        ]
    );
    let hops: Vec<_> = [1, 2, 21].map(|n| say(msg!("count-hops", n), Language::En)).into();
    assert_eq!(hops, ["1 hop", "2 hops", "21 hops"]);
}

#[test]
fn durations_read_naturally_in_both_languages() {
    let en = |s| say(duration(s), Language::En);
    let ru = |s| say(duration(s), Language::Ru);
    assert_eq!(en(45), "45 s");
    assert_eq!(en(90), "1 min 30 s");
    assert_eq!(en(7_500), "2 h 5 min");
    assert_eq!(en(3_600), "1 h");
    assert_eq!(en(3_725), "1 h 2 min");
    assert_eq!(en(-5), "0 s");
    assert_eq!(ru(90_000), "1 д 1 ч");
    assert_eq!(ru(90), "1 мин 30 с");
    assert_eq!(ru(0), "0 с");
    assert_eq!(ru(86_400 * 3), "3 д");
}

#[test]
fn tags_pick_the_language_and_unknown_ones_fall_back_to_english() {
    assert_eq!(Language::from_tag("ru"), Language::Ru);
    assert_eq!(Language::from_tag(" RU "), Language::Ru);
    assert_eq!(Language::from_tag("ru-RU"), Language::Ru);
    assert_eq!(Language::from_tag("rus"), Language::En);
    assert_eq!(Language::from_tag("de"), Language::En);
    assert_eq!(Language::from_tag(""), Language::En);
    for lang in Language::ALL {
        assert_eq!(Language::from_tag(lang.tag()), lang);
    }
}

#[test]
fn nested_messages_and_lists_render_in_the_outer_language() {
    let m = msg!("duration", parts = Arg::Join(vec![days(2), days(1)], ", "));
    assert_eq!(say(m.clone(), Language::En), "2 days, 1 day");
    assert_eq!(say(m, Language::Ru), "2 дня, 1 день");
}

#[test]
fn source_scans_find_the_ids_a_crate_names() {
    let source =
        r#"let a = msg!("count-days", n); let b = Msg::new("duration"); let c = "kind-x"; let d = "Not an id";"#;
    assert_eq!(ids_in_source(source, &["kind-"]), ["count-days", "duration", "kind-x"]);
    assert!(has_message("count-days"));
    assert!(!has_message("kind-x"));
}
