//! Organisations: the caller's memberships and the switch between them, the current
//! organisation's settings, members, invitations and ownership.
//!
//! Everything under `/api/organisation` acts on the caller's current organisation and asks
//! [`crate::http::auth::CurrentUser::may`] first; a personal organisation (made at registration,
//! with the user's id by a trigger on `users`) is never shared.

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, patch, post, put};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::{Action, Role};
use crate::error::{ApiError, ApiResult, Json, Path, no_content_or_not_found};
use crate::http::auth::{self, Caller};
use crate::http::pagination::page_of;
use crate::state::AppState;
use crate::validate::normalise_email;

/// Team organisations one user may own.
pub const MAX_OWNED: i64 = 20;
/// Members of one organisation.
pub const MAX_MEMBERS: i64 = 1000;
/// Open invitations of one organisation.
pub const MAX_OPEN_INVITATIONS: i64 = 100;
/// How long an invitation link works.
pub const INVITATION_DAYS: i64 = 7;

/// The organisation routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/organisations", get(list_mine).post(create_org))
        .route("/api/session/organisation", put(switch_org))
        .route(
            "/api/organisation",
            get(get_current).patch(update_current).delete(delete_current),
        )
        .route("/api/organisation/transfer", post(transfer))
        .route("/api/organisation/members", get(list_members))
        .route(
            "/api/organisation/members/{user_id}",
            patch(update_member).delete(remove_member),
        )
        .route("/api/organisation/invitations", get(list_invitations).post(invite))
        .route(
            "/api/organisation/invitations/{id}",
            axum::routing::delete(revoke_invitation),
        )
        .route("/api/invitations/{token}", get(preview_invitation))
        .route("/api/invitations/{token}/accept", post(accept_invitation))
}

/// An organisation the caller belongs to.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Membership {
    /// The organisation's id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// The caller's personal organisation.
    pub personal: bool,
    /// The caller's role there.
    pub role: Role,
    /// The one the caller works in now.
    pub current: bool,
}

page_of!(
    /// The caller's organisations (not paginated).
    MembershipList,
    Membership
);

#[utoipa::path(get, path = "/api/organisations", tag = "organisations",
    responses((status = 200, body = MembershipList, description = "the organisations you belong to, personal first")))]
async fn list_mine(Caller { state, user }: Caller) -> ApiResult<Json<MembershipList>> {
    let rows = sqlx::query!(
        "select o.id, o.name, o.personal, m.role from memberships m join organisations o on o.id = m.org_id \
         where m.user_id = $1 order by o.personal desc, o.name, o.id",
        user.id
    )
    .fetch_all(&state.pool)
    .await?;
    let items: Vec<Membership> = rows
        .into_iter()
        .map(|r| Membership {
            current: r.id == user.current_org(),
            id: r.id,
            name: r.name,
            personal: r.personal,
            role: Role::parse(&r.role),
        })
        .collect();
    Ok(Json(MembershipList {
        total: items.len() as i64,
        items,
        next_cursor: None,
    }))
}

/// A new team organisation.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewOrganisation {
    /// 1 to 100 characters, no control characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: String,
}

fn org_name(name: &str) -> ApiResult<String> {
    crate::validate::text("name", name.trim(), 100).and_then(|n| {
        if n.is_empty() {
            Err(ApiError::validation("name", "a name has 1 to 100 characters"))
        } else {
            Ok(n)
        }
    })
}

#[utoipa::path(post, path = "/api/organisations", tag = "organisations", request_body = NewOrganisation,
    responses((status = 201, body = Membership, description = "created, with you as its owner (not switched to)"),
        (status = 422, description = "`name` is invalid, or you own 20 organisations already (`field` organisations)")))]
