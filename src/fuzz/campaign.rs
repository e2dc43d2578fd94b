//! Long fuzzing campaigns: which seeds a run covers, how a range is split
//! across machines, and the progress line.
//!
//! Contract: a campaign checks the programs of a [`SeedRange`], seeds
//! `first..first + count`, and a seed's program depends on the seed alone
//! (`gen::generate(seed, &GenConfig::default())`), so any run of one seed
//! checks the same program, and ranges run on different machines stitch
//! into one campaign when they are disjoint and adjacent. [`Shard`] `K/N`
//! is the K-th (from 1) of N contiguous parts of a range: the parts are
//! disjoint, cover the range exactly, and differ in size by at most one.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The seeds `first..first + count` (never past `u64::MAX`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedRange {
    first: u64,
    count: u64,
}

impl SeedRange {
    /// The range of `count` seeds from `first`; an error if it would run
    /// past `u64::MAX`.
    pub fn new(first: u64, count: u64) -> Result<SeedRange, String> {
        if count > 0 && first.checked_add(count - 1).is_none() {
            return Err(format!(
                "--seed {first} with --count {count} runs past the last seed, {}",
                u64::MAX
            ));
        }
        Ok(SeedRange { first, count })
    }

    /// The first seed (the start of an empty range too).
    pub fn first(&self) -> u64 {
        self.first
    }

    /// How many seeds the range has.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The last seed, if the range is not empty.
    pub fn last(&self) -> Option<u64> {
        self.count.checked_sub(1).map(|n| self.first + n)
    }

    /// The `i`-th seed of the range; `i` must be below [`Self::count`].
    pub fn seed(&self, i: u64) -> u64 {
        debug_assert!(i < self.count);
        self.first + i
    }

    /// The part of this range that `shard` covers.
    pub fn shard(&self, shard: Shard) -> SeedRange {
        // u128: `count * index` may not fit in 64 bits.
        let boundary =
            |k: u64| (u128::from(self.count) * u128::from(k) / u128::from(shard.of)) as u64;
        let start = boundary(shard.index - 1);
        let end = boundary(shard.index);
        SeedRange {
            first: self.first + start,
            count: end - start,
        }
    }
}

/// `seeds A..=B`, or `no seeds`: the exact seeds a run covered.
impl fmt::Display for SeedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.last() {
            Some(last) => write!(f, "seeds {}..={last}", self.first),
            None => f.write_str("no seeds"),
        }
    }
}

/// Machine `index` of `of` (written `K/N`, `1 <= K <= N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which part, from 1.
    pub index: u64,
    /// How many parts.
    pub of: u64,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let bad = || format!("'{text}' is not K/N with 1 <= K <= N (e.g. 2/8)");
        let (index, of) = text.split_once('/').ok_or_else(bad)?;
        let index: u64 = index.trim().parse().map_err(|_| bad())?;
        let of: u64 = of.trim().parse().map_err(|_| bad())?;
        if index == 0 || index > of {
            return Err(bad());
        }
        Ok(Shard { index, of })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.of)
    }
}

/// Where a campaign stands, as one line: `fuzz: 1200/100000 programs,
/// 61.3 programs/s, 0 mismatches, 19s elapsed, ETA 26m52s`.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Programs checked.
    pub done: u64,
    /// Programs the campaign checks in all.
    pub total: u64,
    /// Programs that failed so far.
    pub failures: u64,
    /// Time since the campaign started.
    pub elapsed: Duration,
}

impl Progress {
    /// Programs per second, on average since the start.
    pub fn rate(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.done as f64 / seconds
        } else {
            0.0
        }
    }

    /// The time the rest would take at the average rate so far; unknown
    /// before the first program is done.
    pub fn eta(&self) -> Option<Duration> {
        let rate = self.rate();
        let left = self.total.saturating_sub(self.done);
        if left == 0 {
            return Some(Duration::ZERO);
        }
        (rate > 0.0).then(|| Duration::from_secs_f64(left as f64 / rate))
    }
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fuzz: {}/{} programs, {:.1} programs/s, {} mismatches, {} elapsed, ETA ",
            self.done,
            self.total,
            self.rate(),
            self.failures,
            Clock(self.elapsed)
        )?;
        match self.eta() {
            Some(eta) => write!(f, "{}", Clock(eta)),
            None => f.write_str("?"),
        }
    }
}

/// A duration to the second: `7s`, `2m03s`, `1h02m03s`.
struct Clock(Duration);

impl fmt::Display for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.0.as_secs();
        let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
        if hours > 0 {
            write!(f, "{hours}h{minutes:02}m{seconds:02}s")
        } else if minutes > 0 {
            write!(f, "{minutes}m{seconds:02}s")
        } else {
            write!(f, "{seconds}s")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_disjoint_and_cover_the_range() {
        let ranges = [
            (100, 0),
            (100, 1),
            (100, 7),
            (100, 1000),
            (100, u64::MAX - 99),
        ];
        for (first, count) in ranges.into_iter().chain([(u64::MAX - 9, 10)]) {
            let whole = SeedRange::new(first, count).unwrap();
            for of in [1, 2, 3, 8, 13] {
                let mut next = whole.first();
                for index in 1..=of {
                    let part = whole.shard(Shard { index, of });
                    assert_eq!(part.first(), next, "{whole} {index}/{of}");
                    assert!(part.count().abs_diff(whole.count() / of) <= 1);
                    next = next.wrapping_add(part.count());
                }
                assert_eq!(next.wrapping_sub(whole.first()), whole.count());
            }
        }
    }

    #[test]
    fn ranges_stop_at_the_last_seed() {
        assert!(SeedRange::new(u64::MAX, 1).is_ok());
        assert!(SeedRange::new(u64::MAX, 2).is_err());
        assert!(SeedRange::new(u64::MAX, 0).is_ok());
        assert_eq!(SeedRange::new(5, 3).unwrap().to_string(), "seeds 5..=7");
        assert_eq!(SeedRange::new(5, 0).unwrap().to_string(), "no seeds");
    }

    #[test]
    fn shards_parse() {
        assert_eq!("2/8".parse(), Ok(Shard { index: 2, of: 8 }));
        for bad in ["0/8", "9/8", "8", "a/b", "1/0"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn progress_line() {
        let progress = Progress {
            done: 1200,
            total: 100_000,
            failures: 1,
            elapsed: Duration::from_secs(20),
        };
        assert_eq!(
            progress.to_string(),
            "fuzz: 1200/100000 programs, 60.0 programs/s, 1 mismatches, 20s elapsed, ETA 27m26s"
        );
        let start = Progress {
            done: 0,
            ..progress
        };
        assert!(start.to_string().ends_with("ETA ?"));
        assert_eq!(Clock(Duration::from_secs(3723)).to_string(), "1h02m03s");
    }
}
