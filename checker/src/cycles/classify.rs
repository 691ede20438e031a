//! Elle's classes of dependency cycles, and what each allows a search to use.
//!
//! A cycle's class comes from its data edges (Elle's `cycle-explainer`): one rw edge makes it G-single; two or more
//! make it G2-item when two of them are adjacent (around the cycle) and G-nonadjacent when none are; otherwise wr
//! edges alone make it G1c-wr, wr and ww edges G1c, and ww edges alone G0.
//!
//! eosim splits Elle's G1c in two because Kafka's claim does: with wr edges alone (G1c-wr, Jepsen's G1c without
//! `:ww-deps`), each operation read another's write around a loop, so one of them read a write before it was
//! committed, which read_committed forbids; with a ww edge (G1c), the loop may run through two transactions'
//! interleaved writes to a partition, which Kafka allows (Jepsen's `allowed-error-types` with `:ww-deps`). A realtime edge adds `-realtime`; else a process edge adds
//! `-process`. The classes, from most to least severe: G0, G1c, G-single, G-nonadjacent, G2-item.

use super::graph::EdgeKind;
use crate::AnomalyKind;

/// The class of a cycle by its data edges, most severe first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Base {
    /// ww edges only.
    G0,
    /// wr edges only.
    G1cWr,
    /// ww and wr edges, at least one of each.
    G1c,
    /// Exactly one rw edge.
    GSingle,
    /// Two or more rw edges, no two adjacent.
    GNonadjacent,
    /// Two or more rw edges, two of them adjacent.
    G2Item,
}

/// Which order edges a cycle needs besides its data edges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Variant {
    /// None: data edges alone.
    Data,
    /// At least one process edge, no realtime edge.
    Process,
    /// At least one realtime edge.
    Realtime,
}

/// Every base class, most severe first.
pub const BASES: [Base; 6] = [Base::G0, Base::G1cWr, Base::G1c, Base::GSingle, Base::GNonadjacent, Base::G2Item];
/// Every variant, in the order they are searched.
pub const VARIANTS: [Variant; 3] = [Variant::Data, Variant::Process, Variant::Realtime];

/// The anomaly kind of a class.
pub fn kind(base: Base, variant: Variant) -> AnomalyKind {
    use AnomalyKind as A;
    match (base, variant) {
        (Base::G0, Variant::Data) => A::G0,
        (Base::G0, Variant::Process) => A::G0Process,
        (Base::G0, Variant::Realtime) => A::G0Realtime,
        (Base::G1cWr, Variant::Data) => A::G1cWr,
        (Base::G1cWr, Variant::Process) => A::G1cWrProcess,
        (Base::G1cWr, Variant::Realtime) => A::G1cWrRealtime,
        (Base::G1c, Variant::Data) => A::G1c,
        (Base::G1c, Variant::Process) => A::G1cProcess,
        (Base::G1c, Variant::Realtime) => A::G1cRealtime,
        (Base::GSingle, Variant::Data) => A::GSingle,
        (Base::GSingle, Variant::Process) => A::GSingleProcess,
        (Base::GSingle, Variant::Realtime) => A::GSingleRealtime,
        (Base::GNonadjacent, Variant::Data) => A::GNonadjacent,
        (Base::GNonadjacent, Variant::Process) => A::GNonadjacentProcess,
        (Base::GNonadjacent, Variant::Realtime) => A::GNonadjacentRealtime,
        (Base::G2Item, Variant::Data) => A::G2Item,
        (Base::G2Item, Variant::Process) => A::G2ItemProcess,
        (Base::G2Item, Variant::Realtime) => A::G2ItemRealtime,
    }
}

/// Every cycle kind, in report order (as [`AnomalyKind::ALL`] lists them).
pub fn kinds() -> impl Iterator<Item = AnomalyKind> {
    BASES.into_iter().flat_map(|base| VARIANTS.into_iter().map(move |variant| kind(base, variant)))
}

/// The class of a cycle kind, or `None` for a kind that is not a cycle.
pub fn class_of(kind: AnomalyKind) -> Option<(Base, Variant)> {
    BASES.into_iter().flat_map(|b| VARIANTS.into_iter().map(move |v| (b, v))).find(|&(b, v)| self::kind(b, v) == kind)
}

/// The class of the cycle whose edges, in order around it, are `edges`.
pub fn classify(edges: &[EdgeKind]) -> (Base, Variant) {
    assert!(edges.len() >= 2, "a cycle has two edges or more");
    let count = |kind: EdgeKind| edges.iter().filter(|&&k| k == kind).count();
    let rw = count(EdgeKind::Rw);
    // Adjacent around the cycle: the last edge is followed by the first.
    let adjacent = (0..edges.len()).any(|i| edges[i] == EdgeKind::Rw && edges[(i + 1) % edges.len()] == EdgeKind::Rw);
    let base = match rw {
        0 if count(EdgeKind::Wr) > 0 && count(EdgeKind::Ww) == 0 => Base::G1cWr,
        0 if count(EdgeKind::Wr) > 0 => Base::G1c,
        0 => Base::G0,
        1 => Base::GSingle,
        _ if adjacent => Base::G2Item,
        _ => Base::GNonadjacent,
    };
    // Process and realtime edges always go forward in the history, so a cycle has data edges.
    assert!(count(EdgeKind::Ww) + count(EdgeKind::Wr) + rw > 0);
    let variant = if count(EdgeKind::Realtime) > 0 {
        Variant::Realtime
    } else if count(EdgeKind::Process) > 0 {
        Variant::Process
    } else {
        Variant::Data
    };
    (base, variant)
}

