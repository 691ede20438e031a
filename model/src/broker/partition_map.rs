//! A map keyed by partition, held in a vector indexed by the partition's number.
//!
//! Partition ids are dense (the scenario's key list, then the internal partitions), so a lookup is an index
//! instead of a B-tree search. The broker looks its replicas up several times per event (the parked-fetch
//! check alone once per parked fetch after every event), which made those searches one of a run's largest
//! costs. Iteration is in partition order, as a `BTreeMap`'s, so nothing that walks the map changes order.
//!
//! The map also remembers which partitions it lent out for change since it was last told to forget
//! ([`PartitionMap::is_changed`]): the leader's fetch purgatory re-reads only those partitions after an event,
//! instead of every parked fetch's partition after every event.

use std::ops::Index;

use crate::protocol::PartitionId;

/// A map from [`PartitionId`] to `T`, in partition order.
#[derive(Clone, Debug)]
pub struct PartitionMap<T> {
    // The key is kept beside the value so iteration can lend `&PartitionId`, as a `BTreeMap` does.
    slots: Vec<Option<(PartitionId, T)>>,
    len: usize,
    /// By partition index: lent out for change (or inserted, removed) since the last `forget_changes`.
    changed: Vec<bool>,
    /// How many entries of `changed` are set, so an unchanged map answers without a scan.
    changed_count: usize,
}

impl<T> Default for PartitionMap<T> {
    fn default() -> Self {
        PartitionMap { slots: Vec::new(), len: 0, changed: Vec::new(), changed_count: 0 }
    }
}

/// Two maps are equal when they hold the same entries; what changed since when is bookkeeping, not content.
impl<T: PartialEq> PartialEq for PartitionMap<T> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl<T: Eq> Eq for PartitionMap<T> {}

impl<T> PartitionMap<T> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `partition`, if present.
    #[inline]
    pub fn get(&self, partition: &PartitionId) -> Option<&T> {
        self.slots.get(partition.index())?.as_ref().map(|(_, value)| value)
    }

    /// The value of `partition` to change, if present; marks it changed.
    ///
    /// Inlined by request: the compiler's own choice flips with unrelated changes to its callers, and an
    /// out-of-line call costs a follower fetch more than the lookup itself (several per partition served).
    #[inline]
    pub fn get_mut(&mut self, partition: &PartitionId) -> Option<&mut T> {
        let index = partition.index();
        if self.slots.get(index)?.is_none() {
            return None;
        }
        self.mark_changed(index);
        self.slots[index].as_mut().map(|(_, value)| value)
    }

    /// The value of `partition` to change, if present, without marking it changed: only for a change that
    /// cannot move what a parked fetch waits on (the leadership and the log end), so that it does not wake
    /// the fetch purgatory's scan. Its callers say why their change is one.
    #[inline]
    pub fn get_mut_unseen(&mut self, partition: &PartitionId) -> Option<&mut T> {
        self.slots.get_mut(partition.index())?.as_mut().map(|(_, value)| value)
    }

    /// True if `partition` has a value.
    pub fn contains_key(&self, partition: &PartitionId) -> bool {
        self.get(partition).is_some()
    }

    /// Sets the value of `partition`, returning the one it replaces.
    pub fn insert(&mut self, partition: PartitionId, value: T) -> Option<T> {
        let index = partition.index();
        if index >= self.slots.len() {
            self.slots.resize_with(index + 1, || None);
        }
        let old = self.slots[index].replace((partition, value)).map(|(_, old)| old);
        self.mark_changed(index);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Removes `partition`, returning its value.
    pub fn remove(&mut self, partition: &PartitionId) -> Option<T> {
        let index = partition.index();
        let old = self.slots.get_mut(index)?.take().map(|(_, old)| old);
        if old.is_some() {
            self.len -= 1;
            self.mark_changed(index);
        }
        old
    }

    /// Number of partitions present.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no partition is present.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Partitions and values, in partition order.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { slots: self.slots.iter() }
    }

    /// Partitions and values to change, in partition order; marks every partition changed.
    pub fn iter_mut(&mut self) -> IterMut<'_, T> {
        self.mark_all_changed();
        IterMut { slots: self.slots.iter_mut() }
    }

    /// Partitions, in order.
    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &PartitionId> + '_ {
        self.iter().map(|(partition, _)| partition)
    }

    /// Values, in partition order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.iter().map(|(_, value)| value)
    }

    /// Values to change, in partition order; marks every partition changed.
    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut T> + '_ {
        self.iter_mut().map(|(_, value)| value)
    }

    /// True if `partition` was lent out for change, inserted or removed since the last
    /// [`PartitionMap::forget_changes`].
    pub fn is_changed(&self, partition: &PartitionId) -> bool {
        self.changed.get(partition.index()).is_some_and(|changed| *changed)
    }

    /// True if any partition changed since the last [`PartitionMap::forget_changes`].
    #[inline]
    pub fn has_changes(&self) -> bool {
        self.changed_count > 0
    }

    /// Starts over: no partition has changed.
    #[inline]
    pub fn forget_changes(&mut self) {
        if self.changed_count > 0 {
            self.changed.fill(false);
            self.changed_count = 0;
        }
    }

    #[inline]
    fn mark_changed(&mut self, index: usize) {
        if index >= self.changed.len() {
            self.changed.resize(index + 1, false);
        }
        if !self.changed[index] {
            self.changed[index] = true;
            self.changed_count += 1;
        }
    }

    fn mark_all_changed(&mut self) {
        for index in 0..self.slots.len() {
            if self.slots[index].is_some() {
                self.mark_changed(index);
            }
        }
    }

    /// Keeps only the partitions for which `keep` is true; marks every partition changed.
    pub fn retain(&mut self, mut keep: impl FnMut(&PartitionId, &mut T) -> bool) {
        self.mark_all_changed();
        for slot in &mut self.slots {
            if let Some((partition, value)) = slot {
                if !keep(partition, value) {
                    *slot = None;
                    self.len -= 1;
                }
            }
        }
    }
}

