//! The work-order contract: orders (`orders.rs`), the messages the work-order module
//! answers (`messages.rs`), work requests from operators (`requests.rs`), the closing-code
//! pick lists (`codes.rs`) and the maintenance figures (`figures.rs`).
//!
//! Orders are opened by hand, approved from a request, from an alarm (`alarm.raised` with
//! `create_work_order`) or from a preventive plan (`maintenance.due`); the module that
//! owns them (`plantd-workorders`) is the only writer.

mod codes;
mod figures;
mod messages;
mod orders;
mod requests;

pub use codes::*;
pub use figures::*;
pub use messages::*;
pub use orders::*;
pub use requests::*;
