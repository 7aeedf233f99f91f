//! Which series feed which plans' meters: metric → device → plan ids (built by the actor
//! from the plans, read by `samples.rs` for every sample).

use std::collections::HashMap;

use plantd_contracts::DeviceId;

pub(crate) type SeriesIndex = HashMap<String, HashMap<DeviceId, Vec<String>>>;