impl<T> Index<&PartitionId> for PartitionMap<T> {
    type Output = T;

    fn index(&self, partition: &PartitionId) -> &T {
        self.get(partition).unwrap_or_else(|| panic!("partition {} is not in the map", partition.0))
    }
}

impl<T> FromIterator<(PartitionId, T)> for PartitionMap<T> {
    fn from_iter<I: IntoIterator<Item = (PartitionId, T)>>(entries: I) -> Self {
        let mut map = PartitionMap::new();
        for (partition, value) in entries {
            map.insert(partition, value);
        }
        map
    }
}

impl<'a, T> IntoIterator for &'a PartitionMap<T> {
    type Item = (&'a PartitionId, &'a T);
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<'a, T> IntoIterator for &'a mut PartitionMap<T> {
    type Item = (&'a PartitionId, &'a mut T);
    type IntoIter = IterMut<'a, T>;

    fn into_iter(self) -> IterMut<'a, T> {
        self.iter_mut()
    }
}

/// The entries of a [`PartitionMap`], in partition order.
pub struct Iter<'a, T> {
    slots: std::slice::Iter<'a, Option<(PartitionId, T)>>,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = (&'a PartitionId, &'a T);

    fn next(&mut self) -> Option<Self::Item> {
        self.slots.by_ref().find_map(|slot| slot.as_ref().map(|(partition, value)| (partition, value)))
    }
}

impl<T> DoubleEndedIterator for Iter<'_, T> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.slots.by_ref().rev().find_map(|slot| slot.as_ref().map(|(partition, value)| (partition, value)))
    }
}

/// The entries of a [`PartitionMap`] to change, in partition order.
pub struct IterMut<'a, T> {
    slots: std::slice::IterMut<'a, Option<(PartitionId, T)>>,
}

impl<'a, T> Iterator for IterMut<'a, T> {
    type Item = (&'a PartitionId, &'a mut T);

    fn next(&mut self) -> Option<Self::Item> {
        self.slots.by_ref().find_map(|slot| slot.as_mut().map(|(partition, value)| (&*partition, value)))
    }
}

impl<T> DoubleEndedIterator for IterMut<'_, T> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.slots.by_ref().rev().find_map(|slot| slot.as_mut().map(|(partition, value)| (&*partition, value)))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The map behaves as a `BTreeMap` would under any sequence of inserts, removes and retains.
        #[test]
        fn behaves_as_a_btree_map(ops in proptest::collection::vec((0u8..3, 0u32..40, any::<u16>()), 0..200)) {
            let mut map = PartitionMap::new();
            let mut model = BTreeMap::new();
            for (op, partition, value) in ops {
                let partition = PartitionId(partition);
                match op {
                    0 => prop_assert_eq!(map.insert(partition, value), model.insert(partition, value)),
                    1 => prop_assert_eq!(map.remove(&partition), model.remove(&partition)),
                    _ => {
                        map.retain(|_, kept| *kept % 3 != value % 3);
                        model.retain(|_, kept| *kept % 3 != value % 3);
                    }
                }
                prop_assert_eq!(map.len(), model.len());
                prop_assert_eq!(map.get(&partition), model.get(&partition));
                let listed: Vec<(PartitionId, u16)> = map.iter().map(|(p, v)| (*p, *v)).collect();
                let expected: Vec<(PartitionId, u16)> = model.iter().map(|(p, v)| (*p, *v)).collect();
                prop_assert_eq!(listed, expected);
            }
        }

        /// Whatever the map went through, a partition whose entry differs from what it was at the last
        /// `forget_changes` reads as changed, so the fetch purgatory's check of changed partitions misses
        /// nothing a check of every partition would find; and a map nobody changed reads as unchanged.
        #[test]
        fn every_changed_entry_is_marked(ops in proptest::collection::vec((0u8..7, 0u32..40, any::<u16>()), 0..200)) {
            let mut map: PartitionMap<u16> = (0..20).map(|index| (PartitionId(index), 0)).collect();
            map.forget_changes();
            let mut snapshot = map.clone();
            for (op, partition, value) in ops {
                let partition = PartitionId(partition);
                match op {
                    0 => { map.insert(partition, value); }
                    1 => { map.remove(&partition); }
                    2 => map.retain(|_, kept| *kept % 3 != value % 3),
                    3 => if let Some(entry) = map.get_mut(&partition) { *entry = value; },
                    4 => for (_, entry) in map.iter_mut() { *entry = entry.wrapping_add(value % 2); },
                    5 => {
                        prop_assert_eq!(map.has_changes(), (0..40).any(|index| map.is_changed(&PartitionId(index))));
                    }
                    _ => {
                        map.forget_changes();
                        snapshot = map.clone();
                        prop_assert!(!map.has_changes());
                    }
                }
                for index in 0..40 {
                    let partition = PartitionId(index);
                    if map.get(&partition) != snapshot.get(&partition) {
                        prop_assert!(map.is_changed(&partition), "partition {} changed unmarked", index);
                        prop_assert!(map.has_changes());
                    }
                }
            }
        }
    }
}
