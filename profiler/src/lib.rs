//! `tierjit-profiler`: the sampling profiler and its reports.
//!
//! It knows code addresses and function ids, never bytecode: the runtime
//! resolves what the sampler records into a [`profile::Profile`].

#![warn(missing_docs)]

pub mod codemap;
pub mod format;
pub mod hotness;
pub mod latency;
pub mod perf;
pub mod profile;
#[cfg(feature = "report")]
pub mod report;
pub mod ring;
pub mod sampler;
pub mod stackwalk;

#[cfg(test)]
mod testdata;
