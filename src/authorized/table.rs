//! The live set of authorized keys, shared by every event loop: each
//! handshake reads the set in force at that moment; a reload swaps it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::{AuthorizedKey, KeyOptions};
use crate::crypto::ed25519::VerifyingKey;
use crate::proto::handshake::server::KeySet;

/// The authorized keys in force and their options.
#[derive(Debug, Default)]
pub struct AuthorizedTable {
    keys: RwLock<Arc<HashMap<VerifyingKey, KeyOptions>>>,
}

impl AuthorizedTable {
    /// A table holding `keys`.
    pub fn new(keys: Vec<AuthorizedKey>) -> Self {
        let table = AuthorizedTable::default();
        table.replace(keys);
        table
    }

    /// Puts `keys` in force in place of the current set (a key listed
    /// twice keeps its first line's options). Returns how many keys were
    /// in force before.
    pub fn replace(&self, keys: Vec<AuthorizedKey>) -> usize {
        let mut map = HashMap::with_capacity(keys.len());
        for k in keys {
            map.entry(k.key()).or_insert(k.options);
        }
        let new = Arc::new(map);
        let mut guard = self.keys.write().unwrap_or_else(|e| e.into_inner());
        std::mem::replace(&mut *guard, new).len()
    }

    /// The set in force.
    fn current(&self) -> Arc<HashMap<VerifyingKey, KeyOptions>> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// How many keys are in force.
    pub fn len(&self) -> usize {
        self.current().len()
    }

    /// Whether no key is in force.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The keys in force, in no particular order.
    pub fn keys(&self) -> Vec<VerifyingKey> {
        self.current().keys().copied().collect()
    }

    /// The sub-roots (`root=`) of the keys in force, sorted, each once.
    pub fn sub_roots(&self) -> Vec<String> {
        let mut roots: Vec<String> = self
            .current()
            .values()
            .filter_map(|o| o.root.clone())
            .collect();
        roots.sort();
        roots.dedup();
        roots
    }

    /// The options of `key`, if it is in force.
    pub fn options(&self, key: &VerifyingKey) -> Option<KeyOptions> {
        self.current().get(key).cloned()
    }
}

impl KeySet for AuthorizedTable {
    fn allows(&self, key: &VerifyingKey) -> bool {
        self.current().contains_key(key)
    }
}
