//! The mutator: byte edits, number swaps and dictionary splices, each chosen by a seeded generator.
//!
//! Text formats break where numbers and structure are: so besides byte flips, insertions and deletions, a
//! mutation may replace a whole decimal number with one of the values that broke eosim before (0, `u32::MAX`,
//! `u64::MAX`, `1e20`, a negative number), repeat a span (a key listed twice, a deep nesting), or splice in a
//! token of the target's dictionary. Every choice comes from [`Rng`], so a seed gives the same inputs on every
//! machine, and a crash is found again by running the same seed.

/// A small deterministic generator (SplitMix64): the fuzzer needs speed and reproducibility, not statistical
/// depth, and no choice here reaches a simulation.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound`; `bound` is at least 1.
    pub fn below(&mut self, bound: usize) -> usize {
        assert!(bound > 0, "below(0) has no value");
        (self.next_u64() % bound as u64) as usize
    }
}

/// Numbers that broke eosim or sit on a boundary: zero, one, type limits, past-`f64` magnitudes, negatives.
pub const INTERESTING_NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "255",
    "65536",
    "2147483647",
    "4294967295",
    "4294967296",
    "9007199254740993",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "1e20",
    "1e308",
    "0.5",
    "-0",
    "99",
];

/// The most bytes a mutant may grow to: large enough for every fixture, small enough that no input is slow only
/// because it is long.
pub const INPUT_BYTES_MAX: usize = 256 * 1024;

/// One to four mutations of `input`, splicing from `corpus` and `dictionary`.
pub fn mutate(rng: &mut Rng, input: &[u8], corpus: &[Vec<u8>], dictionary: &[&str]) -> Vec<u8> {
    let mut data = input.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        mutate_once(rng, &mut data, corpus, dictionary);
    }
    data.truncate(INPUT_BYTES_MAX);
    data
}

fn mutate_once(rng: &mut Rng, data: &mut Vec<u8>, corpus: &[Vec<u8>], dictionary: &[&str]) {
    // Number swaps are the most productive edit on these formats, so they get a third of the draws.
    match rng.below(12) {
        0..=3 => swap_number(rng, data),
        4 => flip_bit(rng, data),
        5 => set_byte(rng, data),
        6 => delete_span(rng, data),
        7 => repeat_span(rng, data),
        8 | 9 => insert_token(rng, data, dictionary),
        10 => splice(rng, data, corpus),
        _ => truncate(rng, data),
    }
}

/// Replaces one decimal number in the text (the n-th found) with an interesting one.
fn swap_number(rng: &mut Rng, data: &mut Vec<u8>) {
    let numbers = number_spans(data);
    if numbers.is_empty() {
        return insert_token(rng, data, INTERESTING_NUMBERS);
    }
    let (start, end) = numbers[rng.below(numbers.len())];
    let replacement = INTERESTING_NUMBERS[rng.below(INTERESTING_NUMBERS.len())].as_bytes();
    data.splice(start..end, replacement.iter().copied());
}

/// The byte ranges of runs of ASCII digits.
fn number_spans(data: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut at = 0;
    while at < data.len() {
        if data[at].is_ascii_digit() {
            let start = at;
            while at < data.len() && data[at].is_ascii_digit() {
                at += 1;
            }
            spans.push((start, at));
        } else {
            at += 1;
        }
    }
    spans
}

fn flip_bit(rng: &mut Rng, data: &mut [u8]) {
    if data.is_empty() {
        return;
    }
    let at = rng.below(data.len());
    data[at] ^= 1 << rng.below(8);
}

fn set_byte(rng: &mut Rng, data: &mut [u8]) {
    if data.is_empty() {
        return;
    }
    const BYTES: &[u8] = b"\x00\xff\xc3\xe9\"'{}[]:,=\n\\#-.";
    let at = rng.below(data.len());
    data[at] = BYTES[rng.below(BYTES.len())];
}

/// A random span of up to 64 bytes, within `data`.
fn span(rng: &mut Rng, data: &[u8]) -> (usize, usize) {
    let start = rng.below(data.len() + 1);
    let end = (start + 1 + rng.below(64)).min(data.len());
    (start, end.max(start))
}

fn delete_span(rng: &mut Rng, data: &mut Vec<u8>) {
    let (start, end) = span(rng, data);
    data.drain(start..end);
}

/// Repeats a span up to eight times in place: a key given twice, a list grown long, a nesting made deep.
fn repeat_span(rng: &mut Rng, data: &mut Vec<u8>) {
    let (start, end) = span(rng, data);
    let copy = data[start..end].to_vec();
    let times = 1 + rng.below(8);
    for _ in 0..times {
        data.splice(end..end, copy.iter().copied());
    }
}

fn insert_token(rng: &mut Rng, data: &mut Vec<u8>, dictionary: &[&str]) {
    if dictionary.is_empty() {
        return;
    }
    let token = dictionary[rng.below(dictionary.len())].as_bytes();
    let at = rng.below(data.len() + 1);
    data.splice(at..at, token.iter().copied());
}

/// Replaces the tail of `data` from a random point with the tail of another corpus entry.
fn splice(rng: &mut Rng, data: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    if corpus.is_empty() {
        return;
    }
    let other = &corpus[rng.below(corpus.len())];
    let (cut, from) = (rng.below(data.len() + 1), rng.below(other.len() + 1));
    data.truncate(cut);
    data.extend_from_slice(&other[from..]);
}

fn truncate(rng: &mut Rng, data: &mut Vec<u8>) {
    let at = rng.below(data.len() + 1);
    data.truncate(at);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_mutants() {
        let input = b"brokers = 3\nduration_ms = 300\n".to_vec();
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..50).map(|_| mutate(&mut rng, &input, std::slice::from_ref(&input), &["[", "="])).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn numbers_are_found_and_swapped_whole() {
        assert_eq!(number_spans(b"a = 12, b = 3"), vec![(4, 6), (12, 13)]);
        let mut rng = Rng::new(1);
        let mut data = b"x = 42".to_vec();
        swap_number(&mut rng, &mut data);
        let text = String::from_utf8(data).expect("ASCII");
        let value = text.strip_prefix("x = ").expect("the key stays");
        assert!(INTERESTING_NUMBERS.contains(&value), "{text}");
    }

    #[test]
    fn mutants_stay_within_the_size_bound() {
        let mut rng = Rng::new(3);
        let mut data = vec![b'['; INPUT_BYTES_MAX];
        for _ in 0..20 {
            data = mutate(&mut rng, &data, &[], &["[[[["]);
            assert!(data.len() <= INPUT_BYTES_MAX);
        }
    }
}
