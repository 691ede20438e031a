//! Hand-built tests of the coordinator.

use super::*;
