//! `/api/tag-dependencies`: the dependencies of tags (every target of the organisation carrying
//! the tag depends on the tag's targets). A target's own dependencies are its `depends_on`
//! ([`crate::http::targets`]); both are kept by [`crate::dependencies`].

use axum::routing::get;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::Action;
use crate::dependencies::{self, MAX_DEPENDENCY_TAGS, MAX_DEPENDS_ON};
use crate::error::{ApiError, ApiResult, Json};
use crate::http::auth::Caller;
use crate::http::pagination::page_of;
use crate::state::AppState;

/// Longest tag, in characters (as targets' tags).
const MAX_TAG: usize = 64;

/// The routes of this module.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route(
        "/api/tag-dependencies",
        get(list_tag_dependencies).put(set_tag_dependencies),
    )
}

/// A tag's dependencies: every target carrying `tag` depends on `depends_on`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TagDependency {
    /// The tag (trimmed: 1 to 64 characters, no control characters).
    #[schema(min_length = 1, max_length = 64, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub tag: String,
    /// Ids of targets of your organisation (at most 20); empty: the tag depends on nothing.
    /// While one of them has an incident open, a new incident of a target carrying the tag is
    /// linked to it and not notified (until it recovers, if that target is still down).
    #[schema(max_items = 20)]
    pub depends_on: Vec<Uuid>,
}

page_of!(
    /// The tags with dependencies, by tag (not paginated: at most 100).
    TagDependencyList,
    TagDependency
);

#[utoipa::path(get, path = "/api/tag-dependencies", tag = "targets",
    responses((status = 200, body = TagDependencyList, description = "the tags with dependencies, by tag")))]
async fn list_tag_dependencies(Caller { state, user }: Caller) -> ApiResult<Json<TagDependencyList>> {
    let org = user.may(Action::Read)?;
    let items: Vec<TagDependency> = dependencies::tags_of(&state.pool, org)
        .await?
        .into_iter()
        .map(|(tag, depends_on)| TagDependency { tag, depends_on })
        .collect();
    Ok(Json(TagDependencyList {
        total: items.len() as i64,
        items,
        next_cursor: None,
    }))
}

#[utoipa::path(put, path = "/api/tag-dependencies", tag = "targets", request_body = TagDependency,
    responses((status = 200, body = TagDependency, description = "the tag's dependencies, replaced"),
        (status = 422, description = "`tag` is invalid or would be the 101st with dependencies; `depends_on` has more \
         than 20 or closes a cycle (named in the message: `A → B → A`); `depends_on[i]` is not a target of yours")))]
async fn set_tag_dependencies(
    Caller { state, user }: Caller,
    body: Result<Json<TagDependency>, ApiError>,
) -> ApiResult<Json<TagDependency>> {
    let org = user.may(Action::Edit)?;
    let Json(body) = body?;
    let tag = crate::validate::text("tag", &body.tag, MAX_TAG)?;
    if body.depends_on.len() > MAX_DEPENDS_ON {
        return Err(ApiError::validation(
            "depends_on",
            format!("at most {MAX_DEPENDS_ON} dependencies"),
        ));
    }
    let mut tx = state.pool.begin().await?;
    dependencies::lock(&mut tx, org).await?;
    let depends_on = dependencies::resolve(&mut tx, org, "", &body.depends_on, &[], &Default::default(), None).await?;
    let had = sqlx::query_scalar!(
        r#"select exists (select 1 from tag_dependencies where owner_id = $1 and tag = $2) as "had!""#,
        org,
        &tag
    )
    .fetch_one(&mut *tx)
    .await?;
    if !had && !depends_on.is_empty() && dependencies::tag_count(&mut *tx, org).await? >= MAX_DEPENDENCY_TAGS {
        return Err(ApiError::validation(
            "tag",
            format!("at most {MAX_DEPENDENCY_TAGS} tags may have dependencies"),
        ));
    }
    dependencies::set_tag(&mut tx, org, &tag, &depends_on).await?;
    // A cycle goes through a target carrying the tag: look from those first.
    let carriers: Vec<Uuid> = sqlx::query_scalar!(
        "select id from targets where owner_id = $1 and $2 = any(tags) order by lower(name), id",
        org,
        &tag
    )
    .fetch_all(&mut *tx)
    .await?;
    dependencies::check_acyclic(&mut tx, org, &carriers, |_| "depends_on".to_owned()).await?;
    tx.commit().await?;
    Ok(Json(TagDependency { tag, depends_on }))
}

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list_tag_dependencies, set_tag_dependencies),
    components(schemas(TagDependency, TagDependencyList))
)]
pub struct Doc;