async fn create_org(
    Caller { state, user }: Caller,
    Json(body): Json<NewOrganisation>,
) -> ApiResult<(StatusCode, Json<Membership>)> {
    let name = org_name(&body.name)?;
    let mut tx = state.pool.begin().await?;
    // The user's row is locked until commit, so concurrent creates count one after the other.
    sqlx::query_scalar!("select id from users where id = $1 for update", user.id)
        .fetch_one(&mut *tx)
        .await?;
    let owned: i64 = sqlx::query_scalar!(
        r#"select count(*) as "n!" from memberships m join organisations o on o.id = m.org_id
           where m.user_id = $1 and m.role = 'owner' and not o.personal"#,
        user.id
    )
    .fetch_one(&mut *tx)
    .await?;
    crate::quotas::check_count("organisations", "organisations", owned, 1, MAX_OWNED as u32)?;
    let id = Uuid::now_v7();
    sqlx::query!(
        "with o as (insert into organisations (id, name, language) values ($1, $2, $3)) \
         insert into memberships (org_id, user_id, role) values ($1, $4, 'owner')",
        id,
        &name,
        &user.language,
        user.id
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(Membership {
            id,
            name,
            personal: false,
            role: Role::Owner,
            current: false,
        }),
    ))
}

/// Which organisation to work in.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Switch {
    /// One of yours (`GET /api/organisations`).
    pub organisation_id: Uuid,
}

#[utoipa::path(put, path = "/api/session/organisation", tag = "organisations", request_body = Switch,
    responses((status = 200, body = Membership, description = "this session now works in it"),
        (status = 403, description = "an API token belongs to one organisation and cannot switch"),
        (status = 404, description = "not an organisation of yours")))]
async fn switch_org(Caller { state, user }: Caller, Json(body): Json<Switch>) -> ApiResult<Json<Membership>> {
    let Some(session) = user.session_id() else {
        return Err(ApiError::forbidden("an API token belongs to one organisation"));
    };
    let row = sqlx::query!(
        "with s as (update sessions set org_id = $2 where id = $3 \
                    and exists (select 1 from memberships where org_id = $2 and user_id = $1)) \
         select o.id, o.name, o.personal, m.role from memberships m join organisations o on o.id = m.org_id \
         where m.user_id = $1 and m.org_id = $2",
        user.id,
        body.organisation_id,
        session
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(ApiError::not_found)?;
    Ok(Json(Membership {
        id: row.id,
        name: row.name,
        personal: row.personal,
        role: Role::parse(&row.role),
        current: true,
    }))
}

/// The current organisation.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Organisation {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// A user's personal organisation (not shared).
    pub personal: bool,
    /// The language of its reports and alerts: `en` or `ru`.
    pub language: String,
    /// Members must sign in with a second factor to work in it.
    pub require_2fa: bool,
    /// Your role.
    pub role: Role,
    /// Members.
    pub members: i64,
    /// Created.
    pub created_at: DateTime<Utc>,
}

async fn load_org(state: &AppState, org: Uuid, role: Role) -> ApiResult<Organisation> {
    let r = sqlx::query!(
        r#"select id, name, personal, language, require_2fa, created_at,
                  (select count(*) from memberships where org_id = $1) as "members!"
           from organisations where id = $1"#,
        org
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(ApiError::not_found)?;
    Ok(Organisation {
        id: r.id,
        name: r.name,
        personal: r.personal,
        language: r.language,
        require_2fa: r.require_2fa,
        role,
        members: r.members,
        created_at: r.created_at,
    })
}

#[utoipa::path(get, path = "/api/organisation", tag = "organisations",
    responses((status = 200, body = Organisation, description = "the organisation you work in")))]
async fn get_current(Caller { state, user }: Caller) -> ApiResult<Json<Organisation>> {
    let org = user.may(Action::Read)?;
    Ok(Json(load_org(&state, org, user.role).await?))
}

/// Changes to the current organisation (absent fields keep their value).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct OrganisationPatch {
    /// 1 to 100 characters, no control characters.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
    )]
    pub name: Option<String>,
    /// `en` or `ru`.
    #[serde(default)]
    #[schema(pattern = "^(en|ru)$")]
    pub language: Option<String>,
    /// Require two-factor sign-in of every member.
    #[serde(default)]
    pub require_2fa: Option<bool>,
}

