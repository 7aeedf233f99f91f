//! `anomaly`: deviation of a metric from its own recent behaviour, with no
//! training data.
//!
//! One [`AnomalyState`] per (rule, device) is fed every sample of the metric
//! through [`AnomalyState::observe`]; each call does O(1) work and the state
//! has O(1) size (a buffer of at most [`INIT_SAMPLES`] values during the
//! warm-up, empty afterwards). The state is serde-serialisable and is meant to
//! be persisted: a state restored from JSON continues bit-identically (every
//! float of the state is written as an exact decimal string, so the result
//! does not depend on the JSON parser's float precision).
//!
//! # How it works
//!
//! 1. **Baseline and scale.** The first `min(warmup, 64)` finite samples are
//!    buffered; their median and MAD (× 1.4826, the Gaussian-consistent
//!    factor) give the initial baseline `m` and scale `s`. From then on a
//!    *robust EWMA* updates them: the residual `e = x − m` is clipped to
//!    `±2·s` (Huber, [`HUBER_C`]), `m += α·e_clipped` and
//!    `s² ← (1−α)·s² + α·e_clipped²/κ` with κ = E[min(Z², 4)] = 0.9205 so that
//!    `s` stays an unbiased σ for Gaussian noise despite the clipping. α is
//!    `max(1/n, 1 − 2^(−1/halflife))`: a running mean at first (so the estimate
//!    quickly gets the precision of all samples seen), the exponential
//!    forgetting of `halflife` once that many samples are in. A sample with
//!    `|z| ≥ z_raise` is **not learned from at all**, so one isolated outlier
//!    (even 50σ) does not move the baseline or the scale; the others can move
//!    them by at most `α·2s`. The scale is floored at
//!    `min_scale_rel·|m| + min_scale_abs`, so a constant signal does not give
//!    a zero scale and infinite z.
//! 2. **z-score.** `z = (x − m)/s`, with the baseline and scale *before* this
//!    sample is learned from; this is [`Observation::z`].
//! 3. **k-of-n confirmation (spikes and steps).** The detector fires
//!    [`AnomalyCause::Spike`] when at least `confirm_k` of the last `confirm_n`
//!    samples had `|z| ≥ z_raise`.
//! 4. **Two-sided CUSUM (slow drift).** On the standardised residuals,
//!    clipped to `±cusum_clip` so that one spike can add at most
//!    `cusum_clip − cusum_k` to a sum: `S⁺ = max(0, S⁺ + z − k)`,
//!    `S⁻ = max(0, S⁻ − z − k)`; `S⁺ > h` fires [`AnomalyCause::DriftUp`],
//!    `S⁻ > h` fires [`AnomalyCause::DriftDown`].
//! 5. **Hysteresis.** Once fired, [`Observation::abnormal`] stays set (and the
//!    cause is kept) until `|z| ≤ z_clear` has held for `clear_samples`
//!    consecutive samples *and* both CUSUM sums (capped at `h` while the
//!    condition is active) have decayed to `h/2` or less. The second
//!    condition stops a drift that halted at a small offset (|z| below
//!    `z_clear`, but still above `k`) from clearing and re-firing every few
//!    samples; after a step that went back, the clear comes typically ~15
//!    samples after the signal's return (40 at worst over 40 seeds).
//!    On clearing, the CUSUM sums and the k-of-n window restart from zero.
//! 6. **Frozen learning.** Nothing is learned while the condition is active,
//!    from the sample that raises it, from a sample with `|z| ≥ z_raise`, or
//!    when the caller passes `learn = false` (its alarm is active, or the
//!    asset is in maintenance). With `learn = false` during the warm-up the
//!    sample does not count toward the warm-up either.
//! 7. **Warm-up.** Until `warmup` finite samples have been observed with
//!    `learn = true` (outliers among them count, but are not learned), the
//!    detector never fires ([`Observation::warming_up`] is true); before the
//!    initial median/MAD exists, `z`, `baseline` and `scale` are NaN.
//!    Non-finite values (NaN, ±∞) are ignored: the state does not change and
//!    the observation repeats the current condition with `z = NaN`.
//!
//! # Defaults, and why
//!
//! | parameter | default | why |
//! | --- | --- | --- |
//! | `warmup` | 200 | 64 samples for the median/MAD, then 136 more of running mean: the baseline's RMS error is then 0.08σ and the scale's 7 % (simulated), and both keep shrinking as a running mean until `halflife`/ln 2 samples; small enough not to bias the CUSUM much (see `cusum_h`). |
//! | `z_raise` | 4.0 | P(\|z\| ≥ 4) = 6.3·10⁻⁵ for Gaussian noise: rare, yet a 5σ step exceeds it 84 % of the time. |
//! | `confirm_k` / `confirm_n` | 3 / 5 | three exceedances in five: one or two isolated spikes never fire; Gaussian false alarms ≈ 10·(6.3·10⁻⁵)³ ≈ 3·10⁻¹² per sample; a 5σ step fires in 3–5 samples. `confirm_n` ≤ 8 (the window is one byte). |
//! | `z_clear` | 2.5 | well inside `z_raise` (hysteresis); noise stays within ±2.5σ 98.8 % of the time, so 5 in a row happen quickly (94 %) once the signal is back. |
//! | `clear_samples` | 5 | as long as the confirmation window: the signal must be back for as long as it took to raise. |
//! | `cusum_k` | 0.5 | the textbook choice, optimal for detecting a 1σ shift; drifts faster than ~α·k·σ per sample are caught. |
//! | `cusum_h` | 13.0 | Siegmund's approximation of the one-sided in-control ARL, `ARL = (e^{2kb} − 2kb − 1)/(2k²)` with `b = h + 1.166`, k = 0.5, halved for the two-sided chart, reaches 10⁶ samples at h = 12.65; rounded up to 13 (Siegmund: 1.42·10⁶) because the approximation is slightly optimistic: simulated, h = 12.65 gave 0.94·10⁶ (pure CUSUM, 2·10⁸ samples), h = 13 gave 1.43·10⁶ (4·10⁸ samples) and 1.32·10⁶ for the full detector with estimated baseline/scale (200 streams × 10⁶ samples). The textbook h = 5 gives a two-sided ARL of only ~470 samples: an alarm every 8 hours at one sample a minute. A 0.05σ/sample drift is still caught in ~35–45 samples. |
//! | `cusum_clip` | 4.0 | same as `z_raise`: one spike adds at most 3.5 to a sum, far below `h`; clipping at 4σ barely changes the in-control ARL. |
//! | `halflife` | 1000 | samples (≈ 17 h at one a minute): long enough that the baseline cannot follow a 0.05σ/sample drift (it moves at most `α·2σ` ≈ 0.0014σ per sample), short enough to follow changes over days. Drifts slower than about `α·k` ≈ 3.5·10⁻⁴σ per sample are absorbed as normal. |
//! | `min_scale_rel` / `min_scale_abs` | 1e-9 / 1e-9 | a constant signal must not give a zero scale (z = ±∞); kept tiny so that it never masks real noise (a pressure of 101 325 Pa with 1 Pa of noise is 10⁻⁵ relative). With it, any change of a flat signal is flagged: set `min_scale_abs` to the sensor's resolution where quantisation steps are not anomalies. |
//!
//! Measured with the defaults on Gaussian noise (full detector, each stream
//! from a fresh state, so the warm-up's estimation error is included):
//! 220 raises in 3·10⁸ samples, one per 1.4·10⁶ samples (all by the CUSUM;
//! k-of-n never fired); over 1000 streams of 10⁵ samples, 945 raised
//! nothing, 53 once, 2 twice. Detection over 40 seeds each: a 5σ step within
//! 5 samples, a 0.05σ/sample drift within 40 (by the CUSUM). The
//! `#[ignore]`d test `gaussian_false_alarm_rate` repeats the measurement:
//! `cargo test --release -- --ignored gaussian_false_alarm_rate`.
//!
//! # Limits
//!
//! - No seasonality or daily cycle is modelled: a metric with a strong cycle
//!   is judged against a baseline that lags the cycle, and the cycle itself
//!   may raise. A shorter `halflife` follows a cycle better but absorbs slow
//!   drifts; a cycle is better removed before the detector (e.g. feed it the
//!   residual against the same hour of the previous day).
//! - The noise is assumed roughly independent from sample to sample. Strongly
//!   autocorrelated metrics (slow thermal signals) make the CUSUM fire far
//!   more often than its nominal ARL; such metrics need a larger `cusum_h`
//!   or decimation before the detector.
//! - A level shift that persists keeps the condition active for good,
//!   because learning is frozen while it is active: the new level is never
//!   accepted by itself. After a deliberate change (sensor replaced,
//!   recalibrated), call [`AnomalyState::reset`].
//! - Heavy-tailed noise raises the k-of-n rate (it assumes P(|z| ≥ 4) small).
//! - Drifts slower than the baseline's adaptation (see `halflife`) are not
//!   seen.

