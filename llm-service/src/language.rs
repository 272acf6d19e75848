//! The languages reports are written in, and the owner's choice of one.

use sqlx::PgPool;
use uuid::Uuid;

/// A language reports are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    /// English (the default).
    En,
    /// Russian.
    Ru,
}

impl Language {
    /// Every language the rule writer knows.
    pub const ALL: [Language; 2] = [Language::En, Language::Ru];

    /// The lowercase tag stored in `users.language` and sent in reports.
    pub fn tag(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Ru => "ru",
        }
    }

    /// The language of a tag; unknown tags fall back to English.
    pub fn from_tag(tag: &str) -> Self {
        match tag.trim().to_ascii_lowercase().as_str() {
            "ru" => Language::Ru,
            _ => Language::En,
        }
    }

    /// The language's name in English, for the prompt.
    pub fn english_name(self) -> &'static str {
        match self {
            Language::En => "English",
            Language::Ru => "Russian",
        }
    }
}

/// The owner's language: `users.language` of the incident's owner (from `incidents`, else the
/// target's owner from `targets`, else the owner the event names); English when none is found.
///
/// A database error is returned (the caller retries): a report in the wrong language is worse
/// than a late one.
pub async fn owner_language(
    pool: &PgPool,
    incident_id: Uuid,
    target_id: Option<Uuid>,
    owner_id: Option<Uuid>,
) -> Result<Language, sqlx::Error> {
    let tag: Option<String> = sqlx::query_scalar!(
        "select u.language from users u
         where u.id = coalesce(
             (select owner_id from incidents where id = $1),
             (select owner_id from targets where id = $2),
             $3)",
        incident_id,
        target_id,
        owner_id
    )
    .fetch_optional(pool)
    .await?;
    Ok(tag.as_deref().map(Language::from_tag).unwrap_or(Language::En))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_tags_fall_back_to_english() {
        assert_eq!(Language::from_tag("ru"), Language::Ru);
        assert_eq!(Language::from_tag(" RU "), Language::Ru);
        assert_eq!(Language::from_tag("de"), Language::En);
        assert_eq!(Language::from_tag(""), Language::En);
    }
}
