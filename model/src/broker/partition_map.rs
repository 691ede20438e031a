//! A map keyed by partition, held in a vector indexed by the partition's number.
//!
//! Partition ids are dense (the scenario's key list, then the internal partitions), so a lookup is an index
//! instead of a B-tree search. The broker looks its replicas up several times per event (the parked-fetch
//! check alone once per parked fetch after every event), which made those searches one of a run's largest
//! costs. Iteration is in partition order, as a `BTreeMap`'s, so nothing that walks the map changes order.

use std::ops::Index;

use crate::protocol::PartitionId;

/// A map from [`PartitionId`] to `T`, in partition order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionMap<T> {
    // The key is kept beside the value so iteration can lend `&PartitionId`, as a `BTreeMap` does.
    slots: Vec<Option<(PartitionId, T)>>,
    len: usize,
}

impl<T> Default for PartitionMap<T> {
    fn default() -> Self {
        PartitionMap { slots: Vec::new(), len: 0 }
    }
}

impl<T> PartitionMap<T> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of `partition`, if present.
    pub fn get(&self, partition: &PartitionId) -> Option<&T> {
        self.slots.get(partition.index())?.as_ref().map(|(_, value)| value)
    }

    /// The value of `partition` to change, if present.
    pub fn get_mut(&mut self, partition: &PartitionId) -> Option<&mut T> {
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
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Removes `partition`, returning its value.
    pub fn remove(&mut self, partition: &PartitionId) -> Option<T> {
        let old = self.slots.get_mut(partition.index())?.take().map(|(_, old)| old);
        if old.is_some() {
            self.len -= 1;
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

    /// Partitions and values to change, in partition order.
    pub fn iter_mut(&mut self) -> IterMut<'_, T> {
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

    /// Values to change, in partition order.
    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut T> + '_ {
        self.iter_mut().map(|(_, value)| value)
    }

    /// Keeps only the partitions for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&PartitionId, &mut T) -> bool) {
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
    }
}
