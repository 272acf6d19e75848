//! Fair share of a pinger's check slots between owners.
//!
//! The consumer holds more deliveries than there are check slots (see [`Slots::in_hand`]),
//! so that jobs waiting for their owner's share do not hold the whole prefetch. One owner
//! (a job's `owner_id`; jobs without one form one bucket) may run at most
//! `share × concurrency` checks at once and hold at most `share × in_hand` deliveries; a
//! delivery beyond that is answered at once as skipped. A job waits first for a slot of its
//! owner's share, then for one of the pinger's slots (both queues are first come, first
//! served), and stops waiting at its deadline or on shutdown.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The pinger's check slots and each owner's share of them. Cheap to clone.
#[derive(Clone)]
pub struct Slots {
    inner: Arc<Inner>,
}

struct Inner {
    /// The pinger's check slots (its concurrency).
    checks: Arc<Semaphore>,
    /// Checks one owner may run at once.
    per_owner_running: usize,
    /// Deliveries one owner may hold (waiting or running).
    per_owner_held: usize,
    /// Owners with something in hand; an entry goes when its owner holds nothing.
    owners: Mutex<HashMap<Option<Uuid>, Owner>>,
}

struct Owner {
    /// Deliveries of this owner in hand.
    held: usize,
    /// This owner's running slots.
    running: Arc<Semaphore>,
}

/// Why a job did not get a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The owner already holds its share of this pinger's deliveries.
    OverShare {
        /// Deliveries the owner may hold.
        limit: usize,
    },
    /// The job's deadline passed while it waited.
    Deadline {
        /// Whether it waited for its owner's share (rather than for a free slot of the pinger).
        for_share: bool,
    },
    /// The pinger is shutting down.
    ShuttingDown,
}

/// A job's hold on a check slot; released on drop.
pub struct Slot {
    _check: OwnedSemaphorePermit,
    _owner: OwnedSemaphorePermit,
    _held: Held,
}

/// Counts a delivery as held by its owner until dropped.
struct Held {
    inner: Arc<Inner>,
    owner: Option<Uuid>,
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut owners = self.inner.owners.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(o) = owners.get_mut(&self.owner) {
            o.held -= 1;
            if o.held == 0 {
                owners.remove(&self.owner);
            }
        }
    }
}