#[utoipa::path(patch, path = "/api/organisation", tag = "organisations", request_body = OrganisationPatch,
    responses((status = 200, body = Organisation), (status = 403, description = "only an admin or the owner may"),
        (status = 422, description = "`name` or `language` is invalid")))]
async fn update_current(
    Caller { state, user }: Caller,
    body: Result<Json<OrganisationPatch>, ApiError>,
) -> ApiResult<Json<Organisation>> {
    let org = user.may(Action::Manage)?;
    let Json(body) = body?;
    let name = body.name.as_deref().map(org_name).transpose()?;
    if let Some(l) = &body.language
        && !matches!(l.as_str(), "en" | "ru")
    {
        return Err(ApiError::validation("language", "language must be en or ru"));
    }
    sqlx::query!(
        "update organisations set name = coalesce($2, name), language = coalesce($3, language), \
         require_2fa = coalesce($4, require_2fa), updated_at = now() where id = $1",
        org,
        name,
        body.language,
        body.require_2fa
    )
    .execute(&state.pool)
    .await?;
    Ok(Json(load_org(&state, org, user.role).await?))
}

#[utoipa::path(delete, path = "/api/organisation", tag = "organisations",
    responses((status = 204, description = "deleted with everything it owns; its members' sessions fall back to their personal organisations"),
        (status = 403, description = "only the owner may"),
        (status = 409, description = "a personal organisation goes only with its account (`field` organisation)")))]
async fn delete_current(Caller { state, user }: Caller) -> ApiResult<StatusCode> {
    let org = user.may(Action::Own)?;
    let done = sqlx::query!("delete from organisations where id = $1 and not personal", org)
        .execute(&state.pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError {
            field: Some("organisation".into()),
            ..ApiError::conflict("a personal organisation goes only with its account")
        });
    }
    tracing::info!(org = %org, by = %user.id, "organisation deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Whom to hand the organisation to.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Transfer {
    /// A member; they become the owner and you an admin.
    pub user_id: Uuid,
}

#[utoipa::path(post, path = "/api/organisation/transfer", tag = "organisations", request_body = Transfer,
    responses((status = 200, body = Organisation, description = "transferred; your role is now admin"),
        (status = 403, description = "only the owner may"), (status = 404, description = "no such member"),
        (status = 409, description = "a personal organisation cannot change hands (`field` organisation)")))]
async fn transfer(
    Caller { state, user }: Caller,
    body: Result<Json<Transfer>, ApiError>,
) -> ApiResult<Json<Organisation>> {
    let org = user.may(Action::Own)?;
    let Json(body) = body?;
    let mut tx = state.pool.begin().await?;
    let personal = sqlx::query_scalar!("select personal from organisations where id = $1 for update", org)
        .fetch_one(&mut *tx)
        .await?;
    if personal {
        return Err(ApiError {
            field: Some("organisation".into()),
            ..ApiError::conflict("a personal organisation cannot change hands")
        });
    }
    if body.user_id == user.id {
        return Err(ApiError::validation("user_id", "you own it already"));
    }
    sqlx::query!(
        "update memberships set role = 'admin' where org_id = $1 and user_id = $2",
        org,
        user.id
    )
    .execute(&mut *tx)
    .await?;
    let done = sqlx::query!(
        "update memberships set role = 'owner' where org_id = $1 and user_id = $2",
        org,
        body.user_id
    )
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::not_found());
    }
    tx.commit().await?;
    Ok(Json(load_org(&state, org, Role::Admin).await?))
}

/// A member of the current organisation.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Member {
    /// Their user id.
    pub user_id: Uuid,
    /// Their email.
    pub email: String,
    /// Their role.
    pub role: Role,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
}

page_of!(
    /// The members (not paginated; at most 1,000).
    MemberList,
    Member
);