/// What a search for one class may use and must find.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    /// The class searched for.
    pub base: Base,
    /// Its variant.
    pub variant: Variant,
    /// The edge kinds a cycle of the class may use, as a mask of [`EdgeKind::bit`]s.
    pub allowed: u8,
    /// The kind every cycle of the class has at least one of, where the search starts.
    pub pivot: EdgeKind,
}

impl Spec {
    /// The search for `base` with `variant`.
    pub fn new(base: Base, variant: Variant) -> Spec {
        let data = match base {
            Base::G0 => EdgeKind::Ww.bit(),
            Base::G1cWr => EdgeKind::Wr.bit(),
            Base::G1c => EdgeKind::Ww.bit() | EdgeKind::Wr.bit(),
            Base::GSingle | Base::GNonadjacent | Base::G2Item => {
                EdgeKind::Ww.bit() | EdgeKind::Wr.bit() | EdgeKind::Rw.bit()
            }
        };
        let order = match variant {
            Variant::Data => 0,
            Variant::Process => EdgeKind::Process.bit(),
            Variant::Realtime => EdgeKind::Process.bit() | EdgeKind::Realtime.bit(),
        };
        // Start from the rarest kind the class needs: its rw edge, its wr edge, its order edge, or any ww edge.
        let pivot = match (base, variant) {
            (Base::GSingle | Base::GNonadjacent | Base::G2Item, _) => EdgeKind::Rw,
            (Base::G1cWr | Base::G1c, _) => EdgeKind::Wr,
            (Base::G0, Variant::Process) => EdgeKind::Process,
            (Base::G0, Variant::Realtime) => EdgeKind::Realtime,
            (Base::G0, Variant::Data) => EdgeKind::Ww,
        };
        let spec = Spec { base, variant, allowed: data | order, pivot };
        assert!(spec.allowed & pivot.bit() != 0);
        spec
    }

    /// Whether a cycle of class (`base`, `variant`), once found, makes searching for this one pointless: Elle
    /// reports the most severe class only, and a cycle is as bad for every weaker class and variant.
    ///
    /// But for G1c-wr: a G0 cycle does not make a G1c-wr one pointless to look for, because Kafka allows the one
    /// and forbids the other (a G1c-wr cycle is still a G1c and weaker ones, so it implies those).
    pub fn implied_by(&self, base: Base, variant: Variant) -> bool {
        if self.base == Base::G1cWr && base != Base::G1cWr {
            return false;
        }
        self.base >= base && self.variant >= variant
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EdgeKind::{Process, Realtime, Rw, Wr, Ww};

    #[test]
    fn cycles_are_classified_by_their_edges_as_elle_does() {
        assert_eq!(classify(&[Ww, Ww]), (Base::G0, Variant::Data));
        assert_eq!(classify(&[Ww, Wr]), (Base::G1c, Variant::Data));
        assert_eq!(classify(&[Wr, Wr]), (Base::G1cWr, Variant::Data));
        assert_eq!(classify(&[Wr, Realtime]), (Base::G1cWr, Variant::Realtime));
        assert_eq!(classify(&[Wr, Rw]), (Base::GSingle, Variant::Data));
        assert_eq!(classify(&[Rw, Wr, Rw, Wr]), (Base::GNonadjacent, Variant::Data));
        assert_eq!(classify(&[Rw, Rw, Wr]), (Base::G2Item, Variant::Data));
        // The last and the first edge are adjacent too.
        assert_eq!(classify(&[Rw, Wr, Rw]), (Base::G2Item, Variant::Data));
        assert_eq!(classify(&[Ww, Process]), (Base::G0, Variant::Process));
        assert_eq!(classify(&[Rw, Process, Realtime]), (Base::GSingle, Variant::Realtime));
    }

    #[test]
    fn every_kind_once_in_report_order() {
        let all: Vec<AnomalyKind> = kinds().collect();
        assert_eq!(all.len(), 18);
        let mut sorted = all.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, all);
        assert!(Spec::new(Base::G2Item, Variant::Realtime).implied_by(Base::G1c, Variant::Process));
        assert!(!Spec::new(Base::G0, Variant::Realtime).implied_by(Base::G1c, Variant::Data));
        assert_eq!(Spec::new(Base::G0, Variant::Realtime).pivot, Realtime);
        // Kafka allows G0 and forbids G1c-wr: finding the one does not stop the search for the other.
        assert!(!Spec::new(Base::G1cWr, Variant::Data).implied_by(Base::G0, Variant::Data));
        assert!(Spec::new(Base::G1c, Variant::Data).implied_by(Base::G1cWr, Variant::Data));
    }
}
