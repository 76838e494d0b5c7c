//! Paired samples of the `peers` benchmark: per round one run of ours and one of the
//! peer, in shuffled order; a ratio per pair, then the median and the 25th–75th
//! percentile of those ratios.

use crate::servers::Cpu;
use crate::tools::Outcome;

/// One run of a load tool against one server.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sample {
    pub(crate) outcome: Outcome,
    /// What the server's threads used during the run.
    pub(crate) cpu: Cpu,
}

impl Sample {
    /// Server CPU per request, in microseconds.
    pub(crate) fn cpu_us(&self) -> f64 {
        self.cpu.total() as f64 / 1e3 / self.outcome.requests.max(1) as f64
    }
    pub(crate) fn rate(&self) -> f64 {
        self.outcome.rate
    }
    pub(crate) fn p50(&self) -> Option<f64> {
        self.outcome.p50_ms
    }
    pub(crate) fn p99(&self) -> Option<f64> {
        self.outcome.p99_ms
    }
}

/// A figure of a sample, where the tool gives it.
pub(crate) type Figure = fn(&Sample) -> Option<f64>;

pub(crate) fn rate(s: &Sample) -> Option<f64> {
    Some(s.rate())
}
pub(crate) fn cpu_us(s: &Sample) -> Option<f64> {
    Some(s.cpu_us())
}
pub(crate) fn p50(s: &Sample) -> Option<f64> {
    s.p50()
}
pub(crate) fn p99(s: &Sample) -> Option<f64> {
    s.p99()
}

/// Median and quartiles of a set of values.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dist {
    pub(crate) p25: f64,
    pub(crate) median: f64,
    pub(crate) p75: f64,
}

impl Dist {
    /// `None` for no values.
    pub(crate) fn of(v: &[f64]) -> Option<Dist> {
        (!v.is_empty()).then(|| Dist {
            p25: quantile(v, 0.25),
            median: quantile(v, 0.5),
            p75: quantile(v, 0.75),
        })
    }

    /// `0.953× [0.941–0.967]`.
    pub(crate) fn ratio(&self) -> String {
        format!("{:.3}× [{:.3}–{:.3}]", self.median, self.p25, self.p75)
    }
}

/// Quantile `q` (0..=1) with linear interpolation between the closest ranks.
pub(crate) fn quantile(v: &[f64], q: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let pos = q * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// The runs of one load: `(ours, peer)` per round.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pairs(pub(crate) Vec<(Sample, Sample)>);

impl Pairs {
    /// Median of a figure over the rounds: ours, then the peer's.
    pub(crate) fn medians(&self, f: Figure) -> (Option<f64>, Option<f64>) {
        let med = |v: Vec<f64>| Dist::of(&v).map(|d| d.median);
        (
            med(self.0.iter().filter_map(|p| f(&p.0)).collect()),
            med(self.0.iter().filter_map(|p| f(&p.1)).collect()),
        )
    }

    /// The ratio ours / peer of a figure within each round, over the rounds.
    pub(crate) fn ratio(&self, f: Figure) -> Option<Dist> {
        let v: Vec<f64> = self
            .0
            .iter()
            .filter_map(|(o, p)| Some(f(o)? / f(p)?))
            .filter(|r| r.is_finite())
            .collect();
        Dist::of(&v)
    }
}

/// xorshift64*, for the shuffled order of each round.
#[derive(Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng((seed ^ 0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// `true` or `false`, even odds.
    pub(crate) fn coin(&mut self) -> bool {
        self.next() >> 63 == 1
    }
}

/// A seed from the clock and the process id.
pub(crate) fn seed_from_clock() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// `12,345` for 12345.4.
pub(crate) fn thousands(v: f64) -> String {
    let digits = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
