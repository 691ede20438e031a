//! A read/write register per key, with compare-and-set: the textbook linearizable object.
//!
//! Each key is its own register (its own partition), empty (`None`) until first written. A read returns the value
//! of the last write to take effect; a write always succeeds; a compare-and-set replaces the value only if it
//! equals `expected`, and says whether it did.
//!
//! Worked example, key x. Client 1 writes 1 over [0, 10]; client 2 writes 2 over [5, 15]; client 3 reads 1 over
//! [20, 30]. Both writes returned before the read was called, so both come before it; they overlap each other, so
//! either may come first, and the order "write 2, write 1, read 1" explains the read: linearizable. Had the read
//! returned 3, no write put 3 there: not linearizable. Had it returned `None`, it would be a stale read: the writes
//! finished before it began.

use super::Model;
use crate::{Key, Value};
use std::borrow::Cow;

/// Registers, one per key, initially empty.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Register;

/// What a client asked of a register.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterInput {
    /// Read the register.
    Read {
        /// Which register.
        key: Key,
    },
    /// Replace the value.
    Write {
        /// Which register.
        key: Key,
        /// The new value.
        value: Value,
    },
    /// Replace the value with `new` if it is `expected`.
    Cas {
        /// Which register.
        key: Key,
        /// The value it must hold.
        expected: Value,
        /// The value it gets.
        new: Value,
    },
}

/// What a register told the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegisterOutput {
    /// A read's result: the value, or `None` for a register never written.
    Read(Option<Value>),
    /// A write's acknowledgement.
    Written,
    /// A compare-and-set's result: whether it replaced the value.
    Cas(bool),
}

impl RegisterInput {
    /// The register the operation acts on.
    pub fn key(&self) -> &Key {
        match self {
            RegisterInput::Read { key } | RegisterInput::Write { key, .. } | RegisterInput::Cas { key, .. } => key,
        }
    }
}

impl Model for Register {
    /// The register's value, `None` before the first write.
    type State = Option<Value>;
    type Input = RegisterInput;
    type Output = RegisterOutput;

    fn init(&self) -> Option<Value> {
        None
    }

    fn step(&self, state: &Option<Value>, input: &RegisterInput, output: &RegisterOutput) -> Option<Option<Value>> {
        match (input, output) {
            (RegisterInput::Read { .. }, RegisterOutput::Read(seen)) => (seen == state).then_some(*state),
            (RegisterInput::Write { value, .. }, RegisterOutput::Written) => Some(Some(*value)),
            (RegisterInput::Cas { expected, new, .. }, RegisterOutput::Cas(swapped)) => {
                let matches = *state == Some(*expected);
                match (matches, swapped) {
                    (true, true) => Some(Some(*new)),
                    (false, false) => Some(*state),
                    _ => None,
                }
            }
            // An output of another kind than the input (a write that "read" a value) is never a legal step.
            _ => None,
        }
    }

    fn partition<'a>(&self, input: &'a RegisterInput) -> Cow<'a, str> {
        Cow::Borrowed(input.key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(key: &str) -> RegisterInput {
        RegisterInput::Read { key: key.to_string() }
    }

    #[test]
    fn steps_follow_the_specification() {
        let model = Register;
        let write = RegisterInput::Write { key: "x".into(), value: 4 };
        assert_eq!(model.step(&None, &write, &RegisterOutput::Written), Some(Some(4)));
        assert_eq!(model.step(&Some(4), &read("x"), &RegisterOutput::Read(Some(4))), Some(Some(4)));
        assert_eq!(model.step(&Some(4), &read("x"), &RegisterOutput::Read(None)), None);
        let cas = RegisterInput::Cas { key: "x".into(), expected: 4, new: 5 };
        assert_eq!(model.step(&Some(4), &cas, &RegisterOutput::Cas(true)), Some(Some(5)));
        assert_eq!(model.step(&Some(3), &cas, &RegisterOutput::Cas(false)), Some(Some(3)));
        assert_eq!(model.step(&Some(3), &cas, &RegisterOutput::Cas(true)), None);
        assert_eq!(model.step(&Some(4), &cas, &RegisterOutput::Cas(false)), None);
        assert_eq!(model.step(&None, &write, &RegisterOutput::Read(None)), None, "mismatched kinds");
    }

    #[test]
    fn each_key_is_a_partition() {
        assert_eq!(Register.partition(&read("x")), "x");
        assert_ne!(Register.partition(&read("x")), Register.partition(&read("y")));
    }
}
