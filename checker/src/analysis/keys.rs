//! The key interner: partition names to [`KeyId`]s, looked up several times per micro-op by every pass.
//!
//! An open-addressing table with a fixed hash (no random seed), so it is deterministic; it is only ever looked up,
//! never iterated, and ids follow the sorted order of the names (as [`Analysis::keys`](super::Analysis::keys)
//! requires), so nothing depends on the table's layout. A `BTreeMap<&str, KeyId>` did the same job at a string
//! comparison per tree level, which made interning the largest part of the analysis on long histories.

use super::KeyId;

/// Partition names to ids, for the lifetime of the history.
#[derive(Debug)]
pub(super) struct KeyTable<'h> {
    /// Slot -> index into `names`, or `EMPTY`; the length is a power of two.
    slots: Vec<u32>,
    /// Distinct names, in the order first seen.
    names: Vec<&'h str>,
    /// Per entry of `names`: its id (its rank among the sorted names), once `finish` has run.
    ids: Vec<KeyId>,
}

const EMPTY: u32 = u32::MAX;

impl<'h> KeyTable<'h> {
    pub(super) fn new() -> KeyTable<'h> {
        KeyTable { slots: vec![EMPTY; 16], names: Vec::new(), ids: Vec::new() }
    }

    /// Adds `name` if it is new; returns its entry (its number in order of first sight, not yet its id).
    pub(super) fn insert(&mut self, name: &'h str) -> u32 {
        match self.find(name) {
            Ok(entry) => entry as u32,
            Err(slot) => {
                assert!(self.names.len() < EMPTY as usize - 1, "too many keys");
                let entry = self.names.len() as u32;
                self.slots[slot] = entry;
                self.names.push(name);
                if self.names.len() * 2 > self.slots.len() {
                    self.grow();
                }
                entry
            }
        }
    }

    /// The id of the entry `insert` returned, once `finish` has run.
    pub(super) fn id_of_entry(&self, entry: u32) -> KeyId {
        self.ids[entry as usize]
    }

    /// Gives ids in sorted order of names; returns the names in id order.
    pub(super) fn finish(&mut self) -> Vec<&'h str> {
        let mut order: Vec<usize> = (0..self.names.len()).collect();
        order.sort_unstable_by_key(|&i| self.names[i]);
        self.ids = vec![0; self.names.len()];
        for (id, &entry) in order.iter().enumerate() {
            self.ids[entry] = id;
        }
        order.iter().map(|&i| self.names[i]).collect()
    }

    /// The id of `name`, once `finish` has run.
    pub(super) fn get(&self, name: &str) -> Option<KeyId> {
        let entry = self.find(name).ok()?;
        self.ids.get(entry).copied()
    }

    /// `Ok(entry)` if `name` is present, else `Err(slot)`: the empty slot where it would go.
    fn find(&self, name: &str) -> Result<usize, usize> {
        let mask = self.slots.len() - 1;
        let mut slot = hash(name.as_bytes()) as usize & mask;
        loop {
            match self.slots[slot] {
                EMPTY => return Err(slot),
                entry if self.names[entry as usize] == name => return Ok(entry as usize),
                _ => slot = (slot + 1) & mask,
            }
        }
    }

    fn grow(&mut self) {
        self.slots = vec![EMPTY; self.slots.len() * 2];
        let mask = self.slots.len() - 1;
        for (entry, name) in self.names.iter().enumerate() {
            let mut slot = hash(name.as_bytes()) as usize & mask;
            while self.slots[slot] != EMPTY {
                slot = (slot + 1) & mask;
            }
            self.slots[slot] = entry as u32;
        }
    }
}

/// FNV-1a: fixed, fast on the short names partitions have, and good enough for linear probing at half load.
fn hash(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_name_order_however_many_keys() {
        let names: Vec<String> = (0..1000).rev().map(|i| format!("topic-{i}")).collect();
        let mut table = KeyTable::new();
        for (i, name) in names.iter().chain(names.iter()).enumerate() {
            assert_eq!(table.insert(name) as usize, i % 1000);
        }
        let sorted = table.finish();
        assert_eq!(sorted.len(), 1000);
        assert!(sorted.windows(2).all(|w| w[0] < w[1]));
        for (id, name) in sorted.iter().enumerate() {
            assert_eq!(table.get(name), Some(id));
        }
        assert_eq!(table.id_of_entry(0), 999, "topic-999 came first and sorts last");
        assert_eq!(table.get("topic-1000"), None);
        assert_eq!(table.get(""), None);
    }
}