use serde::{Deserialize, Serialize};

/// At most this many first samples are buffered for the initial median/MAD.
pub const INIT_SAMPLES: usize = 64;
/// Huber clipping of residuals in the baseline/scale update, in scales.
pub const HUBER_C: f64 = 2.0;
/// E[min(Z², HUBER_C²)] for standard Gaussian Z: corrects the clipped
/// variance estimate so the scale is a consistent σ.
const HUBER_KAPPA: f64 = 0.920_536_925_636_323;
/// MAD → σ for Gaussian data.
const MAD_TO_SIGMA: f64 = 1.482_602_218_505_602;

/// Tunables, with documented defaults (Default impl) and why each (see the
/// module documentation's table).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnomalyParams {
    /// Finite samples observed with `learn = true` before the detector may
    /// fire. Default 200.
    pub warmup: u32,
    /// |z| at or above which a sample counts toward k-of-n. Default 4.0.
    pub z_raise: f64,
    /// k of k-of-n. Default 3.
    pub confirm_k: u8,
    /// n of k-of-n, at most 8. Default 5.
    pub confirm_n: u8,
    /// |z| at or below which a sample counts toward clearing. Default 2.5.
    pub z_clear: f64,
    /// Consecutive samples within `z_clear` needed to clear. Default 5.
    pub clear_samples: u32,
    /// CUSUM reference value k, in scales. Default 0.5.
    pub cusum_k: f64,
    /// CUSUM decision interval h, in scales. Default 13.0: two-sided
    /// in-control ARL ≈ 1.4·10⁶ samples (Siegmund's approximation; 10⁶ needs
    /// h ≥ 12.65), measured 1.3–1.4·10⁶.
    pub cusum_h: f64,
    /// Standardised residuals are clipped to ±this before entering the CUSUM.
    /// Default 4.0.
    pub cusum_clip: f64,
    /// Half-life of the baseline/scale adaptation, in samples. Default 1000.
    pub halflife: f64,
    /// Scale floor, relative part: fraction of |baseline|. Default 1e-9.
    pub min_scale_rel: f64,
    /// Scale floor, absolute part, in the metric's unit. Default 1e-9.
    pub min_scale_abs: f64,
}

