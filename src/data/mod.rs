//! Data: turning label and instance maps into network input.

pub mod encode;
