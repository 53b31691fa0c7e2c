//! One module per admin resource: what it reads and the JSON it answers with.

pub mod cluster;
pub mod console;
pub mod groups;
pub mod health;
pub mod history;
pub mod messages;
pub mod prometheus;
pub mod reset;
pub mod topics;