#[utoipa::path(get, path = "/api/organisation/members", tag = "organisations",
    responses((status = 200, body = MemberList)))]
async fn list_members(Caller { state, user }: Caller) -> ApiResult<Json<MemberList>> {
    let org = user.may(Action::Read)?;
    let rows = sqlx::query!(
        "select m.user_id, u.email, m.role, m.created_at from memberships m join users u on u.id = m.user_id \
         where m.org_id = $1 order by m.created_at, u.email limit $2",
        org,
        MAX_MEMBERS
    )
    .fetch_all(&state.pool)
    .await?;
    let items: Vec<Member> = rows
        .into_iter()
        .map(|r| Member {
            user_id: r.user_id,
            email: r.email,
            role: Role::parse(&r.role),
            joined_at: r.created_at,
        })
        .collect();
    Ok(Json(MemberList {
        total: items.len() as i64,
        items,
        next_cursor: None,
    }))
}

/// A role a member can be given (ownership moves only with `POST /api/organisation/transfer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemberRole {
    /// Manages members, channels and settings.
    Admin,
    /// Manages targets, status pages and maintenance.
    Editor,
    /// Reads and acknowledges.
    Viewer,
}

impl From<MemberRole> for Role {
    fn from(r: MemberRole) -> Role {
        match r {
            MemberRole::Admin => Role::Admin,
            MemberRole::Editor => Role::Editor,
            MemberRole::Viewer => Role::Viewer,
        }
    }
}

/// A member's new role.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct RoleChange {
    /// `admin`, `editor` or `viewer`.
    pub role: MemberRole,
}

/// Refuses a role an inviter or changer may not give: the owner's, or one above their own.
fn grantable(by: Role, role: Role) -> ApiResult<()> {
    if role == Role::Owner {
        return Err(ApiError::validation(
            "role",
            "ownership moves only by a transfer (POST /api/organisation/transfer)",
        ));
    }
    if role > by {
        return Err(ApiError::validation(
            "role",
            format!("you may give at most your own role ({})", by.as_str()),
        ));
    }
    Ok(())
}

#[utoipa::path(patch, path = "/api/organisation/members/{user_id}", tag = "organisations",
    params(("user_id" = Uuid, Path, description = "the member's user id")), request_body = RoleChange,
    responses((status = 200, body = Member), (status = 403, description = "only an admin or the owner may"),
        (status = 404, description = "no such member"),
        (status = 409, description = "the member is the owner (`field` user_id): ownership moves by a transfer"),
        (status = 422, description = "`role` is above yours")))]
async fn update_member(
    Caller { state, user }: Caller,
    Path(member): Path<Uuid>,
    body: Result<Json<RoleChange>, ApiError>,
) -> ApiResult<Json<Member>> {
    let org = user.may(Action::Manage)?;
    let Json(body) = body?;
    let role = Role::from(body.role);
    grantable(user.role, role)?;
    let row = sqlx::query!(
        "select m.role, u.email, m.created_at from memberships m join users u on u.id = m.user_id \
         where m.org_id = $1 and m.user_id = $2 for update of m",
        org,
        member
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(ApiError::not_found)?;
    if Role::parse(&row.role) == Role::Owner {
        return Err(ApiError {
            field: Some("user_id".into()),
            ..ApiError::conflict("the owner's role changes only by a transfer")
        });
    }
    sqlx::query!(
        "update memberships set role = $3 where org_id = $1 and user_id = $2 and role <> 'owner'",
        org,
        member,
        role.as_str()
    )
    .execute(&state.pool)
    .await?;
    Ok(Json(Member {
        user_id: member,
        email: row.email,
        role,
        joined_at: row.created_at,
    }))
}

#[utoipa::path(delete, path = "/api/organisation/members/{user_id}", tag = "organisations",
    params(("user_id" = Uuid, Path, description = "the member's user id (yours to leave)")),
    responses((status = 204, description = "removed: their sessions and tokens lose the organisation on their next request"),
        (status = 403, description = "only an admin or the owner may remove someone else"),
        (status = 404, description = "no such member"),
        (status = 409, description = "the owner cannot be removed, nor leave (`field` user_id)")))]
