//! The shared model: plain data that every stage passes to the next, with
//! no I/O and no import of any other part of the crate (a structure test
//! checks this). Stages depend on the model, never on each other's types.
//!
//! - [`record`]: DNS records, their keys, and the changes the tool plans;
//! - [`event`]: what happened, how bad it is.

pub mod event;
pub mod record;