impl Default for AnomalyParams {
    fn default() -> Self {
        Self {
            warmup: 200,
            z_raise: 4.0,
            confirm_k: 3,
            confirm_n: 5,
            z_clear: 2.5,
            clear_samples: 5,
            cusum_k: 0.5,
            cusum_h: 13.0,
            cusum_clip: 4.0,
            halflife: 1000.0,
            min_scale_rel: 1e-9,
            min_scale_abs: 1e-9,
        }
    }
}

fn finite_positive(field: &'static str, v: f64) -> Result<(), (&'static str, String)> {
    if !v.is_finite() || v <= 0.0 {
        return Err((field, format!("must be a finite number > 0, got {v}")));
    }
    Ok(())
}

impl AnomalyParams {
    /// `Err((field, reason))` for values that make no sense (k > n, n > 8,
    /// negative, non-finite, clear band not inside the raise band, ...).
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.warmup < 8 {
            return Err((
                "warmup",
                format!("must be at least 8 samples, got {}", self.warmup),
            ));
        }
        finite_positive("z_raise", self.z_raise)?;
        if self.confirm_n == 0 || self.confirm_n > 8 {
            return Err((
                "confirm_n",
                format!("must be between 1 and 8, got {}", self.confirm_n),
            ));
        }
        if self.confirm_k == 0 || self.confirm_k > self.confirm_n {
            return Err((
                "confirm_k",
                format!(
                    "must be between 1 and confirm_n ({}), got {}",
                    self.confirm_n, self.confirm_k
                ),
            ));
        }
        finite_positive("z_clear", self.z_clear)?;
        if self.z_clear >= self.z_raise {
            return Err((
                "z_clear",
                format!(
                    "must be below z_raise ({}), got {}",
                    self.z_raise, self.z_clear
                ),
            ));
        }
        if self.clear_samples == 0 {
            return Err(("clear_samples", "must be at least 1".to_string()));
        }
        if !self.cusum_k.is_finite() || self.cusum_k < 0.0 {
            return Err((
                "cusum_k",
                format!("must be a finite number >= 0, got {}", self.cusum_k),
            ));
        }
        finite_positive("cusum_h", self.cusum_h)?;
        finite_positive("cusum_clip", self.cusum_clip)?;
        if self.cusum_clip <= self.cusum_k {
            return Err((
                "cusum_clip",
                format!(
                    "must be above cusum_k ({}), got {}",
                    self.cusum_k, self.cusum_clip
                ),
            ));
        }
        if !self.halflife.is_finite() || self.halflife < 1.0 {
            return Err((
                "halflife",
                format!("must be a finite number >= 1, got {}", self.halflife),
            ));
        }
        if !self.min_scale_rel.is_finite() || self.min_scale_rel < 0.0 {
            return Err((
                "min_scale_rel",
                format!("must be a finite number >= 0, got {}", self.min_scale_rel),
            ));
        }
        finite_positive("min_scale_abs", self.min_scale_abs)?;
        Ok(())
    }

    /// Per-sample forgetting factor of the baseline once past the running
    /// mean phase.
    fn alpha(&self) -> f64 {
        1.0 - (-std::f64::consts::LN_2 / self.halflife.max(1.0)).exp()
    }
}