async fn remove_member(Caller { state, user }: Caller, Path(member): Path<Uuid>) -> ApiResult<StatusCode> {
    // Anyone may leave; removing someone else is an admin's.
    let org = if member == user.id {
        user.may(Action::Read)?
    } else {
        user.may(Action::Manage)?
    };
    let mut tx = state.pool.begin().await?;
    let role: Option<String> = sqlx::query_scalar!(
        "select role from memberships where org_id = $1 and user_id = $2 for update",
        org,
        member
    )
    .fetch_optional(&mut *tx)
    .await?;
    match role.as_deref().map(Role::parse) {
        None => return Err(ApiError::not_found()),
        Some(Role::Owner) => {
            return Err(ApiError {
                field: Some("user_id".into()),
                ..ApiError::conflict("the owner cannot be removed; transfer the ownership first")
            });
        }
        Some(_) => {}
    }
    sqlx::query!(
        "delete from memberships where org_id = $1 and user_id = $2",
        org,
        member
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "update api_tokens set revoked_at = now() where owner_id = $1 and user_id = $2 and revoked_at is null",
        org,
        member
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An invitation as listed (never its link, which is shown once).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Invitation {
    /// Id.
    pub id: Uuid,
    /// Whom it is for: only an account with this email may accept it.
    pub email: String,
    /// The role it gives.
    pub role: Role,
    /// Made.
    pub created_at: DateTime<Utc>,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

page_of!(
    /// Open invitations (not paginated; at most 100).
    InvitationList,
    Invitation
);

#[utoipa::path(get, path = "/api/organisation/invitations", tag = "organisations",
    responses((status = 200, body = InvitationList, description = "open invitations (not accepted, revoked or expired)"),
        (status = 403, description = "only an admin or the owner may")))]
async fn list_invitations(Caller { state, user }: Caller) -> ApiResult<Json<InvitationList>> {
    let org = user.may(Action::Manage)?;
    let rows = sqlx::query!(
        "select id, email, role, created_at, expires_at from invitations \
         where org_id = $1 and accepted_at is null and revoked_at is null and expires_at > now() \
         order by created_at desc",
        org
    )
    .fetch_all(&state.pool)
    .await?;
    let items: Vec<Invitation> = rows
        .into_iter()
        .map(|r| Invitation {
            id: r.id,
            email: r.email,
            role: Role::parse(&r.role),
            created_at: r.created_at,
            expires_at: r.expires_at,
        })
        .collect();
    Ok(Json(InvitationList {
        total: items.len() as i64,
        items,
        next_cursor: None,
    }))
}

/// A new invitation.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewInvitation {
    /// The invitee's email (only an account with it may accept).
    #[schema(
        min_length = 3,
        max_length = 254,
        pattern = r"^[^@\s\x00-\x1f\x7f-\x9f]+@[^@\s\x00-\x1f\x7f-\x9f.][^@\s\x00-\x1f\x7f-\x9f]*\.[^@\s\x00-\x1f\x7f-\x9f]*[^@\s\x00-\x1f\x7f-\x9f.]$"
    )]
    pub email: String,
    /// `admin`, `editor` or `viewer`; at most yours.
    pub role: MemberRole,
}

/// A fresh invitation: the only time its link is shown.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedInvitation {
    /// The invitation.
    #[serde(flatten)]
    pub invitation: Invitation,
    /// The single-use link to send: `{public_url}/invite/{token}`.
    pub link: String,
    /// The token in the link.
    pub token: String,
}

#[utoipa::path(post, path = "/api/organisation/invitations", tag = "organisations", request_body = NewInvitation,
    responses((status = 201, body = CreatedInvitation, description = "the link, shown once; valid 7 days, single use"),
        (status = 403, description = "only an admin or the owner may"),
        (status = 409, description = "they are a member already (`field` email), or the organisation is personal (`field` organisation)"),
        (status = 422, description = "`email` or `role` is invalid, or 100 invitations are open (`field` invitations)")))]
