//! Who may do what in an organisation: the one place every handler asks.
//!
//! A caller works in one organisation at a time (a session's current organisation, a token's
//! own). [`Role`]s are ordered; an [`Action`] needs a least role. Handlers get the organisation
//! to scope their queries with only from [`crate::http::auth::CurrentUser::may`], so a query
//! cannot be scoped without the question being asked.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// A member's role, least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads and acknowledges.
    Viewer,
    /// Also manages targets, status pages, maintenance and badges.
    Editor,
    /// Also manages members, channels, escalation, tokens of the organisation and settings.
    Admin,
    /// Also deletes the organisation and transfers its ownership.
    Owner,
}

impl Role {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    /// From storage; an unknown value is the least role.
    pub fn parse(s: &str) -> Role {
        match s {
            "owner" => Role::Owner,
            "admin" => Role::Admin,
            "editor" => Role::Editor,
            _ => Role::Viewer,
        }
    }
}

/// What a handler is about to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read anything of the organisation (targets, history, incidents, pages, members).
    Read,
    /// Acknowledge an incident or add a note to it.
    Acknowledge,
    /// Create, change or delete targets, status pages, maintenance windows and badges; test.
    Edit,
    /// Manage members, invitations, channels, escalation policies and settings; read the audit
    /// log.
    Manage,
    /// Delete the organisation or transfer its ownership.
    Own,
}

impl Action {
    /// The least role allowed to do it.
    pub fn least_role(self) -> Role {
        match self {
            Action::Read | Action::Acknowledge => Role::Viewer,
            Action::Edit => Role::Editor,
            Action::Manage => Role::Admin,
            Action::Own => Role::Owner,
        }
    }
}

/// Whether `role` may do `action`: `Ok` or a 403 naming the role needed.
pub fn allow(role: Role, action: Action) -> Result<(), ApiError> {
    let need = action.least_role();
    if role >= need {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "your role in this organisation ({}) may not do this; it needs {}",
            role.as_str(),
            need.as_str()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_actions_need_their_least_role() {
        let roles = [Role::Viewer, Role::Editor, Role::Admin, Role::Owner];
        let actions = [
            Action::Read,
            Action::Acknowledge,
            Action::Edit,
            Action::Manage,
            Action::Own,
        ];
        let allowed = |r: Role| actions.iter().filter(|a| allow(r, **a).is_ok()).count();
        assert_eq!(roles.map(allowed), [2, 3, 4, 5]);
        assert!(allow(Role::Viewer, Action::Edit).is_err());
        assert!(allow(Role::Editor, Action::Manage).is_err());
        assert!(allow(Role::Admin, Action::Own).is_err());
        for r in roles {
            assert_eq!(Role::parse(r.as_str()), r);
        }
        assert_eq!(Role::parse("root"), Role::Viewer);
    }
}
