//! A small in-process TTL cache for the public, unauthenticated answers (status pages and
//! badges): a burst of anonymous requests costs one database round per key and TTL.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Values by key, each reused for `ttl`, at most `capacity` of them.
#[derive(Debug)]
pub struct TtlCache<K, V> {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    /// A cache keeping values for `ttl` (zero: nothing is kept).
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The fresh value of `key`, if there is one.
    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().expect("cache lock");
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    /// Keeps `value` for `key`. When full, expired entries go first; if all are fresh, the
    /// whole cache is emptied (cheap, and a full cache of fresh entries is rare).
    pub fn insert(&self, key: K, value: V) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().expect("cache lock");
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), value));
    }

    /// The value of `key`: the cached one, or `load`'s (kept when it succeeds).
    pub async fn get_or_load<E, F>(&self, key: K, load: F) -> Result<V, E>
    where
        F: Future<Output = Result<V, E>>,
    {
        if let Some(v) = self.get(&key) {
            return Ok(v);
        }
        let v = load.await?;
        self.insert(key, v.clone());
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_expire_and_capacity_is_bounded() {
        let cache = TtlCache::new(Duration::from_millis(20), 2);
        cache.insert(1, "a");
        assert_eq!(cache.get(&1), Some("a"));
        cache.insert(2, "b");
        cache.insert(3, "c");
        assert!(cache.entries.lock().unwrap().len() <= 2);
        assert_eq!(cache.get(&3), Some("c"));
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(cache.get(&3), None);
    }

    #[test]
    fn a_zero_ttl_keeps_nothing() {
        let cache = TtlCache::new(Duration::ZERO, 2);
        cache.insert(1, "a");
        assert_eq!(cache.get(&1), None);
    }
}