async fn invite(
    Caller { state, user }: Caller,
    body: Result<Json<NewInvitation>, ApiError>,
) -> ApiResult<(StatusCode, Json<CreatedInvitation>)> {
    let org = user.may(Action::Manage)?;
    let Json(body) = body?;
    let email = normalise_email(&body.email)?;
    let role = Role::from(body.role);
    grantable(user.role, role)?;
    let mut tx = state.pool.begin().await?;
    let personal = sqlx::query_scalar!("select personal from organisations where id = $1 for update", org)
        .fetch_one(&mut *tx)
        .await?;
    if personal {
        return Err(ApiError {
            field: Some("organisation".into()),
            ..ApiError::conflict("a personal organisation is not shared: create a team organisation and invite there")
        });
    }
    let member: bool = sqlx::query_scalar!(
        r#"select exists (select 1 from memberships m join users u on u.id = m.user_id
                          where m.org_id = $1 and u.email = $2) as "e!""#,
        org,
        &email
    )
    .fetch_one(&mut *tx)
    .await?;
    if member {
        return Err(ApiError {
            field: Some("email".into()),
            ..ApiError::conflict("they are a member already")
        });
    }
    let open: i64 = sqlx::query_scalar!(
        r#"select count(*) as "n!" from invitations
           where org_id = $1 and accepted_at is null and revoked_at is null and expires_at > now()"#,
        org
    )
    .fetch_one(&mut *tx)
    .await?;
    crate::quotas::check_count("invitations", "open invitations", open, 1, MAX_OPEN_INVITATIONS as u32)?;
    let token = auth::new_secret();
    let id = Uuid::now_v7();
    let row = sqlx::query!(
        "insert into invitations (id, org_id, email, role, token_hash, invited_by, expires_at) \
         values ($1, $2, $3, $4, $5, $6, now() + make_interval(days => $7)) returning created_at, expires_at",
        id,
        org,
        &email,
        role.as_str(),
        auth::hash_secret(&token),
        user.id,
        INVITATION_DAYS as i32
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut link = state.config.api.public_url.clone();
    link.set_path(&format!("/invite/{token}"));
    Ok((
        StatusCode::CREATED,
        Json(CreatedInvitation {
            invitation: Invitation {
                id,
                email,
                role,
                created_at: row.created_at,
                expires_at: row.expires_at,
            },
            link: link.to_string(),
            token,
        }),
    ))
}

#[utoipa::path(delete, path = "/api/organisation/invitations/{id}", tag = "organisations",
    params(("id" = Uuid, Path, description = "the invitation's id")),
    responses((status = 204, description = "its link stops working"), (status = 403, description = "only an admin or the owner may"),
        (status = 404, description = "no such open invitation")))]
async fn revoke_invitation(Caller { state, user }: Caller, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    let org = user.may(Action::Manage)?;
    no_content_or_not_found(
        sqlx::query!(
            "update invitations set revoked_at = now() \
             where id = $1 and org_id = $2 and accepted_at is null and revoked_at is null",
            id,
            org
        )
        .execute(&state.pool)
        .await?,
    )
}

/// What an invitation offers, shown before it is accepted.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InvitationPreview {
    /// The organisation's name.
    pub organisation: String,
    /// The role it gives.
    pub role: Role,
    /// Whom it is for.
    pub email: String,
    /// Who invited (their email), if they still have an account.
    pub invited_by: Option<String>,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

fn check_token(token: &str) -> ApiResult<()> {
    if token.is_empty() || token.len() > 64 {
        return Err(ApiError::not_found());
    }
    Ok(())
}