/// Why the detector's condition was raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyCause {
    /// k-of-n samples beyond `z_raise` (a spike train or a step).
    Spike,
    /// The upper CUSUM crossed `cusum_h` (slow upward drift or small shift).
    DriftUp,
    /// The lower CUSUM crossed `cusum_h`.
    DriftDown,
}

/// The detector's verdict on one sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// (x − baseline)/scale with the baseline and scale before this sample;
    /// NaN for a non-finite sample or before the initial median/MAD exists.
    pub z: f64,
    /// The detector may not fire yet.
    pub warming_up: bool,
    /// the detector's own condition, with hysteresis: set when k-of-n or
    /// CUSUM fires, reset only when |z| <= z_clear held for clear_samples
    /// (and the CUSUM sums, capped at h meanwhile, are back to h/2 or less)
    pub abnormal: bool,
    /// Why `abnormal` was raised; `None` while it is not set.
    pub cause: Option<AnomalyCause>,
    /// The baseline used for `z` (NaN before it exists).
    pub baseline: f64,
    /// The scale used for `z`, floor applied (NaN before it exists).
    pub scale: f64,
}

/// The persisted state of one (rule, device) detector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyState {
    /// Finite samples observed with `learn = true` (the warm-up count).
    seen: u64,
    /// The first samples, for the initial median/MAD; emptied once used.
    #[serde(with = "exact_f64_vec")]
    init: Vec<f64>,
    /// The initial median/MAD has been computed.
    ready: bool,
    /// Samples the baseline estimate is worth (running-mean phase of α).
    weight: u64,
    #[serde(with = "exact_f64")]
    baseline: f64,
    /// Variance estimate (scale² before the floor).
    #[serde(with = "exact_f64")]
    var: f64,
    /// Bit i set = the sample i steps ago had |z| >= z_raise.
    window: u8,
    #[serde(with = "exact_f64")]
    cusum_pos: f64,
    #[serde(with = "exact_f64")]
    cusum_neg: f64,
    abnormal: bool,
    cause: Option<AnomalyCause>,
    /// Consecutive samples with |z| <= z_clear while abnormal.
    clear_run: u32,
}

