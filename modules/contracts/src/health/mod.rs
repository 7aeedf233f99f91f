//! The asset-health contract: assets (site / area / asset), alarm rules, alarms in their
//! ISA-18.2 states, and the messages the composition root sends the health module. Plain
//! serde types; the health module (`plantd-health`) owns the data behind them.

mod alarms;
mod assets;
mod rules;

pub use alarms::*;
pub use assets::*;
pub use rules::*;
