//! Explicit dependencies as users write them: a target's `depends_on` (ids, or names in an
//! import document) and a tag's (every target carrying the tag depends on those targets), all
//! within one organisation, and the graph kept free of cycles. What the incident engine does
//! with them is [`crate::incidents::dependencies`].
//!
//! Writes lock the organisation's row, write, then look for a cycle in the whole graph inside
//! the same transaction: two concurrent edits cannot close a cycle between them, and a refused
//! edit leaves nothing behind.

use std::collections::{BTreeMap, HashMap, HashSet};

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// Most dependencies of one target, or of one tag.
pub const MAX_DEPENDS_ON: usize = 20;
/// Most tags with dependencies per organisation.
pub const MAX_DEPENDENCY_TAGS: i64 = 100;

/// Locks the organisation's dependency graph until the transaction ends (the row the quotas
/// lock too).
pub async fn lock(tx: &mut PgConnection, org: Uuid) -> ApiResult<()> {
    sqlx::query_scalar!("select id from organisations where id = $1 for update", org)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    Ok(())
}

/// The dependencies a body names, checked: `ids` (field `{prefix}depends_on[i]`) must be
/// targets of `org`, `names` (field `{prefix}depends_on_names[i]`) names of targets of
/// `known` (an import's, by name) or of `org` (the oldest of that name); at most
/// [`MAX_DEPENDS_ON`] in all, duplicates dropped. `this` (id and name) may not be among them:
/// that is the cycle "A → A".
pub async fn resolve(
    conn: &mut PgConnection,
    org: Uuid,
    prefix: &str,
    ids: &[Uuid],
    names: &[String],
    known: &HashMap<String, Uuid>,
    this: Option<(Uuid, &str)>,
) -> ApiResult<Vec<Uuid>> {
    if ids.len() + names.len() > MAX_DEPENDS_ON {
        let field = if ids.is_empty() {
            "depends_on_names"
        } else {
            "depends_on"
        };
        return Err(ApiError::validation(
            format!("{prefix}{field}"),
            format!("at most {MAX_DEPENDS_ON} dependencies"),
        ));
    }
    let owned: HashSet<Uuid> =
        sqlx::query_scalar!("select id from targets where owner_id = $1 and id = any($2)", org, ids)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect();
    let mut out: Vec<Uuid> = Vec::new();
    let refuse_self = |field: String, id: Uuid| -> ApiResult<()> {
        match this {
            Some((me, name)) if me == id => Err(ApiError::validation(
                field,
                format!("a dependency cycle: {name} → {name} (a target cannot depend on itself)"),
            )),
            _ => Ok(()),
        }
    };
    for (i, id) in ids.iter().enumerate() {
        let field = format!("{prefix}depends_on[{i}]");
        if !owned.contains(id) {
            return Err(ApiError::validation(field, "no target of yours has this id"));
        }
        refuse_self(field, *id)?;
        if !out.contains(id) {
            out.push(*id);
        }
    }
    if names.is_empty() {
        return Ok(out);
    }
    let trimmed: Vec<String> = names.iter().map(|n| n.trim().to_owned()).collect();
    let mut stored: HashMap<String, Uuid> = HashMap::new();
    for r in sqlx::query!(
        "select name, id from targets where owner_id = $1 and name = any($2) order by created_at, id",
        org,
        &trimmed
    )
    .fetch_all(&mut *conn)
    .await?
    {
        stored.entry(r.name).or_insert(r.id);
    }
    for (i, name) in trimmed.iter().enumerate() {
        let field = format!("{prefix}depends_on_names[{i}]");
        let Some(id) = known.get(name).or_else(|| stored.get(name)).copied() else {
            return Err(ApiError::validation(
                field,
                format!("no target of yours is named {name:?}"),
            ));
        };
        refuse_self(field, id)?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

/// Replaces the dependencies of `target` with `depends_on` (checked by [`resolve`]).
pub async fn set_target(tx: &mut PgConnection, target: Uuid, depends_on: &[Uuid]) -> Result<(), sqlx::Error> {
    sqlx::query!("delete from target_dependencies where target_id = $1", target)
        .execute(&mut *tx)
        .await?;
    sqlx::query!(
        "insert into target_dependencies (target_id, depends_on, position)
         select $1, d, n from unnest($2::uuid[]) with ordinality as u(d, n) on conflict do nothing",
        target,
        depends_on
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Replaces the dependencies of `tag` in `org` (none: the tag depends on nothing).
pub async fn set_tag(tx: &mut PgConnection, org: Uuid, tag: &str, depends_on: &[Uuid]) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "delete from tag_dependencies where owner_id = $1 and tag = $2",
        org,
        tag
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "insert into tag_dependencies (owner_id, tag, depends_on, position)
         select $1, $2, d, n from unnest($3::uuid[]) with ordinality as u(d, n) on conflict do nothing",
        org,
        tag,
        depends_on
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// How many tags of `org` have dependencies.
pub async fn tag_count(conn: impl PgExecutor<'_>, org: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"select count(distinct tag) as "n!" from tag_dependencies where owner_id = $1"#,
        org
    )
    .fetch_one(conn)
    .await
}

/// The tags of `org` with dependencies, by tag; each tag's targets in the order given.
pub async fn tags_of(conn: impl PgExecutor<'_>, org: Uuid) -> Result<BTreeMap<String, Vec<Uuid>>, sqlx::Error> {
    let mut out: BTreeMap<String, Vec<Uuid>> = BTreeMap::new();
    for r in sqlx::query!(
        "select tag, depends_on from tag_dependencies where owner_id = $1 order by tag, position, depends_on",
        org
    )
    .fetch_all(conn)
    .await?
    {
        out.entry(r.tag).or_default().push(r.depends_on);
    }
    Ok(out)
}

/// The dependencies of each of `targets` (those with none are absent).
pub async fn of_targets(conn: impl PgExecutor<'_>, targets: &[Uuid]) -> Result<HashMap<Uuid, Vec<Uuid>>, sqlx::Error> {
    let mut out: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for r in sqlx::query!(
        "select target_id, depends_on from target_dependencies where target_id = any($1)
         order by target_id, position, depends_on",
        targets
    )
    .fetch_all(conn)
    .await?
    {
        out.entry(r.target_id).or_default().push(r.depends_on);
    }
    Ok(out)
}

/// The names of the dependencies of each target of `org` (for the export).
pub async fn names_of(conn: impl PgExecutor<'_>, org: Uuid) -> Result<HashMap<Uuid, Vec<String>>, sqlx::Error> {
    let mut out: HashMap<Uuid, Vec<String>> = HashMap::new();
    for r in sqlx::query!(
        "select d.target_id, t.name from target_dependencies d
         join targets t on t.id = d.depends_on join targets s on s.id = d.target_id
         where s.owner_id = $1 order by d.target_id, d.position, d.depends_on",
        org
    )
    .fetch_all(conn)
    .await?
    {
        out.entry(r.target_id).or_default().push(r.name);
    }
    Ok(out)
}

/// One edge of the graph: to a target, directly or through a tag of the source.
#[derive(Debug, Clone)]
struct Edge {
    to: Uuid,
    tag: Option<String>,
}

/// An organisation's dependency graph.
#[derive(Debug, Default)]
pub struct Graph {
    names: HashMap<Uuid, String>,
    edges: HashMap<Uuid, Vec<Edge>>,
}

impl Graph {
    /// The graph of `org` as the transaction sees it.
    pub async fn load(conn: &mut PgConnection, org: Uuid) -> Result<Graph, sqlx::Error> {
        let targets = sqlx::query!(
            "select id, name, tags from targets where owner_id = $1 order by lower(name), id",
            org
        )
        .fetch_all(&mut *conn)
        .await?;
        let direct = sqlx::query!(
            "select d.target_id, d.depends_on from target_dependencies d join targets t on t.id = d.target_id
             where t.owner_id = $1",
            org
        )
        .fetch_all(&mut *conn)
        .await?;
        let by_tag = tags_of(&mut *conn, org).await?;
        let mut g = Graph::default();
        for r in &direct {
            g.edges.entry(r.target_id).or_default().push(Edge {
                to: r.depends_on,
                tag: None,
            });
        }
        for t in targets {
            for tag in &t.tags {
                for to in by_tag.get(tag).into_iter().flatten() {
                    g.edges.entry(t.id).or_default().push(Edge {
                        to: *to,
                        tag: Some(tag.clone()),
                    });
                }
            }
            g.names.insert(t.id, t.name);
        }
        Ok(g)
    }

    /// Adds the edge `from → to` (tests).
    pub fn add(&mut self, from: (Uuid, &str), to: (Uuid, &str), tag: Option<&str>) {
        self.names.insert(from.0, from.1.to_owned());
        self.names.insert(to.0, to.1.to_owned());
        self.edges.entry(from.0).or_default().push(Edge {
            to: to.0,
            tag: tag.map(str::to_owned),
        });
    }

    /// A cycle, looked for from `starts` first, then from every target: its targets in order
    /// (the first again at the end) and the edge into each, or `None`.
    pub fn find_cycle(&self, starts: &[Uuid]) -> Option<Vec<(Uuid, Option<String>)>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Open,
            Done,
        }
        let mut marks: HashMap<Uuid, Mark> = HashMap::new();
        let mut everyone: Vec<Uuid> = self.names.keys().copied().collect();
        everyone.sort_by(|a, b| {
            self.names[a]
                .to_lowercase()
                .cmp(&self.names[b].to_lowercase())
                .then(a.cmp(b))
        });
        for &start in starts.iter().chain(&everyone) {
            if marks.contains_key(&start) {
                continue;
            }
            // The path from `start`: each target, the edge into it, and the next edge to try.
            let mut path: Vec<(Uuid, Option<String>, usize)> = vec![(start, None, 0)];
            marks.insert(start, Mark::Open);
            while let Some((node, _, next)) = path.last().cloned() {
                let edges = self.edges.get(&node).map(Vec::as_slice).unwrap_or_default();
                let Some(edge) = edges.get(next) else {
                    marks.insert(node, Mark::Done);
                    path.pop();
                    continue;
                };
                path.last_mut().expect("a node on the path").2 += 1;
                match marks.get(&edge.to) {
                    Some(Mark::Done) => {}
                    Some(Mark::Open) => {
                        let from = path
                            .iter()
                            .position(|(n, _, _)| *n == edge.to)
                            .expect("open on the path");
                        let mut cycle: Vec<(Uuid, Option<String>)> =
                            path[from..].iter().map(|(n, tag, _)| (*n, tag.clone())).collect();
                        cycle[0].1 = None;
                        cycle.push((edge.to, edge.tag.clone()));
                        return Some(cycle);
                    }
                    None => {
                        marks.insert(edge.to, Mark::Open);
                        path.push((edge.to, edge.tag.clone(), 0));
                    }
                }
            }
        }
        None
    }

    /// A cycle for people: `api → db → api`, and the tags it goes through.
    pub fn describe(&self, cycle: &[(Uuid, Option<String>)]) -> String {
        let names: Vec<&str> = cycle
            .iter()
            .map(|(id, _)| self.names.get(id).map_or("?", String::as_str))
            .collect();
        let mut tags: Vec<&str> = cycle.iter().filter_map(|(_, t)| t.as_deref()).collect();
        tags.dedup();
        let mut text = names.join(" → ");
        if !tags.is_empty() {
            let quoted: Vec<String> = tags.iter().map(|t| format!("“{t}”")).collect();
            text.push_str(&format!(" (through the tag {})", quoted.join(", ")));
        }
        text
    }
}

/// Refuses a graph of `org` with a cycle: 422 naming it (`A → B → A`), on the field
/// `field_of` gives for the cycle's first target. Looks from `starts` first, so the cycle is
/// told from the target just edited.
pub async fn check_acyclic(
    tx: &mut PgConnection,
    org: Uuid,
    starts: &[Uuid],
    field_of: impl Fn(Uuid) -> String,
) -> ApiResult<()> {
    let graph = Graph::load(tx, org).await?;
    match graph.find_cycle(starts) {
        None => Ok(()),
        Some(cycle) => Err(ApiError::validation(
            field_of(cycle[0].0),
            format!("a dependency cycle: {}", graph.describe(&cycle)),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn a_graph_without_cycles_has_none() {
        let mut g = Graph::default();
        g.add((id(1), "web"), (id(2), "api"), None);
        g.add((id(2), "api"), (id(3), "db"), None);
        g.add((id(1), "web"), (id(3), "db"), Some("backend"));
        assert!(g.find_cycle(&[id(1)]).is_none());
        assert!(g.find_cycle(&[]).is_none());
    }

    #[test]
    fn a_cycle_is_named_from_the_target_edited() {
        let mut g = Graph::default();
        g.add((id(1), "A"), (id(2), "B"), None);
        g.add((id(2), "B"), (id(3), "C"), None);
        g.add((id(3), "C"), (id(1), "A"), None);
        let cycle = g.find_cycle(&[id(2)]).unwrap();
        assert_eq!(g.describe(&cycle), "B → C → A → B");
        assert_eq!(g.describe(&g.find_cycle(&[]).unwrap()), "A → B → C → A");
    }

    #[test]
    fn a_cycle_through_a_tag_names_the_tag() {
        let mut g = Graph::default();
        g.add((id(1), "api"), (id(2), "db"), None);
        g.add((id(2), "db"), (id(1), "api"), Some("backend"));
        let cycle = g.find_cycle(&[id(1)]).unwrap();
        assert_eq!(g.describe(&cycle), "api → db → api (through the tag “backend”)");
    }

    #[test]
    fn a_self_loop_is_a_cycle_of_one() {
        let mut g = Graph::default();
        g.add((id(1), "db"), (id(1), "db"), Some("infra"));
        let cycle = g.find_cycle(&[]).unwrap();
        assert_eq!(g.describe(&cycle), "db → db (through the tag “infra”)");
    }

    #[test]
    fn a_long_chain_is_walked_without_recursion() {
        let mut g = Graph::default();
        let n = 50_000u128;
        for i in 0..n {
            g.add((id(i), &format!("t{i}")), (id(i + 1), &format!("t{}", i + 1)), None);
        }
        assert!(g.find_cycle(&[id(0)]).is_none());
        g.add((id(n), "last"), (id(0), "t0"), None);
        assert_eq!(g.find_cycle(&[id(0)]).unwrap().len() as u128, n + 2);
    }
}