#[utoipa::path(get, path = "/api/invitations/{token}", tag = "organisations",
    params(("token" = String, Path, description = "the token of the invitation link")),
    responses((status = 200, body = InvitationPreview), (status = 404, description = "no such open invitation (unknown, used or revoked)"),
        (status = 410, description = "the link has expired (links work for 7 days)")))]
async fn preview_invitation(
    Caller { state, .. }: Caller,
    Path(token): Path<String>,
) -> ApiResult<Json<InvitationPreview>> {
    check_token(&token)?;
    let r = sqlx::query!(
        "select o.name, i.role, i.email, i.expires_at, u.email as \"invited_by?\" from invitations i \
         join organisations o on o.id = i.org_id left join users u on u.id = i.invited_by \
         where i.token_hash = $1 and i.accepted_at is null and i.revoked_at is null",
        auth::hash_secret(&token)
    )
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(ApiError::not_found)?;
    if r.expires_at <= Utc::now() {
        return Err(ApiError::gone("this invitation has expired"));
    }
    Ok(Json(InvitationPreview {
        organisation: r.name,
        role: Role::parse(&r.role),
        email: r.email,
        invited_by: r.invited_by,
        expires_at: r.expires_at,
    }))
}

#[utoipa::path(post, path = "/api/invitations/{token}/accept", tag = "organisations",
    params(("token" = String, Path, description = "the token of the invitation link")),
    responses((status = 200, body = Membership, description = "you are a member; a session now works in the organisation"),
        (status = 403, description = "the invitation is for another email address"),
        (status = 404, description = "no such open invitation (unknown, used or revoked)"),
        (status = 409, description = "you are a member already"),
        (status = 410, description = "the link has expired")))]
async fn accept_invitation(Caller { state, user }: Caller, Path(token): Path<String>) -> ApiResult<Json<Membership>> {
    check_token(&token)?;
    let mut tx = state.pool.begin().await?;
    let inv = sqlx::query!(
        "select i.id, i.org_id, i.email, i.role, i.expires_at, o.name from invitations i \
         join organisations o on o.id = i.org_id \
         where i.token_hash = $1 and i.accepted_at is null and i.revoked_at is null for update of i",
        auth::hash_secret(&token)
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(ApiError::not_found)?;
    if inv.expires_at <= Utc::now() {
        return Err(ApiError::gone("this invitation has expired"));
    }
    if inv.email != user.email {
        return Err(ApiError::forbidden(
            "this invitation is for another email address; sign in with that account",
        ));
    }
    let joined = sqlx::query!(
        "insert into memberships (org_id, user_id, role) values ($1, $2, $3) on conflict do nothing",
        inv.org_id,
        user.id,
        &inv.role
    )
    .execute(&mut *tx)
    .await?;
    if joined.rows_affected() == 0 {
        return Err(ApiError::conflict("you are a member already"));
    }
    sqlx::query!(
        "update invitations set accepted_at = now(), accepted_by = $2 where id = $1",
        inv.id,
        user.id
    )
    .execute(&mut *tx)
    .await?;
    if let Some(session) = user.session_id() {
        sqlx::query!("update sessions set org_id = $2 where id = $1", session, inv.org_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(Json(Membership {
        id: inv.org_id,
        name: inv.name,
        personal: false,
        role: Role::parse(&inv.role),
        current: user.session_id().is_some(),
    }))
}

/// The OpenAPI description of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        list_mine,
        create_org,
        switch_org,
        get_current,
        update_current,
        delete_current,
        transfer,
        list_members,
        update_member,
        remove_member,
        list_invitations,
        invite,
        revoke_invitation,
        preview_invitation,
        accept_invitation
    ),
    components(schemas(
        Membership,
        MembershipList,
        NewOrganisation,
        Switch,
        Organisation,
        OrganisationPatch,
        Transfer,
        Member,
        MemberList,
        RoleChange,
        MemberRole,
        Invitation,
        InvitationList,
        NewInvitation,
        CreatedInvitation,
        InvitationPreview,
        Role
    ))
)]
pub struct Doc;