impl Default for AnomalyState {
    fn default() -> Self {
        Self::new()
    }
}

impl AnomalyState {
    pub fn new() -> Self {
        Self {
            seen: 0,
            init: Vec::new(),
            ready: false,
            weight: 0,
            baseline: 0.0,
            var: 0.0,
            window: 0,
            cusum_pos: 0.0,
            cusum_neg: 0.0,
            abnormal: false,
            cause: None,
            clear_run: 0,
        }
    }

    /// Forget everything and start a new warm-up (after a deliberate change
    /// of the metric's level: sensor replaced, recalibrated, ...).
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Whether the detector's condition is active.
    pub fn is_abnormal(&self) -> bool {
        self.abnormal
    }

    fn scale(&self, p: &AnomalyParams) -> f64 {
        let floor = p.min_scale_rel.abs() * self.baseline.abs() + p.min_scale_abs.abs();
        let s = self.var.max(0.0).sqrt();
        if s.is_finite() && s > floor {
            s
        } else {
            floor.max(f64::MIN_POSITIVE)
        }
    }

    fn observation(&self, z: f64, warming_up: bool, p: &AnomalyParams) -> Observation {
        let (baseline, scale) = if self.ready {
            (self.baseline, self.scale(p))
        } else {
            (f64::NAN, f64::NAN)
        };
        Observation {
            z,
            warming_up,
            abnormal: self.abnormal,
            cause: self.cause,
            baseline,
            scale,
        }
    }

    fn initialise(&mut self) {
        let mut v = std::mem::take(&mut self.init);
        v.sort_by(f64::total_cmp);
        let median = median_sorted(&v);
        let mut dev: Vec<f64> = v.iter().map(|x| (x - median).abs()).collect();
        dev.sort_by(f64::total_cmp);
        let sigma = MAD_TO_SIGMA * median_sorted(&dev);
        self.baseline = median;
        self.var = sigma * sigma;
        self.weight = v.len() as u64;
        self.ready = true;
    }

    /// Robust EWMA update with the residual clipped at ±HUBER_C·scale.
    fn learn_from(&mut self, value: f64, scale: f64, p: &AnomalyParams) {
        self.weight = self.weight.saturating_add(1);
        let alpha = p.alpha().max(1.0 / self.weight as f64);
        let lim = HUBER_C * scale;
        let e = (value - self.baseline).clamp(-lim, lim);
        self.baseline += alpha * e;
        self.var = (1.0 - alpha) * self.var + alpha * e * e / HUBER_KAPPA;
    }