impl Slots {
    /// `concurrency` check slots, of which one owner may take `share` (a fraction in (0, 1]).
    pub fn new(concurrency: usize, share: f64) -> Self {
        let concurrency = concurrency.max(1);
        let share = if share.is_finite() { share.clamp(0.0, 1.0) } else { 1.0 };
        let part = |n: usize| ((n as f64 * share).floor() as usize).clamp(1, n);
        Self {
            inner: Arc::new(Inner {
                checks: Arc::new(Semaphore::new(concurrency)),
                per_owner_running: part(concurrency),
                per_owner_held: part(Self::in_hand_for(concurrency)),
                owners: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Deliveries the consumer should hold for `concurrency` check slots: twice as many, so
    /// that jobs waiting for their owner's share leave room for everyone else's.
    pub fn in_hand_for(concurrency: usize) -> usize {
        concurrency.max(1).saturating_mul(2).min(usize::from(u16::MAX))
    }

    /// Checks one owner may run at once.
    pub fn per_owner_running(&self) -> usize {
        self.inner.per_owner_running
    }

    /// Deliveries one owner may hold.
    pub fn per_owner_held(&self) -> usize {
        self.inner.per_owner_held
    }

    /// Owners with something in hand (bounded by the deliveries in hand).
    pub fn owners_in_hand(&self) -> usize {
        self.inner.owners.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Waits for a check slot for a job of `owner` until `deadline` or `shutdown`;
    /// `on_held_back` is called once when the job must wait for its owner's share.
    pub async fn acquire(
        &self,
        owner: Option<Uuid>,
        deadline: DateTime<Utc>,
        shutdown: &CancellationToken,
        on_held_back: impl FnOnce(),
    ) -> Result<Slot, Refusal> {
        let (held, running) = {
            let mut owners = self.inner.owners.lock().unwrap_or_else(|p| p.into_inner());
            let entry = owners.entry(owner).or_insert_with(|| Owner {
                held: 0,
                running: Arc::new(Semaphore::new(self.inner.per_owner_running)),
            });
            if entry.held >= self.inner.per_owner_held {
                return Err(Refusal::OverShare {
                    limit: self.inner.per_owner_held,
                });
            }
            entry.held += 1;
            let held = Held {
                inner: self.inner.clone(),
                owner,
            };
            (held, entry.running.clone())
        };
        let owner_permit = match running.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                on_held_back();
                wait(running, deadline, shutdown, true).await?
            }
        };
        let check_permit = match self.inner.checks.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => wait(self.inner.checks.clone(), deadline, shutdown, false).await?,
        };
        Ok(Slot {
            _check: check_permit,
            _owner: owner_permit,
            _held: held,
        })
    }
}

/// Waits for a permit of `semaphore` until `deadline` or `shutdown`.
async fn wait(
    semaphore: Arc<Semaphore>,
    deadline: DateTime<Utc>,
    shutdown: &CancellationToken,
    for_share: bool,
) -> Result<OwnedSemaphorePermit, Refusal> {
    let left = (deadline - Utc::now()).to_std().unwrap_or_default();
    tokio::select! {
        p = semaphore.acquire_owned() => Ok(p.expect("the slot semaphores are never closed")),
        _ = tokio::time::sleep(left) => Err(Refusal::Deadline { for_share }),
        _ = shutdown.cancelled() => Err(Refusal::ShuttingDown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn later(s: i64) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::seconds(s)
    }

    #[tokio::test]
    async fn one_owner_runs_at_most_its_share_and_others_are_not_blocked() {
        let slots = Slots::new(8, 0.25);
        let never = CancellationToken::new();
        let a = Some(Uuid::now_v7());
        let b = Some(Uuid::now_v7());
        let _a1 = slots.acquire(a, later(60), &never, || {}).await.unwrap();
        let _a2 = slots.acquire(a, later(60), &never, || {}).await.unwrap();
        let mut held_back = false;
        let third = slots
            .acquire(a, Utc::now() + chrono::Duration::milliseconds(100), &never, || {
                held_back = true
            })
            .await;
        assert_eq!(third.err(), Some(Refusal::Deadline { for_share: true }));
        assert!(held_back);
        let _b1 = slots
            .acquire(b, later(60), &never, || panic!("b is within its share"))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn an_owner_over_its_share_of_deliveries_is_refused_at_once() {
        let slots = Slots::new(4, 0.25);
        assert_eq!((slots.per_owner_running(), slots.per_owner_held()), (1, 2));
        let never = CancellationToken::new();
        let a = Some(Uuid::now_v7());
        let _running = slots.acquire(a, later(60), &never, || {}).await.unwrap();
        let waiting = {
            let (slots, never) = (slots.clone(), never.clone());
            tokio::spawn(async move { slots.acquire(a, later(60), &never, || {}).await.is_ok() })
        };
        while slots.inner.owners.lock().unwrap().get(&a).map(|o| o.held) != Some(2) {
            tokio::task::yield_now().await;
        }
        let third = slots.acquire(a, later(60), &never, || {}).await;
        assert_eq!(third.err(), Some(Refusal::OverShare { limit: 2 }));
        drop(_running);
        assert!(waiting.await.unwrap(), "the waiting job gets the freed slot");
    }

    #[tokio::test]
    async fn waiting_ends_on_shutdown_and_an_owner_with_nothing_in_hand_is_forgotten() {
        let slots = Slots::new(1, 1.0);
        let shutdown = CancellationToken::new();
        let first = slots.acquire(None, later(60), &shutdown, || {}).await.unwrap();
        let waiting = {
            let (slots, shutdown) = (slots.clone(), shutdown.clone());
            tokio::spawn(async move { slots.acquire(None, later(60), &shutdown, || {}).await.err() })
        };
        shutdown.cancel();
        assert_eq!(waiting.await.unwrap(), Some(Refusal::ShuttingDown));
        assert_eq!(slots.owners_in_hand(), 1);
        drop(first);
        assert_eq!(slots.owners_in_hand(), 0);
    }
}
