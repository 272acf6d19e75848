//! The owner's choice of language (the [`Language`] type itself is `common::i18n`'s).

use sqlx::PgPool;
use uuid::Uuid;

pub use common::i18n::Language;

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
        "select o.language from organisations o
         where o.id = coalesce(
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