    /// One sample. `learn = false` (the alarm is active, or the asset is in
    /// maintenance) freezes the baseline; the detector also never learns from
    /// a sample it judges abnormal / while abnormal.
    pub fn observe(&mut self, value: f64, p: &AnomalyParams, learn: bool) -> Observation {
        let warmup = u64::from(p.warmup);
        if !value.is_finite() {
            return self.observation(f64::NAN, self.seen < warmup, p);
        }

        if !self.ready {
            if learn {
                self.init.push(value);
                self.seen = self.seen.saturating_add(1);
                let target = (p.warmup as usize).clamp(1, INIT_SAMPLES);
                if self.init.len() >= target {
                    self.initialise();
                }
            }
            return Observation {
                z: f64::NAN,
                warming_up: true,
                abnormal: false,
                cause: None,
                baseline: f64::NAN,
                scale: f64::NAN,
            };
        }

        let scale = self.scale(p);
        let baseline = self.baseline;
        let z = (value - baseline) / scale;
        if z.is_nan() {
            // Only at the edge of f64's range (∞/∞): ignored like a NaN input.
            return self.observation(f64::NAN, self.seen < warmup, p);
        }
        let outlier = z.abs() >= p.z_raise;

        if self.seen < warmup {
            if learn {
                self.seen = self.seen.saturating_add(1);
                if !outlier {
                    self.learn_from(value, scale, p);
                }
            }
            return Observation {
                z,
                warming_up: true,
                abnormal: false,
                cause: None,
                baseline,
                scale,
            };
        }

        // k-of-n window.
        let n = u32::from(p.confirm_n.clamp(1, 8));
        let mask = ((1u16 << n) - 1) as u8;
        self.window = ((self.window << 1) | u8::from(outlier)) & mask;
        // CUSUM on clipped standardised residuals.
        let clip = p.cusum_clip.abs();
        let zc = z.clamp(-clip, clip);
        self.cusum_pos = (self.cusum_pos + zc - p.cusum_k).max(0.0);
        self.cusum_neg = (self.cusum_neg - zc - p.cusum_k).max(0.0);

        let was_abnormal = self.abnormal;
        if !was_abnormal {
            let cause = if self.window.count_ones() >= u32::from(p.confirm_k.max(1)) {
                Some(AnomalyCause::Spike)
            } else if self.cusum_pos > p.cusum_h {
                Some(AnomalyCause::DriftUp)
            } else if self.cusum_neg > p.cusum_h {
                Some(AnomalyCause::DriftDown)
            } else {
                None
            };
            if cause.is_some() {
                self.abnormal = true;
                self.cause = cause;
                self.clear_run = 0;
            }
        } else if z.abs() <= p.z_clear {
            self.clear_run = self.clear_run.saturating_add(1);
        } else {
            self.clear_run = 0;
        }
        if self.abnormal {
            self.cusum_pos = self.cusum_pos.min(p.cusum_h);
            self.cusum_neg = self.cusum_neg.min(p.cusum_h);
        }
        if was_abnormal
            && self.clear_run >= p.clear_samples.max(1)
            && self.cusum_pos <= p.cusum_h / 2.0
            && self.cusum_neg <= p.cusum_h / 2.0
        {
            self.abnormal = false;
            self.cause = None;
            self.clear_run = 0;
            self.window = 0;
            self.cusum_pos = 0.0;
            self.cusum_neg = 0.0;
        }

        let obs = Observation {
            z,
            warming_up: false,
            abnormal: self.abnormal,
            cause: self.cause,
            baseline,
            scale,
        };
        if learn && !was_abnormal && !self.abnormal && !outlier {
            self.learn_from(value, scale, p);
        }
        obs
    }
}

fn median_sorted(v: &[f64]) -> f64 {
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => 0.5 * (v[n / 2 - 1] + v[n / 2]),
    }
}

/// An f64 written as its exact shortest decimal (`{:e}`) in a string, so a
/// JSON round trip gives the same bits whatever the parser's float precision;
/// a plain JSON number is accepted on input too.
mod exact_f64 {
    use serde::de::{self, Deserializer, Visitor};
    use serde::Serializer;
    use std::fmt;

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{v:e}"))
    }

    pub(super) struct F64Visitor;

    impl Visitor<'_> for F64Visitor {
        type Value = f64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a float, or a string holding one")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
            v.parse::<f64>().map_err(E::custom)
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
            Ok(v as f64)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
            Ok(v as f64)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        d.deserialize_any(F64Visitor)
    }
}

mod exact_f64_vec {
    use serde::de::{Deserializer, SeqAccess, Visitor};
    use serde::ser::{SerializeSeq, Serializer};
    use serde::{Deserialize, Serialize};
    use std::fmt;

    struct Exact(f64);

    impl Serialize for Exact {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            super::exact_f64::serialize(&self.0, s)
        }
    }

    impl<'de> Deserialize<'de> for Exact {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(super::exact_f64::F64Visitor).map(Exact)
        }
    }

    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(v.len()))?;
        for x in v {
            seq.serialize_element(&Exact(*x))?;
        }
        seq.end()
    }

    struct SeqVisitor;

    impl<'de> Visitor<'de> for SeqVisitor {
        type Value = Vec<f64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of floats")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Vec<f64>, A::Error> {
            let mut out = Vec::new();
            while let Some(Exact(x)) = a.next_element()? {
                // The buffer never holds more than INIT_SAMPLES values.
                if out.len() < super::INIT_SAMPLES {
                    out.push(x);
                }
            }
            Ok(out)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        d.deserialize_seq(SeqVisitor)
    }
}
