//! Test support shared by the core's tests (and, by path, the module's model test).

pub mod model;
