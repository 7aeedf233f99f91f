//! What a simulated machine measures: vibration RMS with a slow drift, noise and an
//! optional fault, temperature that follows the load, whether it runs, a cycle counter.

use rand::Rng;
use serde_json::{json, Value};

/// A fault that can be injected into a device's signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Bearing wear: vibration climbs steadily.
    Bearing,
    /// Imbalance: vibration jumps and stays high.
    Imbalance,
    /// Cooling failure: temperature climbs.
    Overheat,
}

impl Fault {
    pub fn parse(s: &str) -> Option<Fault> {
        match s {
            "bearing" => Some(Fault::Bearing),
            "imbalance" => Some(Fault::Imbalance),
            "overheat" => Some(Fault::Overheat),
            _ => None,
        }
    }
}

pub struct Machine {
    /// Samples generated so far.
    step: u64,
    cycles: u64,
    base_vibration: f64,
    /// Samples since the fault began.
    fault: Option<(Fault, u64)>,
    temperature: f64,
}

impl Machine {
    pub fn new(seed: usize) -> Machine {
        Machine {
            step: 0,
            cycles: 0,
            base_vibration: 1.8 + (seed % 7) as f64 * 0.15,
            fault: None,
            temperature: 40.0,
        }
    }

    pub fn inject(&mut self, fault: Option<Fault>) {
        self.fault = fault.map(|f| (f, 0));
    }

    /// The next sample, stamped `ts` (epoch milliseconds).
    pub fn sample(&mut self, ts: i64) -> Value {
        let mut rng = rand::thread_rng();
        self.step += 1;
        // Runs for 540 samples, idles for 60, like a machine between batches.
        let running = self.step % 600 < 540;
        if running {
            self.cycles += 1;
        }
        let drift = 0.00005 * self.step as f64 + 0.2 * (self.step as f64 / 900.0).sin();
        let noise: f64 = (0..4).map(|_| rng.gen_range(-0.1..0.1)).sum();
        let mut vibration = if running {
            self.base_vibration + drift + noise
        } else {
            0.2 + noise.abs() * 0.3
        };
        let mut heat = if running { 62.0 } else { 35.0 };
        if let Some((fault, age)) = &mut self.fault {
            *age += 1;
            match fault {
                Fault::Bearing => vibration += 0.01 * *age as f64,
                Fault::Imbalance => vibration += 4.0,
                Fault::Overheat => heat += (0.05 * *age as f64).min(40.0),
            }
        }
        // Temperature follows the load slowly.
        self.temperature += (heat - self.temperature) * 0.02 + rng.gen_range(-0.05..0.05);
        json!({
            "ts": ts,
            "values": {
                "vibration_rms_mm_s": (vibration.max(0.0) * 1000.0).round() / 1000.0,
                "temperature_c": (self.temperature * 100.0).round() / 100.0,
                "running": running,
                "cycles": self.cycles,
            }
        })
    }
}
